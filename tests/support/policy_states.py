"""Planned lab states with Pods, namespaces and NetworkPolicies, for the pure policy tests.

A state is built the way the API server builds it (manifests applied in order through
``apply_objects``), then every Pod is given the address and phase the kubelet would give it,
so selectors, peers and rules see Running Pods with IPs, as the policy agent does.
"""

from __future__ import annotations

from podnet.core.model import RUNNING, LabState
from podnet.core.spec import build_spec
from podnet.k8s.policy.decide import Endpoint, Judge, pod_endpoint
from podnet.k8s.workloads.apply import apply_objects
from podnet.k8s.workloads.manifests import parse_documents
from podnet.lab.initial import initial_state

NODES = [("node-1", "control-plane"), ("node-2", "worker"), ("node-3", "worker")]


def namespace(name: str, **labels: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def pod(name: str, namespace: str = "default", node: str = "node-1", ports: list | None = None, **labels: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels or {"app": name}},
            "spec": {"nodeName": node, "containers": [{"name": "app", "ports": ports or []}]}}


def policy(name: str, spec: dict, namespace: str = "default") -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def counter():
    """A deterministic ``rand`` that never repeats itself (generated names stay unique)."""
    calls = iter(range(10**6))
    return lambda n: next(calls) % n


def state_with(*docs: dict) -> LabState:
    """Apply ``docs`` to a fresh 3-node plan; Pods are Running with 10.244.<node>.<n> addresses."""
    state = initial_state(build_spec(nodes=NODES, pods=[]))
    state, _ = apply_objects(state, parse_documents(list(docs)), rand=counter())
    return running(state)


def running(state: LabState) -> LabState:
    counts: dict[str, int] = {}
    for pod_state in sorted(state.pods.values(), key=lambda p: p.created):
        node = state.nodes[pod_state.node]
        counts[node.name] = counts.get(node.name, 1) + 1
        if not pod_state.ip:
            pod_state.ip = node.pod_cidr.rsplit(".", 1)[0] + f".{counts[node.name]}"
        pod_state.phase = RUNNING
    return state


def apply_more(state: LabState, *docs: dict) -> LabState:
    state, _ = apply_objects(state, parse_documents(list(docs)), rand=counter())
    return running(state)


def allowed(state: LabState, src: str, dst: str, protocol: str = "TCP", port: int | None = 80) -> bool:
    """May Pod ``src`` open a connection to Pod ``dst`` (names), by the policies of ``state``?"""
    return Judge(state).decide(pod_endpoint(state.pods[src]), pod_endpoint(state.pods[dst]), protocol, port).allowed


def allowed_from_ip(state: LabState, ip: str, dst: str, protocol: str = "TCP", port: int | None = 80) -> bool:
    return Judge(state).decide(Endpoint(ip), pod_endpoint(state.pods[dst]), protocol, port).allowed


def allowed_to_ip(state: LabState, src: str, ip: str, protocol: str = "TCP", port: int | None = 80) -> bool:
    return Judge(state).decide(pod_endpoint(state.pods[src]), Endpoint(ip), protocol, port).allowed
