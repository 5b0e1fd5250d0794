"""From a validated spec to the lab's first state: node podCIDRs, INTERNAL-IPs, Pod placement.

Mirrors what happens when nodes register and Pods are created: the node IPAM controller
hands podCIDRs out (``CIDRNotAvailable`` when the cluster CIDR is full), and the scheduler
binds Pods that have no ``spec.nodeName`` to the least loaded node that can take them.
Deviation: the scheduler knows only "least Pods first, in node order", and it runs once
at plan time (later Pods are placed by the controller with the same function).
"""

from __future__ import annotations

from podnet import addressing
from podnet.ipam.range_allocator import CIDR_NOT_AVAILABLE, CidrNotAvailable, RangeAllocator
from podnet.model import LabState, NodeState, PodState, add_event
from ipaddress import IPv4Address, IPv4Network

from podnet.naming import EXTERNAL_NAME, INTERNET_NAME, ROUTER_NAME, UNDERLAY_NAME, netns_name
from podnet.spec import FIRST_NODE_HOST, ClusterSpec


def segments(spec: ClusterSpec) -> list[IPv4Network]:
    """The underlay's L2 segments: one, or (routed) the two halves of the underlay CIDR."""
    if spec.underlay == "routed":
        return list(spec.underlay_cidr.subnets(prefixlen_diff=1))
    return [spec.underlay_cidr]


def node_segment(spec: ClusterSpec, index: int) -> int:
    """Which segment node ``index`` sits on: routed underlays put the first half of the
    nodes on the first segment and the rest on the second."""
    if spec.underlay != "routed":
        return 0
    return 0 if index < (len(spec.nodes) + 1) // 2 else 1


def node_internal_ip(spec: ClusterSpec, index: int) -> str:
    """INTERNAL-IP of node ``index`` (0-based) on its segment of the underlay."""
    segment = node_segment(spec, index)
    first = 0 if segment == 0 else (len(spec.nodes) + 1) // 2
    return str(addressing.nth_host(segments(spec)[segment], FIRST_NODE_HOST + index - first))


def router_ip(spec: ClusterSpec, segment: int) -> IPv4Address:
    """The router's address on a segment (the first host), the nodes' default gateway."""
    return segments(spec)[segment].network_address + 1


def lab_namespaces(spec: ClusterSpec) -> list[str]:
    """Every named netns the lab may create, recorded before any is made."""
    names = [netns_name(spec.name, UNDERLAY_NAME)]
    if spec.underlay == "routed":
        names.append(netns_name(spec.name, ROUTER_NAME))
    names += [netns_name(spec.name, INTERNET_NAME), netns_name(spec.name, EXTERNAL_NAME)]
    names += [netns_name(spec.name, n.name) for n in spec.nodes]
    names += [netns_name(spec.name, p.name) for p in spec.pods]
    return names


def initial_state(spec: ClusterSpec) -> LabState:
    state = LabState(spec=spec, namespaces=lab_namespaces(spec))
    allocator = RangeAllocator(spec.cluster_cidr, spec.node_cidr_mask_size)
    for index, node in enumerate(spec.nodes):
        try:
            # A Docker host has no slice of a cluster range: every host uses 172.17.0.0/16.
            # VPC-native Pods draw from the node subnet, so nodes need no slice either.
            cidr: str | None = None if spec.model == "docker" or spec.cni == "vpc" else str(allocator.allocate(node.name))
        except CidrNotAvailable as exc:
            cidr = None
            reason = str(exc)
        ns = NodeState(
            name=node.name, role=node.role, index=index,
            internal_ip=node_internal_ip(spec, index), pod_cidr=cidr, segment=node_segment(spec, index),
        )
        if spec.model != "docker":
            add_event(ns.events, "Normal", "RegisteredNode", f"Node {node.name} event: Registered Node {node.name} in Controller", "node-controller")
        if cidr is None and spec.model != "docker" and spec.cni != "vpc":
            ns.network_unavailable = CIDR_NOT_AVAILABLE
            add_event(ns.events, "Normal", CIDR_NOT_AVAILABLE, f"Node {node.name} status is now: {CIDR_NOT_AVAILABLE}", "cidrAllocator")
            add_event(ns.events, "Warning", "NodeCIDRAllocationFailed", reason, "cidrAllocator")
        state.nodes[node.name] = ns
    for pod in spec.pods:
        state.pods[pod.name] = PodState(name=pod.name, node=pod.node)
    schedule(state)
    return state


def schedule(state: LabState) -> None:
    """Bind unbound Pods to the node with the fewest Pods among those that have a podCIDR."""
    load = {name: 0 for name in state.nodes}
    for pod in state.pods.values():
        if pod.node is not None:
            load[pod.node] += 1
    candidates = [n for n in state.nodes.values() if n.pod_cidr is not None]
    for pod in state.pods.values():
        if pod.node is not None:
            continue
        fitting = [n for n in candidates if load[n.name] < state.spec.max_pods]
        if not fitting:
            add_event(
                pod.events, "Warning", "FailedScheduling",
                f"0/{len(state.nodes)} nodes are available: no node has a podCIDR and room for another Pod",
                "default-scheduler",
            )
            continue
        target = min(fitting, key=lambda n: (load[n.name], n.index))
        pod.node = target.name
        load[target.name] += 1
        add_event(pod.events, "Normal", "Scheduled", f"Successfully assigned {pod.namespace}/{pod.name} to {target.name}", "default-scheduler")
