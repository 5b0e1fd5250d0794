"""NetworkPolicies as the policy agent reads them: who is selected, which peers and ports a
rule allows.

Mirrors the semantics of ``networking.k8s.io/v1`` NetworkPolicy as kube-router and Calico
enforce them: a policy selects Pods of its own namespace (``{}``: all of them) and isolates
them for each of its ``policyTypes``; a rule allows traffic when one of its peers and one of
its ports match (no peers: any peer; no ports: any port and protocol); a peer is Pods picked
by ``podSelector`` (the policy's namespace), ``namespaceSelector`` (any Pod of the matching
namespaces), both in one peer (Pods matching the first in namespaces matching the second), or
an ``ipBlock`` (its ``cidr`` less its ``except`` ranges); a named port is the destination
Pod's container port of that name and protocol; ``endPort`` makes a range. Deviation: an
ipBlock also matches Pod addresses (as Calico and kube-router do; the API leaves it to the
implementation). Pure.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from functools import lru_cache

from podnet.core.model import RUNNING, LabState, NetworkPolicyState, PodState
from podnet.k8s.workloads import selectors
from podnet.k8s.workloads.selectors import LabelSelector

INGRESS, EGRESS = "Ingress", "Egress"


@dataclass(frozen=True)
class Peer:
    pods: LabelSelector | None = None
    namespaces: LabelSelector | None = None
    cidr: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    excepts: tuple = ()

    @property
    def is_ip_block(self) -> bool:
        return self.cidr is not None

    def text(self) -> str:
        if self.cidr is not None:
            return f"ipBlock {self.cidr}" + (f" except {', '.join(map(str, self.excepts))}" if self.excepts else "")
        parts = []
        if self.namespaces is not None:
            parts.append(f"namespaces {self.namespaces.text() if not self.namespaces.empty else '<all>'}")
        if self.pods is not None:
            parts.append(f"pods {self.pods.text() if not self.pods.empty else '<all>'}")
        return " and ".join(parts)


@dataclass(frozen=True)
class PortSpec:
    protocol: str
    port: int | str | None = None
    end_port: int | None = None

    def text(self) -> str:
        if self.port is None:
            return f"<any>/{self.protocol}"
        span = f"{self.port}-{self.end_port}" if self.end_port else str(self.port)
        return f"{span}/{self.protocol}"


@dataclass(frozen=True)
class Rule:
    peers: tuple[Peer, ...] | None  # None: any peer
    ports: tuple[PortSpec, ...]  # (): any port and protocol


@dataclass(frozen=True)
class Policy:
    key: str
    namespace: str
    name: str
    selector: LabelSelector
    ingress: tuple[Rule, ...] | None  # None: the policy does not isolate for ingress
    egress: tuple[Rule, ...] | None

    def rules(self, direction: str) -> tuple[Rule, ...] | None:
        return self.ingress if direction == INGRESS else self.egress


def policies(state: LabState) -> list[Policy]:
    """Every policy of the lab, in name order (the order rules are rendered in)."""
    return [_policy(p.key, p.namespace, p.name, _frozen(p)) for p in sorted(state.policies.values(), key=lambda p: p.key)]


def _frozen(policy: NetworkPolicyState) -> str:
    return json.dumps(policy.spec, sort_keys=True)


@lru_cache(maxsize=4096)
def _policy(key: str, namespace: str, name: str, spec_text: str) -> Policy:
    spec = json.loads(spec_text)
    types = spec.get("policyTypes") or [INGRESS]
    return Policy(key, namespace, name, selectors.from_json(spec.get("podSelector")),
                  _rules(spec.get("ingress"), "from") if INGRESS in types else None,
                  _rules(spec.get("egress"), "to") if EGRESS in types else None)


def _rules(raw: list | None, peers_key: str) -> tuple[Rule, ...]:
    rules = []
    for rule in raw or []:
        peers = rule.get(peers_key)
        ports = tuple(PortSpec(p.get("protocol", "TCP"), p.get("port"), p.get("endPort")) for p in rule.get("ports") or ())
        rules.append(Rule(tuple(_peer(p) for p in peers) if peers else None, ports))
    return tuple(rules)


def _peer(raw: dict) -> Peer:
    if "ipBlock" in raw:
        block = raw["ipBlock"]
        return Peer(cidr=ipaddress.ip_network(block["cidr"], strict=False),
                    excepts=tuple(ipaddress.ip_network(e, strict=False) for e in block.get("except") or ()))
    pods = selectors.from_json(raw["podSelector"]) if "podSelector" in raw else None
    namespaces = selectors.from_json(raw["namespaceSelector"]) if "namespaceSelector" in raw else None
    return Peer(pods, namespaces)


def selects(policy: Policy, pod: PodState) -> bool:
    return pod.namespace == policy.namespace and policy.selector.matches(pod.labels)


def isolating(all_policies: list[Policy], pod: PodState, direction: str) -> list[Policy]:
    """The policies that select ``pod`` for ``direction``: none means the Pod is open for it."""
    return [p for p in all_policies if p.rules(direction) is not None and selects(p, pod)]


def peer_pods(state: LabState, policy: Policy, peer: Peer) -> list[PodState]:
    """The Running Pods (with an IP) a selector peer stands for."""
    if peer.is_ip_block:
        return []
    found = []
    for pod in state.pods.values():
        if pod.phase != RUNNING or not pod.ip:
            continue
        if peer.namespaces is None:
            if pod.namespace != policy.namespace:
                continue
        else:
            namespace = state.kube_namespaces.get(pod.namespace)
            if namespace is None or not peer.namespaces.matches(namespace.labels):
                continue
        if peer.pods is not None and not peer.pods.matches(pod.labels):
            continue
        found.append(pod)
    return found


def in_ip_block(peer: Peer, address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if peer.cidr is None or ip.version != peer.cidr.version or ip not in peer.cidr:
        return False
    return not any(ip in e for e in peer.excepts)


def resolve_port(spec: PortSpec, target: PodState | None) -> tuple[int, int] | None:
    """The port range a spec allows on ``target``: a named port looks in the target's
    container ports; None when it names a port the target does not have (or no Pod)."""
    if spec.port is None:
        return (1, 65535)
    if isinstance(spec.port, int):
        return (spec.port, spec.end_port or spec.port)
    if target is None:
        return None
    for declared in target.ports:
        if declared.get("name") == spec.port and declared.get("protocol", "TCP") == spec.protocol:
            number = int(declared["containerPort"])
            return (number, number)
    return None
