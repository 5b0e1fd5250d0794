"""Lab state JSON, events and kubectl-style derived fields (podnet.model)."""

import json

from podnet.core.model import (
    CONTAINER_CREATING,
    NETWORK_UNAVAILABLE_TAINT,
    NOT_READY_TAINT,
    PENDING,
    RUNNING,
    Event,
    LabState,
    NodeState,
    PodState,
    add_event,
)
from podnet.lab.initial import initial_state


def test_lab_state_json_round_trip_with_events(make_spec):
    state = initial_state(make_spec(5, pods=[("p1", None), ("p2", "node-2")], cluster_cidr="10.244.0.0/22"))
    state.status = "running"
    state.owner_pid = 4242
    state.owner_start = "123456"
    state.detached = True
    node = state.nodes["node-1"]
    node.ready = True
    node.cni_config = "/etc/cni/net.d/10-bridge.conflist"
    pod = state.pods["p1"]
    pod.phase = RUNNING
    pod.ip = "10.244.0.2"
    pod.sandbox_id = "a" * 64
    pod.host_veth = "veth12345678"
    pod.started = 1700000000.5
    add_event(pod.events, "Warning", "BackOff", "Back-off restarting", "kubelet")
    add_event(pod.events, "Warning", "BackOff", "Back-off restarting", "kubelet")

    data = json.loads(json.dumps(state.to_json()))  # must be JSON-serialisable
    again = LabState.from_json(data)
    assert again == state
    assert again.to_json() == data
    assert isinstance(again.pods["p1"].events[0], Event)
    assert again.pods["p1"].events[-1].count == 2
    assert again.nodes["node-5"].network_unavailable == "CIDRNotAvailable"
    assert list(again.nodes) == list(state.nodes)


def test_to_json_keys(three_node_state):
    data = three_node_state.to_json()
    assert set(data) == {"spec", "status", "ownerPid", "ownerStart", "detached", "staticArp", "created", "namespaces", "nodes", "pods",
                         "deployments", "services", "external", "kubeNamespaces", "networkPolicies"}
    assert data["nodes"][0]["name"] == "node-1"
    assert data["spec"]["name"] == "podnet"


def test_add_event_dedup_bumps_count():
    events: list[Event] = []
    add_event(events, "Normal", "Pulled", "image pulled", "kubelet")
    first_last = events[0].last
    add_event(events, "Normal", "Pulled", "image pulled", "kubelet")
    add_event(events, "Normal", "Pulled", "image pulled", "kubelet")
    assert len(events) == 1
    assert events[0].count == 3
    assert events[0].last >= first_last
    assert events[0].first <= events[0].last


def test_add_event_distinct_events_are_kept():
    events: list[Event] = []
    add_event(events, "Normal", "Pulled", "image pulled", "kubelet")
    add_event(events, "Normal", "Pulled", "other message", "kubelet")
    add_event(events, "Normal", "Started", "image pulled", "kubelet")
    add_event(events, "Normal", "Pulled", "image pulled", "other-source")
    assert len(events) == 4
    assert all(e.count == 1 for e in events)


def test_pod_ready_text_and_api_phase():
    pod = PodState(name="p", node="n")
    assert pod.phase == PENDING
    assert (pod.ready_text, pod.api_phase) == ("0/1", "Pending")
    pod.phase = CONTAINER_CREATING
    assert (pod.ready_text, pod.api_phase) == ("0/1", "Pending")
    pod.phase = RUNNING
    assert (pod.ready_text, pod.api_phase) == ("1/1", "Running")


def test_node_taints_and_status():
    node = NodeState(name="n", role="worker", index=0, internal_ip="192.168.77.11", pod_cidr="10.244.0.0/24")
    assert node.taints == [NOT_READY_TAINT]
    assert node.status_text == "NotReady"
    node.network_unavailable = "CIDRNotAvailable"
    assert node.taints == [NOT_READY_TAINT, NETWORK_UNAVAILABLE_TAINT]
    node.ready = True
    assert node.taints == [NETWORK_UNAVAILABLE_TAINT]
    node.network_unavailable = None
    assert node.taints == []
    assert node.status_text == "Ready"


def test_taint_strings():
    assert NOT_READY_TAINT == "node.kubernetes.io/not-ready:NoSchedule"
    assert NETWORK_UNAVAILABLE_TAINT == "node.kubernetes.io/network-unavailable:NoSchedule"
