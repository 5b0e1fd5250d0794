"""The contrast: Docker's default bridge network on each machine, the way dockerd sets it up.

Mirrors libnetwork's bridge driver with Docker's defaults on every host: bridge ``docker0``
with 172.17.0.1/16, containers drawing 172.17.0.2, .3, ... from that same range on every
host (so addresses repeat across hosts), egress MASQUERADEd to the host's address
(``POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE``), and published ports as DNAT
in a ``DOCKER`` chain (``docker run -p 8080:80``). Deviations: no dockerd, no images, no
userland proxy and no DOCKER-USER/isolation filter chains. Pure: :mod:`podnet.docker.engine`
wires the hosts and loads these rules inside each host's namespace, never the machine's own.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

from podnet.core.cidr import PodRange
from podnet.core.model import LabState

DOCKER_SUBNET = IPv4Network("172.17.0.0/16")
DOCKER_BRIDGE = "docker0"
CONTAINER_PORT = 80
FIRST_HOST_PORT = 8080


def published_ports(state: LabState) -> None:
    """``docker run -p 8080:80``, ``-p 8081:80``, ...: each container on a host gets the next
    host port, all mapped to port 80 inside."""
    for node in state.nodes.values():
        here = [p for p in state.pods.values() if p.node == node.name]
        for offset, pod in enumerate(here):
            pod.published = [f"{FIRST_HOST_PORT + offset}:{CONTAINER_PORT}/tcp"]


def container_addresses(state: LabState, host: str) -> dict[str, IPv4Address]:
    """libnetwork's default IPAM on one host: the first free addresses of 172.17.0.0/16 after
    the gateway, in container order (every host starts again at .2)."""
    here = [p.name for p in state.pods.values() if p.node == host]
    return dict(zip(here, PodRange(DOCKER_SUBNET).candidates(None)))


def gateway() -> IPv4Address:
    return DOCKER_SUBNET.network_address + 1


def render_rules(state: LabState, host: str) -> str:
    """The nat table dockerd would leave on ``host`` (iptables-save format)."""
    lines = [
        "*nat",
        ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", ":POSTROUTING ACCEPT [0:0]",
        ":DOCKER - [0:0]",
        "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER",
        "-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER",
        f"-A POSTROUTING -s {DOCKER_SUBNET} ! -o {DOCKER_BRIDGE} -j MASQUERADE",
        f"-A DOCKER -i {DOCKER_BRIDGE} -j RETURN",
    ]
    for pod in state.pods.values():
        if pod.node != host or not pod.ip:
            continue
        for mapping in pod.published:
            host_port, _, rest = mapping.partition(":")
            port, _, proto = rest.partition("/")
            lines.append(f"-A DOCKER ! -i {DOCKER_BRIDGE} -p {proto} -m {proto} --dport {host_port} "
                         f"-j DNAT --to-destination {pod.ip}:{port}")
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"
