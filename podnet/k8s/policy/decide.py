"""Would a NetworkPolicy let this packet through? The truth a real agent's rules implement.

Mirrors the decision every policy agent makes for a new connection, and that Kubernetes'
network-policy e2e tests write down as the expected side of their truth tables: traffic
between a Pod and its own node always passes; otherwise the source Pod's egress and the
destination Pod's ingress are judged separately and both must allow it; a Pod no policy
selects for a direction is open for it; policies add up (any rule of any selecting policy
allowing it is enough). Services are judged after DNAT: the destination is the backend Pod.
Used for the matrix's expectations and to name, in ``trace``, the policy that allowed a
packet or the Pod whose policies dropped it. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from podnet.core.model import LabState, PodState
from podnet.k8s.policy.policies import (
    EGRESS, INGRESS, Peer, Policy, Rule, in_ip_block, isolating, peer_pods, policies, resolve_port,
)


@dataclass(frozen=True)
class Endpoint:
    """One end of a connection as the other end's node sees it."""

    ip: str
    pod: PodState | None = None  # the Pod it is, if it is one
    node: str | None = None  # the node it is, if it is a node's own address


@dataclass
class Side:
    direction: str
    isolated_by: list[str] = field(default_factory=list)  # policies selecting the Pod for this direction
    allowed_by: list[str] = field(default_factory=list)  # those of them with a matching rule

    @property
    def allows(self) -> bool:
        return not self.isolated_by or bool(self.allowed_by)


@dataclass
class Decision:
    allowed: bool
    reason: str
    egress: Side | None = None
    ingress: Side | None = None

    def to_json(self) -> dict:
        sides = {s.direction.lower(): {"isolatedBy": s.isolated_by, "allowedBy": s.allowed_by, "allows": s.allows}
                 for s in (self.egress, self.ingress) if s is not None}
        return {"allowed": self.allowed, "reason": self.reason, **sides}


class Judge:
    """Decisions over one state, with what every decision shares worked out once: which
    policies isolate each Pod, and which Pods each selector peer stands for."""

    def __init__(self, state: LabState, all_policies: list[Policy] | None = None):
        self.state = state
        self.policies = policies(state) if all_policies is None else all_policies
        self._isolating: dict[tuple[str, str], list[Policy]] = {}
        self._peers: dict[tuple[str, Peer], frozenset[str]] = {}

    def decide(self, src: Endpoint, dst: Endpoint, protocol: str, port: int | None) -> Decision:
        if dst.pod is not None and src.node is not None and src.node == dst.pod.node:
            return Decision(True, f"from {dst.pod.name}'s own node: always allowed")
        if src.pod is not None and dst.node is not None and dst.node == src.pod.node:
            return Decision(True, f"to {src.pod.name}'s own node: always allowed")
        egress = self._side(EGRESS, src.pod, dst, protocol, port, dst.pod) if src.pod else None
        ingress = self._side(INGRESS, dst.pod, src, protocol, port, dst.pod) if dst.pod else None
        allowed = all(s.allows for s in (egress, ingress) if s is not None)
        return Decision(allowed, _reason(egress, ingress, src, dst), egress, ingress)

    def isolating(self, pod: PodState, direction: str) -> list[Policy]:
        key = (pod.name, direction)
        if key not in self._isolating:
            self._isolating[key] = isolating(self.policies, pod, direction)
        return self._isolating[key]

    def _side(self, direction: str, pod: PodState, peer: Endpoint, protocol: str, port: int | None,
              target: PodState | None) -> Side:
        side = Side(direction)
        for policy in self.isolating(pod, direction):
            side.isolated_by.append(policy.key)
            if any(self._rule_matches(policy, rule, peer, protocol, port, target) for rule in policy.rules(direction)):
                side.allowed_by.append(policy.key)
        return side

    def _rule_matches(self, policy: Policy, rule: Rule, peer: Endpoint, protocol: str, port: int | None,
                      target: PodState | None) -> bool:
        """``target`` is the destination Pod, whose names the rule's named ports refer to."""
        if rule.ports:
            if protocol.upper() not in ("TCP", "UDP") or port is None:
                return False
            ranges = [resolve_port(p, target) for p in rule.ports if p.protocol == protocol.upper()]
            if not any(r is not None and r[0] <= port <= r[1] for r in ranges):
                return False
        if rule.peers is None:
            return True
        for item in rule.peers:
            if item.is_ip_block:
                if in_ip_block(item, peer.ip):
                    return True
            elif peer.pod is not None and peer.pod.name in self._peer_names(policy, item):
                return True
        return False

    def _peer_names(self, policy: Policy, peer: Peer) -> frozenset[str]:
        key = (policy.key, peer)
        if key not in self._peers:
            self._peers[key] = frozenset(p.name for p in peer_pods(self.state, policy, peer))
        return self._peers[key]


def decide(state: LabState, src: Endpoint, dst: Endpoint, protocol: str, port: int | None) -> Decision:
    return Judge(state).decide(src, dst, protocol, port)


def _reason(egress: Side | None, ingress: Side | None, src: Endpoint, dst: Endpoint) -> str:
    parts = []
    for side, who in ((egress, src.pod), (ingress, dst.pod)):
        if side is None or who is None:
            continue
        name = f"{who.namespace}/{who.name}"
        if not side.isolated_by:
            parts.append(f"{side.direction.lower()} of {name}: not isolated (no policy selects it)")
        elif side.allowed_by:
            parts.append(f"{side.direction.lower()} of {name}: allowed by {', '.join(side.allowed_by)}")
        else:
            parts.append(f"{side.direction.lower()} of {name}: denied (selected by {', '.join(side.isolated_by)}, "
                         "no rule allows it)")
    return "; ".join(parts) or "no Pod at either end: not a NetworkPolicy matter"


def pod_endpoint(pod: PodState) -> Endpoint:
    return Endpoint(pod.ip or "", pod=pod)
