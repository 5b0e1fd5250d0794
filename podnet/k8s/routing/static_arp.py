"""Bridges with fixed MACs, and permanent neighbour entries where a lab needs them.

Mirrors what flannel's VXLAN backend and Mininet's ``--arp`` do with neighbour tables: write
the entries a node or Pod will need instead of letting ARP discover them. Two jobs, after the
kubelets: pin every node bridge's MAC (a bridge without an explicit MAC takes the lowest MAC
of its ports, so each new Pod could change the gateway's MAC under the Pods' ARP caches), and,
when the lab uses static ARP (``--static-arp on``, or the matrix found the kernel's shared
table too small), make every namespace's permanent entries match
:func:`~podnet.k8s.routing.neighbours.desired`. At bring-up stale entries of the lab's ranges
are removed too; later passes only add. Deviation: the MACs come from one netlink dump per
namespace, not from a node annotation.
"""

from __future__ import annotations

from podnet.core.change import CNI, LAB, PODS, Change, Progress
from podnet.core.model import RUNNING
from podnet.core.naming import netns_name
from podnet.core.netobjects import Neighbour
from podnet.k8s.cni.config import BRIDGE_NAME
from podnet.k8s.routing import neighbours
from podnet.kernel import netlink
from podnet.kernel.context import KernelContext


class StaticArp:
    name = "static-arp"
    watches = frozenset({CNI, PODS})

    def __init__(self, bridge: str = BRIDGE_NAME, neighbours: bool = True):
        self.bridge = bridge
        self.neighbours = neighbours  # the Docker model pins docker0's MAC and nothing more

    def sync(self, ctx: KernelContext, change: Change, progress: Progress) -> int:
        """Returns how many permanent entries were written."""
        if change.topics & {LAB, CNI}:
            for node in ctx.state.nodes.values():
                ns = netns_name(ctx.lab, node.name)
                netlink.pin_mac(ctx.sockets(ns), ns, self.bridge)
        if not self.neighbours:
            return 0
        if LAB in change.topics:
            ctx.state.static_arp = ctx.state.spec.static_arp == "on"
        if not ctx.state.static_arp:
            return 0
        return len(sync_neighbours(ctx, only_add=LAB not in change.topics and CNI not in change.topics))


def sync_neighbours(ctx: KernelContext, only_add: bool = False) -> list[tuple[str, Neighbour]]:
    """Make every namespace's permanent neighbour entries match :func:`neighbours.desired`
    (with ``only_add``, leave other entries alone); returns the entries written."""
    state = ctx.state
    names = list(state.nodes) + [p.name for p in state.pods.values() if p.phase == RUNNING]
    links = {name: netlink.links_by_name(ctx.sockets(netns_name(ctx.lab, name))) for name in names}
    macs = {(name, ifname): mac for name, table in links.items() for ifname, (_i, mac) in table.items() if mac}
    ours = [state.spec.cluster_cidr, state.spec.underlay_cidr]
    written = []
    for name, entries in neighbours.desired(state, macs).items():
        ns = netns_name(ctx.lab, name)
        sock = ctx.sockets(ns)
        actual = netlink.permanent_neighbours(sock, links[name])
        stale = set() if only_add else {e for e in actual - entries if any(e.ip in net for net in ours)}
        fresh = sorted(entries - actual)
        if fresh or stale:
            netlink.apply_neighbours(sock, ns, fresh, sorted(stale), links[name])
            written += [(name, e) for e in fresh]
    return written
