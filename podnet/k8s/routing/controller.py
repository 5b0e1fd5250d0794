"""The route controller: every node's routes (and VXLAN tables) made to match the backend's.

Mirrors flannel's per-node agent: for host-gw, the routes of :func:`hostgw.desired_routes`;
for vxlan, the ``flannel.1`` device with its address and MAC, its neighbour and forwarding
entries (:mod:`~podnet.k8s.routing.vxlan`) and the onlink routes through it. Each pass reads
what the node has (only routes stamped with podnet's protocol number count as its own), diffs
(:mod:`~podnet.k8s.routing.diff`) and changes only the difference. On a routing switch the
MTU of every running Pod follows the backend's (flannel would need the Pods restarted; podnet
changes them in place), and host-gw next hops that are not on a connected network are
recorded on the node as ``NextHopNotConnected`` warnings.
Deviations: a pass runs when the lab changes, on ``podnet sync`` and every 10 s of the
interactive CLI, not on a timer of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Interface

from podnet.core.change import CNI, LAB, RESYNC, ROUTING, Change, Progress
from podnet.core.errors import KernelError
from podnet.core.model import RUNNING, add_event
from podnet.core.naming import netns_name
from podnet.core.netobjects import UNDERLAY_IFNAME, pod_mtu
from podnet.k8s.cni.config import BRIDGE_NAME
from podnet.k8s.routing import hostgw, vxlan
from podnet.k8s.routing.diff import RouteDiff, diff_routes
from podnet.kernel import netlink
from podnet.kernel.context import KernelContext


@dataclass
class RoutesReport:
    diffs: dict[str, RouteDiff] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    interfaces_resized: int = 0
    unroutable: list[str] = field(default_factory=list)

    @property
    def added(self) -> int:
        return sum(len(d.add) for d in self.diffs.values())

    @property
    def removed(self) -> int:
        return sum(len(d.delete) for d in self.diffs.values())


class RouteController:
    name = "route-controller"
    watches = frozenset({CNI, ROUTING, RESYNC})

    def sync(self, ctx: KernelContext, change: Change, progress: Progress) -> RoutesReport:
        report = RoutesReport()
        if ROUTING in change.topics:
            report.interfaces_resized = set_pod_mtu(ctx, pod_mtu(ctx.state.spec.routing))
            progress("mtu", 1, 1)
        report.diffs, report.problems = sync_routes(ctx, strict=change.strict)
        if change.topics & {LAB, ROUTING}:
            report.unroutable = note_unroutable(ctx)
        progress("routes", 1, 1)
        return report


def sync_routes(ctx: KernelContext, strict: bool = True) -> tuple[dict[str, RouteDiff], list[str]]:
    """One pass over every node: (diffs applied, problems). With ``strict`` the first problem
    raises (bring-up); otherwise problems are collected and the other nodes still reconciled."""
    diffs: dict[str, RouteDiff] = {}
    problems: list[str] = []
    for node in ctx.state.nodes.values():
        try:
            diffs[node.name] = _sync_node(ctx, node)
        except KernelError as exc:
            if strict:
                raise
            problems.append(str(exc))
    return diffs, problems


def _sync_node(ctx: KernelContext, node) -> RouteDiff:
    ns = netns_name(ctx.lab, node.name)
    sock = ctx.sockets(ns)
    if ctx.state.spec.routing == "vxlan" and node.pod_cidr:
        sync_vtep(ctx, node, ns, sock)
        diff = diff_routes(vxlan.desired_routes(ctx.state, node.name), netlink.owned_routes(sock))
    else:
        diff = diff_routes(hostgw.desired_routes(ctx.state, node.name), netlink.owned_routes(sock))
        # host-gw has no tunnel: removing it takes its routes along (counted in diff.delete;
        # their own deletion below then finds them gone, which is fine).
        netlink.delete_link(sock, ns, vxlan.DEVICE)
    if not diff.empty:
        netlink.apply_routes(sock, ns, diff.add, diff.delete)
    return diff


def sync_vtep(ctx: KernelContext, node, ns: str, sock) -> None:
    """flannel.1 with its address and MAC, then its neighbour and forwarding tables."""
    index = netlink.ensure_vxlan(
        sock, ns, vxlan.DEVICE, vxlan.VNI, vxlan.PORT, node.internal_ip, UNDERLAY_IFNAME,
        vxlan.vtep_mac(node), IPv4Interface(f"{vxlan.vtep_ip(node)}/32"), vxlan.POD_MTU,
    )
    links = netlink.links_by_name(sock)
    want = vxlan.desired_neighbours(ctx.state, node.name)
    have = {n for n in netlink.permanent_neighbours(sock, links) if n.dev == vxlan.DEVICE}
    if want != have:
        netlink.apply_neighbours(sock, ns, sorted(want - have), sorted(have - want), links)
    want_fdb = vxlan.desired_fdb(ctx.state, node.name)
    have_fdb = netlink.fdb_entries(sock, index)
    if want_fdb != have_fdb:
        netlink.apply_fdb(sock, ns, index, sorted(want_fdb - have_fdb), sorted(have_fdb - want_fdb))


def note_unroutable(ctx: KernelContext) -> list[str]:
    """host-gw across segments: record on each node why some podCIDRs have no route."""
    reasons: list[str] = []
    if ctx.state.spec.routing != "host-gw":
        return reasons
    for node in ctx.state.nodes.values():
        for reason in hostgw.unroutable(ctx.state, node.name):
            add_event(node.events, "Warning", "NextHopNotConnected", reason, "route-controller")
            reasons.append(f"{node.name}: {reason}")
    return reasons


def set_pod_mtu(ctx: KernelContext, mtu: int) -> int:
    """Pods' eth0, their host-side veths and the node bridges, all to ``mtu``."""
    changed = 0
    for pod in ctx.state.pods.values():
        if pod.phase != RUNNING or not pod.node:
            continue
        pod_ns, node_ns = netns_name(ctx.lab, pod.name), netns_name(ctx.lab, pod.node)
        changed += netlink.set_mtu(ctx.sockets(pod_ns), pod_ns, "eth0", mtu)
        if pod.host_veth:
            changed += netlink.set_mtu(ctx.sockets(node_ns), node_ns, pod.host_veth, mtu)
    for node in ctx.state.nodes.values():
        ns = netns_name(ctx.lab, node.name)
        changed += netlink.set_mtu(ctx.sockets(ns), ns, BRIDGE_NAME, mtu)
    return changed
