"""What a lab builds once, before any Kubernetes component runs: the machines and the outside.

Mirrors a cluster's infrastructure: the nodes on their underlay (and the router of a routed
underlay), made by :mod:`podnet.kernel.underlay`; the uplink, "the Internet" and an external
client, made by :mod:`podnet.kernel.outside`, with the Internet host's server (dns.google and
example.com) started like a container, by PID. Deviation: this infrastructure never changes
while the lab runs, so it has a ``build`` and no ``sync``.
"""

from __future__ import annotations

from podnet.core.change import Progress
from podnet.core.layout import EXAMPLE_COM, HTTP_PORT, INTERNET_ADDRESSES
from podnet.core.naming import INTERNET_NAME, netns_name
from podnet.k8s.kubelet import containers
from podnet.kernel import outside, underlay
from podnet.kernel.context import KernelContext


class Machines:
    name = "machines"

    def build(self, ctx: KernelContext, progress: Progress) -> None:
        underlay.build(ctx.state, ctx.worker, ctx.sockets, lambda d, t: progress("nodes", d, t))


class Outside:
    name = "outside"

    def build(self, ctx: KernelContext, progress: Progress) -> None:
        outside.build(ctx.state, ctx.worker, ctx.sockets)
        ns = netns_name(ctx.lab, INTERNET_NAME)
        containers.wait_ready([containers.start(ctx.paths.root, ns, INTERNET_NAME, internet_server_args())])


def internet_server_args() -> list[str]:
    """The Internet host serves HTTP and UDP echo as example.com, and DNS as dns.google."""
    args = ["--pod", INTERNET_NAME, "--namespace", "", "--node", "", "--ip", EXAMPLE_COM,
            "--echo", f"{HTTP_PORT}/TCP", "--echo", f"{HTTP_PORT}/UDP", "--dns"]
    for ip, name in INTERNET_ADDRESSES.items():
        args += ["--static", f"{name}={ip}"]
    return args
