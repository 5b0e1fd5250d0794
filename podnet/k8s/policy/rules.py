"""The policy agent's iptables rules for one node, rendered as data.

Mirrors kube-router's network-policy controller in iptables mode: every node's filter table
sends forwarded traffic (``-I FORWARD 1``) to ``KUBE-ROUTER-FORWARD``, which lets replies of
accepted connections through (conntrack ESTABLISHED/RELATED) and sends new traffic from a
local Pod isolated for egress, and to a local Pod isolated for ingress, to that Pod's firewall
chain ``KUBE-POD-FW-<hash>``; the Pod chain clears the mark 0x10000, jumps to the chain of
every policy selecting it (``KUBE-NWPLCY-<hash>``, one per policy and direction), returns if a
rule marked the packet and otherwise DROPs it (the rule's counters count what policies
dropped). A rule's peers become source (ingress) or destination (egress) addresses: the Pods
a selector picks, or an ipBlock (``except`` ranges in a chain of their own that returns
before marking); ports become ``-p tcp -m tcp --dport N[:M]``, a named port the destination
Pod's own number. Ingress is enforced on the destination's node, egress on the source's, so
a sender's node needs no rule for a receiver elsewhere. Traffic between a Pod and its own node
never passes FORWARD, which is why it is always allowed. Deviations: no ipsets (one rule per
peer address), no NFLOG; chain hashes are base32 of SHA-256 like kube-router's. Pure.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
from dataclasses import dataclass, field

from podnet.core.model import RUNNING, LabState, PodState
from podnet.k8s.policy.policies import EGRESS, INGRESS, Peer, Policy, PortSpec, Rule, isolating, peer_pods, policies

TOP_CHAIN = "KUBE-ROUTER-FORWARD"
POD_PREFIX = "KUBE-POD-FW-"
POLICY_PREFIX = "KUBE-NWPLCY-"
OWN_PREFIXES = (TOP_CHAIN, POD_PREFIX, POLICY_PREFIX)
MARK = "0x10000/0x10000"
JUMP = f'-m comment --comment "kube-router netpol: the ingress and egress of Pods" -j {TOP_CHAIN}'


def _hash(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:16]


def pod_chain(pod: PodState, direction: str) -> str:
    return POD_PREFIX + _hash(f"{pod.namespace}/{pod.name}/{direction}")


def policy_chain(policy: Policy, direction: str) -> str:
    return POLICY_PREFIX + _hash(f"{policy.key}/{direction}")


def except_chain(policy: Policy, direction: str, rule: int, peer: int) -> str:
    return POLICY_PREFIX + _hash(f"{policy.key}/{direction}/{rule}/{peer}/except")


@dataclass
class NodeRules:
    """The chains the agent owns on one node, in order, each with its rules (``-A`` lines)."""

    chains: dict[str, list[str]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.chains


def render(state: LabState, node: str) -> NodeRules:
    all_policies = policies(state)
    out = NodeRules()
    if not all_policies:
        return out
    local = [p for p in state.pods.values() if p.node == node and p.phase == RUNNING and p.ip]
    top = [f'-A {TOP_CHAIN} -m comment --comment "replies of accepted connections" '
           "-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN"]
    wanted: dict[tuple[str, str], Policy] = {}
    pod_chains: dict[str, list[str]] = {}
    for direction, flag in ((EGRESS, "-s"), (INGRESS, "-d")):
        for pod in local:
            selecting = isolating(all_policies, pod, direction)
            if not selecting:
                continue
            chain = pod_chain(pod, direction)
            what = f"{direction.lower()} of {pod.namespace}/{pod.name}"
            top.append(f'-A {TOP_CHAIN} {flag} {pod.ip}/32 -m comment --comment "{what}" -j {chain}')
            rules = [f"-A {chain} -j MARK --set-xmark 0x0/0x10000"]
            for policy in selecting:
                rules.append(f'-A {chain} -m comment --comment "{policy.key}" -j {policy_chain(policy, direction)}')
                wanted[(policy.key, direction)] = policy
            rules.append(f"-A {chain} -m mark --mark {MARK} -j RETURN")
            rules.append(f'-A {chain} -m comment --comment "no NetworkPolicy allows this {what}" -j DROP')
            pod_chains[chain] = rules
    if len(top) == 1:
        return out  # no local Pod is isolated: nothing to enforce here
    out.chains[TOP_CHAIN] = top
    out.chains.update(pod_chains)
    for (key, direction), policy in sorted(wanted.items()):
        selected = [p for p in local if p.namespace == policy.namespace and policy.selector.matches(p.labels)]
        _render_policy(state, policy, direction, selected, out)
    return out


def _render_policy(state: LabState, policy: Policy, direction: str, selected: list[PodState], out: NodeRules) -> None:
    chain = policy_chain(policy, direction)
    rules: list[str] = []
    for index, rule in enumerate(policy.rules(direction) or ()):
        rules += _render_rule(state, policy, direction, index, rule, selected, out)
    out.chains[chain] = rules


def _render_rule(state: LabState, policy: Policy, direction: str, index: int, rule: Rule, selected: list[PodState],
                 out: NodeRules) -> list[str]:
    chain = policy_chain(policy, direction)
    note = f'-m comment --comment "{policy.key} {direction.lower()} rule {index}"'
    mark = f"-j MARK --set-xmark {MARK}"
    lines = []
    for peer_match, peer_pods_here, peer, peer_index in _peers(state, policy, direction, rule):
        for port_match in _ports(state, rule.ports, direction, selected, peer_pods_here, peer_match):
            if peer_match.startswith("except:"):
                target = except_chain(policy, direction, index, peer_index)
                flag = "-s" if direction == INGRESS else "-d"
                lines.append(f"-A {chain} {flag} {peer.cidr} {port_match} {note} -j {target}".replace("  ", " "))
                out.chains[target] = _except_rules(target, peer, flag)
            else:
                lines.append(f"-A {chain} {peer_match} {port_match} {note} {mark}".replace("  ", " ").replace("  ", " "))
    return lines


def _peers(state: LabState, policy: Policy, direction: str, rule: Rule) -> list[tuple]:
    """(match fragment, the Pods behind it or None, the peer, its index) for a rule's peers."""
    flag = "-s" if direction == INGRESS else "-d"
    if rule.peers is None:
        return [("", None, None, 0)]
    found = []
    for index, peer in enumerate(rule.peers):
        if peer.is_ip_block:
            if not isinstance(peer.cidr, ipaddress.IPv4Network):
                continue  # podnet's lab is IPv4: an IPv6 block matches nothing here
            found.append(("except:" if peer.excepts else f"{flag} {peer.cidr}", None, peer, index))
            continue
        for pod in peer_pods(state, policy, peer):
            found.append((f"{flag} {pod.ip}/32", [pod], peer, index))
    return found


