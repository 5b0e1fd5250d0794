"""Which NetworkPolicy let a traced packet through, or where the policies dropped it.

Mirrors what one reads off a policy agent to explain a connection (kube-router's chains,
Calico's ``calicoctl`` policy order): the flow is judged as the agent judges it, after DNAT
(:class:`~podnet.k8s.policy.decide.Judge`), and the answer names the policies that allowed
it, or the Pod whose policies isolate it with no rule allowing it, with the chain that holds
the decision on which node. The evidence is the kernel's own: the packets each policy DROP
rule counted while the probe ran.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from podnet.core.addressbook import AddressBook
from podnet.core.naming import netns_name
from podnet.k8s.policy.decide import Decision, Endpoint, Judge
from podnet.k8s.policy.policies import EGRESS, INGRESS, policies
from podnet.k8s.policy.rules import POD_PREFIX, pod_chain, policy_chain
from podnet.kernel import iptables


@dataclass
class PolicyNote:
    allowed: bool
    reason: str
    chains: list[str] = field(default_factory=list)  # "KUBE-POD-FW-... on node-3": where it was decided
    dropped: dict[str, int] = field(default_factory=dict)  # packets the DROP rules counted, by "chain on node"
    decision: dict = field(default_factory=dict)

    def text(self) -> str:
        where = f" (chains: {'; '.join(self.chains)})" if self.chains else ""
        seen = ("; the kernel counted " + ", ".join(f"{v} packet(s) dropped by {k}" for k, v in self.dropped.items())
                if self.dropped else "")
        return f"NetworkPolicy: {'allowed' if self.allowed else 'DENIED'}: {self.reason}{where}{seen}"

    def to_json(self) -> dict:
        return asdict(self)


def drop_counts(lab) -> dict[str, int]:
    """Every node's policy DROP counters, as "chain on node": packets."""
    if not lab.state.policies:
        return {}
    counts = {}
    for node in lab.state.nodes:
        for chain, packets in iptables.drop_counters(netns_name(lab.state.name, node), POD_PREFIX).items():
            counts[f"{chain} on {node}"] = packets
    return counts


def explain(lab, source: str, protocol: str, verdict, before: dict[str, int]) -> PolicyNote | None:
    """The policies' say on the probe ``verdict`` from ``source``; None without policies."""
    state = lab.state
    if not state.policies:
        return None
    book = AddressBook(state)
    last = verdict.path[-1] if verdict.path else None
    dst_ip = last.dst if last else verdict.spec.destination
    port = last.dport if last else verdict.spec.port
    dst = _endpoint(state, book, dst_ip)
    src_pod = state.pods.get(source)
    src = Endpoint(src_pod.ip, pod=src_pod) if src_pod else Endpoint(book.primary_ip(source) or "",
                                                                       node=source if source in state.nodes else None)
    after = drop_counts(lab)
    dropped = {k: v - before.get(k, 0) for k, v in after.items() if v > before.get(k, 0)}
    dropper = _dropping_pod(state, dropped)
    if dropper is not None and dst.pod is None:
        # Sent to a node's or a Service's address and dropped after the DNAT: the decision is
        # the backend's, whose chain counted it (the source as that Pod's node saw it).
        entry = last.name if last else None
        dst = Endpoint(dropper.ip or "", pod=dropper)
        if entry in state.nodes and entry != dropper.node:
            src = Endpoint(state.nodes[entry].internal_ip, node=entry)
        port = _pod_port(dropper, protocol) or port
    decision = Judge(state).decide(src, dst, protocol, port)
    return PolicyNote(decision.allowed, decision.reason, _chains(state, decision, src, dst), dropped, decision.to_json())


def _dropping_pod(state, dropped: dict[str, int]):
    """The Pod whose ingress chain counted a drop while the probe ran, if exactly one did."""
    by_chain = {pod_chain(p, INGRESS): p for p in state.pods.values() if p.ip}
    pods = {by_chain[key.split(" on ")[0]].name: by_chain[key.split(" on ")[0]]
            for key in dropped if key.split(" on ")[0] in by_chain}
    return next(iter(pods.values())) if len(pods) == 1 else None


def _pod_port(pod, protocol: str) -> int | None:
    """The Pod's one declared port of ``protocol`` (what a Service's DNAT sends to), if unique."""
    ports = [int(p["containerPort"]) for p in pod.ports if p.get("protocol", "TCP").lower() == protocol.lower()]
    return ports[0] if len(ports) == 1 else None


def _endpoint(state, book: AddressBook, address: str) -> Endpoint:
    for owner in book.owners(address):
        if owner.kind == "pod" and owner.name in state.pods:
            return Endpoint(address, pod=state.pods[owner.name])
        if owner.kind == "node":
            return Endpoint(address, node=owner.name)
    return Endpoint(address)


def _chains(state, decision: Decision, src: Endpoint, dst: Endpoint) -> list[str]:
    chains = []
    for side, pod in ((decision.egress, src.pod), (decision.ingress, dst.pod)):
        if side is None or pod is None or not side.isolated_by:
            continue
        direction = EGRESS if side is decision.egress else INGRESS
        if side.allowed_by:
            by_key = {p.key: p for p in policies(state)}
            chains += [f"{policy_chain(by_key[k], direction)} ({k}) on {pod.node}" for k in side.allowed_by]
        else:
            chains.append(f"{pod_chain(pod, direction)} ({direction.lower()} of {pod.namespace}/{pod.name}) on {pod.node}")
    return chains

