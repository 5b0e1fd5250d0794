"""Native routing between nodes, flannel host-gw style.

Mirrors flannel's ``pkg/backend/hostgw``: for every other node that has a podCIDR, a node
holds the route ``<podCIDR> via <that node's INTERNAL-IP> dev <underlay interface>``.
Like host-gw this needs the nodes to share one L2 segment (the next hop must be on a
connected network). Deviation: no lease watching; the controller computes the whole set
from the lab state and a reconcile pass makes the kernel agree.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

from podnet.core.model import LabState
from podnet.core.netobjects import UNDERLAY_IFNAME, Route


def desired_routes(state: LabState, node_name: str) -> set[Route]:
    """Routes to every other node's podCIDR whose node shares this node's L2 segment."""
    me = state.nodes[node_name]
    routes = set()
    for other in state.nodes.values():
        if other.name == node_name or other.pod_cidr is None or other.segment != me.segment:
            continue
        routes.add(Route(IPv4Network(other.pod_cidr), IPv4Address(other.internal_ip), UNDERLAY_IFNAME))
    return routes


def unroutable(state: LabState, node_name: str) -> list[str]:
    """Why host-gw cannot reach some podCIDRs from this node: their node's INTERNAL-IP is not
    on a connected network, so it cannot be a next hop (flannel host-gw fails the same way)."""
    me = state.nodes[node_name]
    reasons = []
    for other in state.nodes.values():
        if other.name != node_name and other.pod_cidr and other.segment != me.segment:
            reasons.append(
                f"cannot route {other.pod_cidr} via {other.internal_ip} ({other.name}): the next hop is not on a "
                f"connected network of {node_name} (host-gw needs every node on one L2 segment; "
                "an overlay does not: podnet routing vxlan)"
            )
    return reasons
