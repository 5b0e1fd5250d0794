"""Nodes registering with the control plane, and the podCIDR each one is handed.

Mirrors the node lifecycle controller's "Registered Node" event and kube-controller-manager's
range allocator (``--allocate-node-cidrs``): each node gets the next free slice of the
cluster CIDR as ``spec.podCIDR``; a node that finds none gets ``CIDRNotAvailable`` (a Normal
event and the NetworkUnavailable condition) and a ``NodeCIDRAllocationFailed`` warning with
"failed to allocate cidr from cluster cidr". Docker hosts and VPC-native nodes get no slice:
their containers or Pods draw from another range. Deviation: nodes register once, at bring-up,
in spec order. Pure (the arithmetic is :class:`podnet.core.cidr.RangeAllocator`).
"""

from __future__ import annotations

from podnet.core.cidr import CIDR_NOT_AVAILABLE, CidrNotAvailable, RangeAllocator
from podnet.core.layout import node_internal_ip, node_segment
from podnet.core.model import NodeState, add_event
from podnet.core.spec import ClusterSpec


def register_nodes(spec: ClusterSpec) -> dict[str, NodeState]:
    """Every node of the spec as it stands once registered and (where it can be) given a podCIDR."""
    allocator = RangeAllocator(spec.cluster_cidr, spec.node_cidr_mask_size)
    wants_slice = spec.model != "docker" and spec.cni != "vpc"
    nodes: dict[str, NodeState] = {}
    for index, node in enumerate(spec.nodes):
        cidr: str | None = None
        reason = ""
        if wants_slice:
            try:
                cidr = str(allocator.allocate(node.name))
            except CidrNotAvailable as exc:
                reason = str(exc)
        state = NodeState(name=node.name, role=node.role, index=index, internal_ip=node_internal_ip(spec, index),
                          pod_cidr=cidr, segment=node_segment(spec, index))
        if spec.model != "docker":
            add_event(state.events, "Normal", "RegisteredNode",
                      f"Node {node.name} event: Registered Node {node.name} in Controller", "node-controller")
        if wants_slice and cidr is None:
            state.network_unavailable = CIDR_NOT_AVAILABLE
            add_event(state.events, "Normal", CIDR_NOT_AVAILABLE, f"Node {node.name} status is now: {CIDR_NOT_AVAILABLE}",
                      "cidrAllocator")
            add_event(state.events, "Warning", "NodeCIDRAllocationFailed", reason, "cidrAllocator")
        nodes[node.name] = state
    return nodes
