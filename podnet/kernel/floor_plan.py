"""The cluster the benchmark's floors build, as plain data: names, addresses, routes.

Mirrors the network a podnet lab of the same size has (``podnet bench --vs-floor``): one L2
underlay (a bridge in a namespace of its own), one namespace per node with ``eth0`` on the
underlay at the node's INTERNAL-IP, forwarding on, a ``cni0``-like bridge holding the node's
podCIDR gateway (``.1``) and host-gw routes to the other nodes' podCIDRs, and one namespace
per Pod whose ``eth0`` is one end of a veth (the other on the node's bridge), with the Pod's
address and a default route via the gateway. Deviations: Pod addresses are given in order
from ``.2`` (what host-local hands out on a fresh node), and nothing else of a lab is here (no
Internet, external client, kube-proxy rules, CoreDNS or servers): the floor is the part every
way of building the cluster must pay for. Names carry a tag (``pnfloor-<pid>``) so they can
never be another lab's; a floor deletes only the names its own plan lists.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from ipaddress import IPv4Network

FLOOR_PREFIX = "pnfloor"
UNDERLAY_BRIDGE = "br0"
POD_BRIDGE = "cni0"
UNDERLAY_IFNAME = "eth0"


@dataclass(frozen=True)
class FloorNode:
    index: int  # 1-based
    ip: str
    prefix: int
    pod_cidr: str
    gateway: str  # the podCIDR's first address, on the node's bridge

    @property
    def short(self) -> str:
        return f"n{self.index}"


@dataclass(frozen=True)
class FloorPod:
    node: int  # 1-based index of its node
    index: int  # 1-based within the node
    ip: str
    prefix: int
    gateway: str

    @property
    def short(self) -> str:
        return f"p{self.node}-{self.index}"


@dataclass
class FloorPlan:
    tag: str
    nodes: list[FloorNode] = field(default_factory=list)
    pods: list[FloorPod] = field(default_factory=list)

    def netns(self, short: str) -> str:
        return f"{self.tag}-{short}"

    @property
    def underlay_ns(self) -> str:
        return self.netns("ul")

    def namespaces(self) -> list[str]:
        """Every namespace the plan makes, the underlay first."""
        return [self.underlay_ns] + [self.netns(n.short) for n in self.nodes] + [self.netns(p.short) for p in self.pods]

    def routes(self, node: FloorNode) -> list[tuple[str, str]]:
        """host-gw: (podCIDR, via) for every other node."""
        return [(other.pod_cidr, other.ip) for other in self.nodes if other.index != node.index]

    def probe_pair(self) -> tuple[FloorPod, FloorPod] | None:
        """Two Pods on different nodes (the first Pod of the first node and of the last node
        that has Pods), or None when no two nodes have Pods."""
        firsts: dict[int, FloorPod] = {}
        for pod in self.pods:
            firsts.setdefault(pod.node, pod)
        if len(firsts) < 2:
            return None
        ordered = sorted(firsts)
        return firsts[ordered[0]], firsts[ordered[-1]]


def default_tag(kind: str) -> str:
    """``pnfloor-<pid>-<kind>``: unique on the machine while this process lives."""
    return f"{FLOOR_PREFIX}-{os.getpid()}-{kind}"


def make_plan(tag: str, nodes: list[tuple[str, int, str]], pods_per_node: list[int]) -> FloorPlan:
    """A plan from each node's (INTERNAL-IP, underlay prefix length, podCIDR) and its number
    of Pods; Pod addresses follow the gateway in order."""
    plan = FloorPlan(tag)
    for number, ((ip, prefix, cidr), count) in enumerate(zip(nodes, pods_per_node), start=1):
        network = IPv4Network(cidr)
        hosts = network.hosts()
        gateway = str(next(hosts))
        plan.nodes.append(FloorNode(number, ip, prefix, cidr, gateway))
        for index in range(1, count + 1):
            plan.pods.append(FloorPod(number, index, str(next(hosts)), network.prefixlen, gateway))
    return plan


def leftover_namespaces(prefix: str) -> list[str]:
    """Named namespaces starting with ``prefix`` (observed; deleting is the builder's job)."""
    try:
        return sorted(name for name in os.listdir("/run/netns") if name.startswith(prefix))
    except FileNotFoundError:
        return []
