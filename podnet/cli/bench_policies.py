"""The NetworkPolicy benchmark: many policies over many Pods in many namespaces, how long the
policy agent takes to converge, and what the matrix costs under them.

Mirrors nothing in Kubernetes; it is shaped like the policy scale tests CNI projects run. The
lab's Pods live in NAMESPACES namespaces (two Deployments each, ``web-N``, and ``api-N`` whose
container has a named port ``metrics`` and so runs a server process); the policies cycle through every kind
the API has: default deny, a same-namespace podSelector with a named port, a
namespaceSelector, namespace and Pod selectors in one peer, an ipBlock with an except,
egress with a DNS rule, an endPort range, matchExpressions, egress to 0.0.0.0/0 except a
node's slice, and a UDP-only rule. Measured: applying them (validation, every node's
``iptables-restore``), a namespace relabel and a Pod replaced (each converging on every
node), and the matrix before and after, whose every pair must behave as the policies say.
"""

from __future__ import annotations

import time
from typing import Any

from podnet.core.model import RUNNING
from podnet.k8s.policy.rules import render
from podnet.k8s.workloads.manifests import parse_documents
from podnet.probes import matrix
from podnet.probes.matrix_endpoints import TCP_PORT, UDP_PORT

NAMESPACES = 10
NETPOL = "networking.k8s.io/v1"
# A named port the policies refer to (not the matrix's own ports: the matrix listens there).
PORTS = [{"name": "metrics", "containerPort": 9090}]
MATRIX_PORTS = [{"protocol": "UDP", "port": UDP_PORT}, {"protocol": "TCP", "port": TCP_PORT}]


def namespace_count(pods: int) -> int:
    return max(1, min(NAMESPACES, pods // 2))


def workloads(pods: int) -> list[dict]:
    """Namespaces ``bench-0``.. (labels ``team`` and ``tier``) each with Deployments web-N and
    api-N, ``pods`` replicas in all (the scheduler spreads them over the nodes)."""
    count = namespace_count(pods)
    docs: list[dict] = []
    for index in range(count):
        share = pods // count + (1 if index < pods % count else 0)
        docs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {
            "name": f"bench-{index}", "labels": {"team": f"t{index}", "tier": "front" if index % 2 == 0 else "back"}}})
        for app, replicas in ((f"web-{index}", (share + 1) // 2), (f"api-{index}", share // 2)):
            if replicas:
                docs.append(_deployment(app, f"bench-{index}", replicas, PORTS if app.startswith("api") else []))
    return docs


def _deployment(name: str, namespace: str, replicas: int, ports: list) -> dict:
    role = name.split("-")[0]
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": role, "deploy": name}},
                     "template": {"metadata": {"labels": {"app": role, "deploy": name}},
                                  "spec": {"containers": [{"name": "echo", "ports": ports}]}}}}


def policies(count: int, namespaces: int, nodes: int) -> list[dict]:
    """``count`` policies, spread over the namespaces, cycling through the kinds."""
    docs = []
    for number in range(count):
        index, kind = number % namespaces, (number // namespaces) % len(_KINDS)
        spec = _KINDS[kind](index, namespaces, nodes)
        docs.append({"apiVersion": NETPOL, "kind": "NetworkPolicy",
                     "metadata": {"name": f"p{number}-{_KINDS[kind].__name__.strip('_').replace('_', '-')}", "namespace": f"bench-{index}"},
                     "spec": spec})
    return docs


def _ns(labels: dict) -> dict:
    return {"namespaceSelector": {"matchLabels": labels}}


def _pods(labels: dict) -> dict:
    return {"podSelector": {"matchLabels": labels}}


def _deny(i, n, nodes):
    return {"podSelector": {}, "policyTypes": ["Ingress"]}


def _same_ns_named(i, n, nodes):
    return {"podSelector": {"matchLabels": {"app": "api"}},
            "ingress": [{"from": [_pods({"app": "web"})], "ports": [{"port": "metrics"},
                                                                    {"protocol": "TCP", "port": TCP_PORT}]}]}


def _from_team(i, n, nodes):
    return {"podSelector": {"matchLabels": {"app": "web"}},
            "ingress": [{"from": [_ns({"team": f"t{(i + 1) % n}"})], "ports": MATRIX_PORTS}]}


def _ns_and_pods(i, n, nodes):
    return {"podSelector": {"matchLabels": {"app": "web"}},
            "ingress": [{"from": [{**_ns({"tier": "back"}), **_pods({"app": "api"})}], "ports": MATRIX_PORTS}]}


def _ip_block(i, n, nodes):
    return {"podSelector": {"matchLabels": {"app": "api"}},
            "ingress": [{"from": [{"ipBlock": {"cidr": f"10.244.{i % nodes}.0/24",
                                               "except": [f"10.244.{i % nodes}.128/25"]}}]}]}


def _egress_dns(i, n, nodes):
    return {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Egress"],
            "egress": [{"to": [_pods({"app": "api"}), _ns({"team": f"t{(i + 2) % n}"})]},
                       {"to": [{**_ns({"kubernetes.io/metadata.name": "kube-system"}), **_pods({"k8s-app": "kube-dns"})}],
                        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]}


def _port_range(i, n, nodes):
    return {"podSelector": {"matchLabels": {"app": "web"}},
            "ingress": [{"from": [{"namespaceSelector": {}, **_pods({"app": "web"})}],
                         "ports": [{"protocol": "TCP", "port": TCP_PORT - 3, "endPort": TCP_PORT + 7}]}]}


def _expressions(i, n, nodes):
    teams = [f"t{(i + 3) % n}", f"t{(i + 4) % n}"]
    return {"podSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["api"]}]},
            "ingress": [{"from": [{"namespaceSelector": {"matchExpressions": [
                {"key": "team", "operator": "In", "values": teams}]}}]}]}


def _egress_except(i, n, nodes):
    return {"podSelector": {"matchLabels": {"app": "api"}}, "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": [f"10.244.{(i + 5) % nodes}.0/24"]}}]}]}


