"""podnet: the Kubernetes network model, emulated with Mininet on one Linux machine."""

from setuptools import find_packages, setup

setup(
    name="podnet",
    version="0.1.0",
    description="A Mininet-based lab for the Kubernetes network model: flat Pod IPs, CNI, no NAT",
    packages=find_packages(include=["podnet", "podnet.*"]),
    package_data={"podnet.web": ["static/*"]},  # the page's HTML, CSS and JavaScript ship in the package
    python_requires=">=3.10",
    install_requires=["pyroute2==0.7.12", "PyYAML>=5.4", "aiohttp>=3.9", "Markdown>=3.4"],
    extras_require={"test": ["pytest>=7", "selenium>=4.20"], "probe": ["scapy==2.6.1"]},
    entry_points={"console_scripts": ["podnet=podnet:run"]},
)
