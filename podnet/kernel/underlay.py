"""The machines of the cluster: node namespaces on an emulated L2 network (or two, routed).

Mirrors a cluster's infrastructure: each node has one NIC (``eth0``) with its INTERNAL-IP
on a shared layer-2 network, and IP forwarding on (every Kubernetes node routes for its
Pods). A routed underlay puts the nodes on two L2 segments (the two halves of the underlay CIDR)
joined by a router, with each node's default route pointing at it, like racks behind a
datacenter router. Deviation: the "switches" are Linux bridges inside their own namespace
(``<lab>-underlay``) and the router is a namespace too, so no lab object lives in the root
namespace; no OVS and no OpenFlow controller.
"""

from __future__ import annotations

from ipaddress import IPv4Interface
from typing import Callable

from podnet.kernel import netlink
from podnet.core import layout
from podnet.core.model import LabState
from podnet.core.naming import ROUTER_NAME, UNDERLAY_NAME, netns_name, underlay_port_name
from podnet.kernel.netns import NetnsWorker
from podnet.core.netobjects import UNDERLAY_IFNAME

UNDERLAY_BRIDGE = "underlay"


def bridge_name(segment: int) -> str:
    return UNDERLAY_BRIDGE if segment == 0 else f"{UNDERLAY_BRIDGE}{segment + 1}"


def build(state: LabState, worker: NetnsWorker, sockets: netlink.Sockets,
          progress: Callable[[int, int], None] | None = None) -> None:
    lab = state.name
    spec = state.spec
    switch_ns = netns_name(lab, UNDERLAY_NAME)
    sockets.adopt(switch_ns, worker.create(switch_ns, netlink.open_and_raise_lo))
    switch = sockets(switch_ns)
    segments = layout.segments(spec)
    bridges = [netlink.ensure_bridge(switch, switch_ns, bridge_name(i), None) for i in range(len(segments))]
    if spec.underlay == "routed":
        _build_router(state, worker, sockets, switch, switch_ns, segments, bridges)
    nodes = list(state.nodes.values())
    for done, node in enumerate(nodes, start=1):
        ns = netns_name(lab, node.name)
        sockets.adopt(ns, worker.create(ns, netlink.open_and_raise_lo))
        sock = sockets(ns)
        port = underlay_port_name(node.index + 1)
        netlink.create_veth(sock, ns, UNDERLAY_IFNAME, port, switch_ns)
        index = netlink.index_of(sock, ns, UNDERLAY_IFNAME)
        prefix = segments[node.segment].prefixlen
        netlink.ensure_address(sock, ns, index, IPv4Interface(f"{node.internal_ip}/{prefix}"))
        netlink.set_up(sock, ns, UNDERLAY_IFNAME)
        netlink.attach_to_bridge(switch, switch_ns, port, bridges[node.segment], hairpin=False)
        netlink.write_sysctl(worker, ns, "net.ipv4.ip_forward", "1")
        if spec.underlay == "routed":
            # Like a machine in a rack: its default gateway is the rack's router.
            netlink.add_default_route(sock, ns, layout.router_ip(spec, node.segment), index)
        if progress:
            progress(done, len(nodes))


def _build_router(state, worker, sockets, switch, switch_ns, segments, bridges) -> None:
    """A router namespace with one leg on every segment (.1 of each), forwarding between them.
    It knows the segments only: no Pod CIDR, as a datacenter router would not."""
    ns = netns_name(state.name, ROUTER_NAME)
    sockets.adopt(ns, worker.create(ns, netlink.open_and_raise_lo))
    sock = sockets(ns)
    for i, segment in enumerate(segments):
        leg, port = f"eth{i}", f"{ROUTER_NAME}-eth{i}"
        netlink.create_veth(sock, ns, leg, port, switch_ns)
        index = netlink.index_of(sock, ns, leg)
        netlink.ensure_address(sock, ns, index, IPv4Interface(f"{layout.router_ip(state.spec, i)}/{segment.prefixlen}"))
        netlink.set_up(sock, ns, leg, index)
        netlink.attach_to_bridge(switch, switch_ns, port, bridges[i], hairpin=False)
    netlink.write_sysctl(worker, ns, "net.ipv4.ip_forward", "1")
