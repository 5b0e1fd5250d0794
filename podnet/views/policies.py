"""What ``get netpol``, ``describe netpol``, ``get ns`` and ``describe ns`` print.

Mirrors kubectl's printers for NetworkPolicies (NAME, POD-SELECTOR, AGE; ``describe`` lists
the pod selector, each ingress and egress rule's ports and peers in kubectl's words —
"<any> (traffic not restricted by source)", "<none> (Selected pods are isolated for ingress
connectivity)" — and the policy types) and for Namespaces (NAME, STATUS, AGE; labels).
Describe adds, as podnet's own, the Pods a policy selects right now. JSON follows the API
objects. Pure.
"""

from __future__ import annotations

from typing import Any

from podnet.core.model import LabState, NamespaceState, NetworkPolicyState
from podnet.core.tables import age, table
from podnet.k8s.workloads import selectors
from podnet.views.cluster import _iso, events_block


def policies_table(policies: list[NetworkPolicyState], all_namespaces: bool) -> str:
    headers = (["NAMESPACE"] if all_namespaces else []) + ["NAME", "POD-SELECTOR", "AGE"]
    rows = [([p.namespace] if all_namespaces else []) + [p.name, selectors.from_json(p.spec.get("podSelector")).text(),
                                                          age(p.created)] for p in policies]
    return table(headers, rows)


def policy_json(state: LabState, policy: NetworkPolicyState) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": policy.name, "namespace": policy.namespace, "creationTimestamp": _iso(policy.created)},
            "spec": policy.spec, "podnet": {"selectedPods": selected_pods(state, policy)}}


def selected_pods(state: LabState, policy: NetworkPolicyState) -> list[str]:
    chosen = selectors.from_json(policy.spec.get("podSelector"))
    return [p.name for p in state.pods.values() if p.namespace == policy.namespace and chosen.matches(p.labels)]


def describe_policy(state: LabState, policy: NetworkPolicyState) -> str:
    chosen = selectors.from_json(policy.spec.get("podSelector"))
    lines = [
        f"Name:         {policy.name}",
        f"Namespace:    {policy.namespace}",
        f"Created on:   {_iso(policy.created)}",
        "Labels:       <none>",
        "Annotations:  <none>",
        "Spec:",
        "  PodSelector:     " + (chosen.text() if not chosen.empty
                                 else "<none> (Allowing the specific traffic to all pods in this namespace)"),
    ]
    types = policy.spec.get("policyTypes") or ["Ingress"]
    for direction, key, peers_key, word in (("Ingress", "ingress", "from", "From"), ("Egress", "egress", "to", "To")):
        if direction not in types:
            lines.append(f"  Not affecting {key} traffic")
            continue
        rules = policy.spec.get(key) or []
        if not rules:
            lines.append(f"  Allowing {key} traffic:")
            lines.append(f"    <none> (Selected pods are isolated for {key} connectivity)")
            continue
        lines.append(f"  Allowing {key} traffic:")
        for index, rule in enumerate(rules):
            if index:
                lines.append("    ----------")
            lines += _ports_lines(rule.get("ports"))
            lines += _peer_lines(rule.get(peers_key), word, "source" if key == "ingress" else "destination")
    lines.append(f"  Policy Types: {', '.join(types)}")
    pods = selected_pods(state, policy)
    lines.append(f"Selected Pods:  {', '.join(pods) or '<none>'}")
    lines += events_block(policy.events)
    return "\n".join(lines)


def _ports_lines(ports: list[dict] | None) -> list[str]:
    if not ports:
        return ["    To Port: <any> (traffic allowed to all ports)"]
    out = []
    for port in ports:
        number = port.get("port", "<any>")
        span = f"{number}-{port['endPort']}" if port.get("endPort") else str(number)
        out.append(f"    To Port: {span}/{port.get('protocol', 'TCP')}")
    return out


def _peer_lines(peers: list[dict] | None, word: str, what: str) -> list[str]:
    if not peers:
        return [f"    {word}: <any> (traffic not restricted by {what})"]
    out = []
    for peer in peers:
        out.append(f"    {word}:")
        if "ipBlock" in peer:
            out.append("      IPBlock:")
            out.append(f"        CIDR: {peer['ipBlock']['cidr']}")
            out.append(f"        Except: {', '.join(peer['ipBlock'].get('except', []))}")
            continue
        if "namespaceSelector" in peer:
            chosen = selectors.from_json(peer["namespaceSelector"])
            out.append(f"      NamespaceSelector: {chosen.text() if not chosen.empty else '<none>'}")
        if "podSelector" in peer:
            chosen = selectors.from_json(peer["podSelector"])
            out.append(f"      PodSelector: {chosen.text() if not chosen.empty else '<none>'}")
    return out


def namespaces_table(namespaces: list[NamespaceState], show_labels: bool = False) -> str:
    headers = ["NAME", "STATUS", "AGE"] + (["LABELS"] if show_labels else [])
    rows = [[n.name, n.phase, age(n.created)] + ([_labels(n.labels)] if show_labels else []) for n in namespaces]
    return table(headers, rows)


def _labels(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "<none>"


def namespace_json(state: LabState, namespace: NamespaceState) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": namespace.name, "labels": dict(namespace.labels),
                         "creationTimestamp": _iso(namespace.created)},
            "status": {"phase": namespace.phase}}


def describe_namespace(state: LabState, namespace: NamespaceState) -> str:
    pods = sum(1 for p in state.pods.values() if p.namespace == namespace.name)
    policies = [p.name for p in state.policies.values() if p.namespace == namespace.name]
    lines = [
        f"Name:         {namespace.name}",
        "Labels:       " + ("\n              ".join(f"{k}={v}" for k, v in sorted(namespace.labels.items())) or "<none>"),
        "Annotations:  <none>",
        f"Status:       {namespace.phase}",
        "",
        "No resource quota.",
        "",
        "No LimitRange resource.",
        "",
        f"Pods:             {pods}",
        f"NetworkPolicies:  {', '.join(policies) or '<none>'}",
    ]
    lines += events_block(namespace.events)
    return "\n".join(lines)