def _udp_only(i, n, nodes):
    return {"podSelector": {"matchLabels": {"app": "web"}},
            "ingress": [{"from": [{**_ns({"tier": "front"}), **_pods({"app": "web"})}],
                         "ports": [{"protocol": "UDP", "port": UDP_PORT}]}]}


_KINDS = (_deny, _same_ns_named, _from_team, _ns_and_pods, _ip_block, _egress_dns, _port_range, _expressions,
          _egress_except, _udp_only)


def _matrix(lab) -> tuple[Any, Any]:
    cold = matrix.run(lab, ("udp", "tcp"), include_nodes=False)
    warm = matrix.run(lab, ("udp", "tcp"), include_nodes=False)
    return cold, warm


def measure_policies(lab, count: int, say) -> dict[str, Any]:
    """Open matrix, ``count`` policies applied, relabel and churn, the matrix under them."""
    state = lab.state
    open_cold, open_warm = _matrix(lab)
    say(f"bench: open matrix {len(open_warm.pairs) // 2} pairs, warm {open_warm.seconds:.3f} s")
    namespaces = len([n for n in state.kube_namespaces if n.startswith("bench-")])
    objects = parse_documents(policies(count, namespaces, len(state.nodes)), "bench")
    started = time.perf_counter()
    lab.apply(objects)
    apply_s = time.perf_counter() - started
    say(f"bench: {count} policies applied and converged on {len(state.nodes)} nodes in {apply_s:.3f} s")
    started = time.perf_counter()
    lab.label("ns", "bench-1", "default", {"team": "t9"}, [], overwrite=True)
    relabel_s = time.perf_counter() - started
    victim = sorted(p.name for p in lab.state.pods.values() if p.namespace == "bench-0" and p.phase == RUNNING)[0]
    started = time.perf_counter()
    lab.delete("pod", [victim], "bench-0")
    churn_s = time.perf_counter() - started
    cold, warm = _matrix(lab)
    say(f"bench: policy matrix warm {warm.seconds:.3f} s, {warm.denied // 2} denied pairs, "
        f"{len(warm.failures)} not as the policies say")
    return {"policies": count, "policy_namespaces": namespaces, "policy_apply_s": apply_s,
            "policy_relabel_s": relabel_s, "policy_churn_s": churn_s,
            "open_matrix_cold_s": open_cold.seconds, "open_matrix_warm_s": open_warm.seconds,
            "policy_matrix_cold_s": cold.seconds, "policy_matrix_warm_s": warm.seconds,
            "policy_matrix_pairs": len(warm.pairs), "policy_matrix_denied": warm.denied,
            "policy_matrix_mismatch": len(cold.failures) + len(warm.failures) + len(open_warm.failures),
            "policy_rules": _rule_count(lab)}


def _rule_count(lab) -> int:
    """Rules the agent holds over all nodes (from the rendering the agent loaded)."""
    return sum(len(rules) for node in lab.state.nodes for rules in render(lab.state, node).chains.values())
