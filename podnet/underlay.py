"""The machines of the cluster: node namespaces on one emulated L2 segment.

Mirrors a cluster's infrastructure: each node has one NIC (``eth0``) with its INTERNAL-IP
on a shared layer-2 network, and IP forwarding on (every Kubernetes node routes for its
Pods). Deviation: the "switch" is a Linux bridge inside its own namespace
(``<lab>-underlay``), so no lab object lives in the root namespace; no OVS and no OpenFlow
controller.
"""

from __future__ import annotations

from ipaddress import IPv4Interface
from typing import Callable

from podnet import netlink
from podnet.model import LabState
from podnet.naming import UNDERLAY_NAME, netns_name, underlay_port_name
from podnet.netns import NetnsWorker
from podnet.routing.hostgw import UNDERLAY_IFNAME

UNDERLAY_BRIDGE = "underlay"


def build(state: LabState, worker: NetnsWorker, sockets: netlink.Sockets,
          progress: Callable[[int, int], None] | None = None) -> None:
    lab = state.name
    switch_ns = netns_name(lab, UNDERLAY_NAME)
    sockets.adopt(switch_ns, worker.create(switch_ns, netlink.open_and_raise_lo))
    switch = sockets(switch_ns)
    bridge_index = netlink.ensure_bridge(switch, switch_ns, UNDERLAY_BRIDGE, None)
    prefix = state.spec.underlay_cidr.prefixlen
    nodes = list(state.nodes.values())
    for done, node in enumerate(nodes, start=1):
        ns = netns_name(lab, node.name)
        sockets.adopt(ns, worker.create(ns, netlink.open_and_raise_lo))
        sock = sockets(ns)
        port = underlay_port_name(node.index + 1)
        netlink.create_veth(sock, ns, UNDERLAY_IFNAME, port, switch_ns)
        index = netlink.index_of(sock, ns, UNDERLAY_IFNAME)
        netlink.ensure_address(sock, ns, index, IPv4Interface(f"{node.internal_ip}/{prefix}"))
        netlink.set_up(sock, ns, UNDERLAY_IFNAME)
        netlink.attach_to_bridge(switch, switch_ns, port, bridge_index, hairpin=False)
        netlink.write_sysctl(worker, ns, "net.ipv4.ip_forward", "1")
        if progress:
            progress(done, len(nodes))