def _except_rules(chain: str, peer: Peer, flag: str) -> list[str]:
    rules = [f"-A {chain} {flag} {e} -j RETURN" for e in peer.excepts if isinstance(e, ipaddress.IPv4Network)]
    return rules + [f"-A {chain} -j MARK --set-xmark {MARK}"]


def _ports(state: LabState, ports: tuple[PortSpec, ...], direction: str, selected: list[PodState],
           peers: list[PodState] | None, peer_match: str) -> list[str]:
    """Port match fragments. A named port is resolved on the destination: the selected Pod
    (ingress: one fragment per selected Pod, with its ``-d``) or the peer (egress: the peer
    Pod's own number; with no peer restriction, every Pod that has the name, with its ``-d``)."""
    if not ports:
        return [""]
    out = []
    for spec in ports:
        proto = spec.protocol.lower()
        if spec.port is None:
            out.append(f"-p {proto}")
        elif isinstance(spec.port, int):
            span = f"{spec.port}:{spec.end_port}" if spec.end_port else str(spec.port)
            out.append(f"-p {proto} -m {proto} --dport {span}")
        elif direction == EGRESS and peers:
            out += [f"-p {proto} -m {proto} --dport {n}" for n in (_named(pods, spec) for pods in peers) if n]
        elif direction == EGRESS and not peer_match:
            every = [p for p in state.pods.values() if p.phase == RUNNING and p.ip]
            out += [f"-d {pod.ip}/32 -p {proto} -m {proto} --dport {n}" for pod in every if (n := _named(pod, spec))]
        elif direction == INGRESS:
            out += [f"-d {pod.ip}/32 -p {proto} -m {proto} --dport {n}" for pod in selected if (n := _named(pod, spec))]
    return out


def _named(pod: PodState, spec: PortSpec) -> int | None:
    for declared in pod.ports:
        if declared.get("name") == spec.port and declared.get("protocol", "TCP") == spec.protocol:
            return int(declared["containerPort"])
    return None


def restore_text(rules: NodeRules, current_chains: set[str], jump_position: int | None) -> str:
    """The ``iptables-restore --noflush`` input that makes the node's filter table agree:
    our chains (re)declared and filled, stale ones of ours deleted, the FORWARD jump first.
    ``jump_position`` is where the jump is now (1-based), or None."""
    stale = sorted(c for c in current_chains if c.startswith(OWN_PREFIXES) and c not in rules.chains)
    lines = ["*filter"] + [f":{c} - [0:0]" for c in list(rules.chains) + stale]
    if jump_position is not None and (rules.empty or jump_position != 1):
        lines.append(f"-D FORWARD {JUMP}")
    if not rules.empty and jump_position != 1:
        lines.append(f"-I FORWARD 1 {JUMP}")
    for chain_rules in rules.chains.values():
        lines += chain_rules
    lines += [f"-X {c}" for c in stale]
    return "\n".join(lines + ["COMMIT"]) + "\n"
