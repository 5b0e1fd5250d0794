"""The kernel objects podnet wants to exist, as plain data: routes, neighbours, forwarding entries.

Mirrors the netlink messages a CNI agent exchanges with the kernel (``RTM_NEWROUTE``,
``RTM_NEWNEIGH``, the bridge FDB): the routing backends compute sets of these, the kernel
layer reads and writes them. They live in the core because both sides need them and the
kernel layer may not import a Kubernetes component. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

# Every node's one NIC on the underlay (a cloud VM's eth0).
UNDERLAY_IFNAME = "eth0"
UNDERLAY_MTU = 1500
# What a VXLAN overlay costs each packet: outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14).
VXLAN_OVERHEAD = 50


def pod_mtu(routing: str) -> int:
    """The MTU Pods get: the underlay's, less the overlay's headers under VXLAN (1450)."""
    return UNDERLAY_MTU - VXLAN_OVERHEAD if routing == "vxlan" else UNDERLAY_MTU


@dataclass(frozen=True, order=True)
class Route:
    dst: IPv4Network
    gateway: IPv4Address | None
    dev: str
    onlink: bool = False  # the gateway is reachable on dev without a connected subnet (VXLAN)

    def __str__(self) -> str:
        via = f" via {self.gateway}" if self.gateway else ""
        return f"{self.dst}{via} dev {self.dev}" + (" onlink" if self.onlink else "")


@dataclass(frozen=True, order=True)
class Neighbour:
    """A permanent neighbour (ARP) entry: ``ip neigh replace IP lladdr MAC dev DEV nud permanent``."""

    ip: IPv4Address
    mac: str
    dev: str


@dataclass(frozen=True, order=True)
class FdbEntry:
    """A VXLAN forwarding entry: ``bridge fdb append MAC dev flannel.1 dst REMOTE``."""

    mac: str
    remote: IPv4Address
