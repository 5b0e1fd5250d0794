"""From spec to initial lab state: podCIDRs, INTERNAL-IPs, scheduling (podnet.plan)."""

from podnet.core.cidr import CIDR_NOT_AVAILABLE
from podnet.core.layout import lab_namespaces, node_internal_ip
from podnet.lab.initial import initial_state
from podnet.core.topology import spec_from_sources


def test_default_plan_pod_cidrs_and_internal_ips():
    state = initial_state(spec_from_sources(None, {}))
    assert [n.pod_cidr for n in state.nodes.values()] == ["10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24"]
    assert [n.internal_ip for n in state.nodes.values()] == ["192.168.77.11", "192.168.77.12", "192.168.77.13"]
    assert [n.index for n in state.nodes.values()] == [0, 1, 2]
    assert all(n.network_unavailable is None for n in state.nodes.values())
    assert state.nodes["node-1"].role == "control-plane"
    assert state.pods["pod-2-1"].node == "node-2"


def test_node_internal_ip_uses_underlay(make_spec):
    spec = make_spec(2, underlay_cidr="192.168.80.0/24")
    assert node_internal_ip(spec, 0) == "192.168.80.11"
    assert node_internal_ip(spec, 1) == "192.168.80.12"


def test_registered_node_event(three_node_state):
    events = three_node_state.nodes["node-2"].events
    assert [e.reason for e in events] == ["RegisteredNode"]
    assert events[0].message == "Node node-2 event: Registered Node node-2 in Controller"


def test_full_cluster_cidr_leaves_fifth_node_without_pod_cidr(make_spec):
    state = initial_state(make_spec(5, cluster_cidr="10.244.0.0/22", node_cidr_mask_size=24))
    nodes = state.nodes
    assert [nodes[f"node-{i}"].pod_cidr for i in range(1, 5)] == [
        "10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24", "10.244.3.0/24",
    ]
    node5 = nodes["node-5"]
    assert node5.pod_cidr is None
    assert node5.network_unavailable == CIDR_NOT_AVAILABLE == "CIDRNotAvailable"
    assert nodes["node-4"].network_unavailable is None
    messages = [e.message for e in node5.events]
    assert "Node node-5 status is now: CIDRNotAvailable" in messages
    warnings = [e for e in node5.events if e.type == "Warning"]
    assert [w.reason for w in warnings] == ["NodeCIDRAllocationFailed"]
    assert "failed to allocate cidr from cluster cidr 10.244.0.0/22" in warnings[0].message
    assert "node.kubernetes.io/network-unavailable:NoSchedule" in node5.taints


def test_unbound_pods_go_to_least_loaded_nodes_with_pod_cidr(make_spec):
    pods = [("pinned-1", "node-1"), ("pinned-2", "node-1"), ("a", None), ("b", None), ("c", None), ("d", None)]
    state = initial_state(make_spec(3, pods=pods, cluster_cidr="10.244.0.0/23", node_cidr_mask_size=24))
    # node-3 has no podCIDR: never a target.
    assert state.nodes["node-3"].pod_cidr is None
    placed = {name: state.pods[name].node for name in "abcd"}
    assert placed == {"a": "node-2", "b": "node-2", "c": "node-1", "d": "node-2"}
    assert state.pods["pinned-1"].node == "node-1"
    scheduled = state.pods["a"].events
    assert scheduled[0].reason == "Scheduled"
    assert scheduled[0].message == "Successfully assigned default/a to node-2"
    assert state.pods["pinned-1"].events == []


def test_ties_broken_by_node_order(make_spec):
    state = initial_state(make_spec(3, pods=[("a", None), ("b", None), ("c", None)]))
    assert [state.pods[p].node for p in "abc"] == ["node-1", "node-2", "node-3"]


def test_unschedulable_when_max_pods_reached(make_spec):
    state = initial_state(make_spec(1, pods=[("a", None), ("b", None)], max_pods=1))
    assert state.pods["a"].node == "node-1"
    assert state.pods["b"].node is None
    event = state.pods["b"].events[0]
    assert (event.type, event.reason) == ("Warning", "FailedScheduling")
    assert event.message.startswith("0/1 nodes are available")


def test_lab_namespaces(make_spec):
    spec = make_spec(2, pods=[("p1", "node-1"), ("p2", None)], name="demo")
    expected = ["demo-underlay", "demo-internet", "demo-external", "demo-node-1", "demo-node-2", "demo-p1", "demo-p2"]
    assert lab_namespaces(spec) == expected
    state = initial_state(spec)
    assert state.namespaces == expected
    assert state.name == "demo"
    assert state.status == "starting"
