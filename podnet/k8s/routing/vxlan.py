"""The overlay between nodes, flannel vxlan style: Pod packets inside UDP between nodes.

Mirrors flannel's ``pkg/backend/vxlan`` with its Linux defaults: one VXLAN device per node
(``flannel.1``, VNI 1, UDP port 8472, learning off), holding the address of its node's
podCIDR network (10.244.1.0/32) and a fixed MAC; for every other node a route
``<podCIDR> via <its VTEP address> dev flannel.1 onlink``, a permanent neighbour entry
(VTEP address -> VTEP MAC) and a forwarding entry (VTEP MAC -> the node's INTERNAL-IP).
Pods get MTU 1450: 1500 minus the 50 bytes of outer IP, UDP and VXLAN headers.
Deviations: no flanneld, no lease watch and no etcd; the controller derives the VTEP MAC
from the podCIDR (flannel stores a random one in a node annotation), and computes the three
tables from the lab state. Pure: the kernel side is in :mod:`podnet.netlink`.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

from podnet.core.model import LabState, NodeState
from podnet.core.netobjects import FdbEntry, Neighbour, Route, pod_mtu

DEVICE = "flannel.1"
VNI = 1
PORT = 8472
POD_MTU = pod_mtu("vxlan")


def vtep_ip(node: NodeState) -> IPv4Address:
    return IPv4Network(node.pod_cidr).network_address  # type: ignore[arg-type]


def vtep_mac(node: NodeState) -> str:
    """A locally administered unicast MAC spelling the VTEP address: 02:58:0a:f4:01:00."""
    octets = vtep_ip(node).packed
    return "02:58:" + ":".join(f"{b:02x}" for b in octets)


def remote_nodes(state: LabState, node_name: str) -> list[NodeState]:
    return [n for n in state.nodes.values() if n.name != node_name and n.pod_cidr]


def desired_routes(state: LabState, node_name: str) -> set[Route]:
    return {Route(IPv4Network(n.pod_cidr), vtep_ip(n), DEVICE, onlink=True) for n in remote_nodes(state, node_name)}


def desired_neighbours(state: LabState, node_name: str) -> set[Neighbour]:
    return {Neighbour(vtep_ip(n), vtep_mac(n), DEVICE) for n in remote_nodes(state, node_name)}


def desired_fdb(state: LabState, node_name: str) -> set[FdbEntry]:
    return {FdbEntry(vtep_mac(n), IPv4Address(n.internal_ip)) for n in remote_nodes(state, node_name)}
