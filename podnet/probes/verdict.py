"""Judging a probe: from where the packet was seen to a verdict a student can trust.

Mirrors the questions Kubernetes' e2e networking tests ask of every connection ("did the
endpoint answer?", "is the client IP the target saw the client's own?" from the NoSNAT
test) and adds the header-level evidence a capture gives: the source and destination as
they arrived, the TTL, and so how many routers were crossed. Pure: the sightings come from
:mod:`podnet.probes.runner`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

INITIAL_TTL = 64
REACHED = "reached"
UNREACHABLE = "unreachable"
ERROR = "error"


@dataclass(frozen=True)
class ProbeSpec:
    source: str  # node or Pod name
    source_ip: str  # the address the sender's kernel chose
    destination: str  # an IPv4 address
    proto: str  # icmp, udp, tcp
    port: int | None
    sport: int | None
    ip_id: int
    token: str
    timeout: float
    target: str | None = None  # the node or Pod the destination was named as, if it was


@dataclass(frozen=True)
class Sighting:
    """The probe packet as one namespace's interface saw it."""

    netns: str
    name: str  # node or Pod owning the namespace
    kind: str  # node or pod
    iface: str
    direction: str  # in or out
    local: bool  # was the destination one of this namespace's own addresses?
    src: str
    dst: str
    sport: int | None
    dport: int | None
    ttl: int


@dataclass
class Verdict:
    probe: ProbeSpec
    status: str
    receiver: str | None = None
    receiver_iface: str | None = None
    seen_src: str | None = None
    seen_dst: str | None = None
    seen_sport: int | None = None
    seen_dport: int | None = None
    ttl: int | None = None
    hops: int | None = None
    source_nat: bool | None = None
    destination_nat: bool | None = None
    rtt_ms: float | None = None
    reply: str | None = None
    reason: str = ""
    path: list[Sighting] = field(default_factory=list)

    @property
    def wrong_target(self) -> bool:
        """Reached, but not the node or Pod whose address was used (Docker's repeated ranges)."""
        return self.status == REACHED and self.probe.target is not None and self.receiver != self.probe.target

    @property
    def ok(self) -> bool:
        """Reached the intended target with neither address rewritten: the flat network's promise."""
        return self.status == REACHED and not self.source_nat and not self.destination_nat and not self.wrong_target

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        data["wrongTarget"] = self.wrong_target
        return data


def judge(spec: ProbeSpec, sightings: list[Sighting], reply: str | None, rtt_ms: float | None,
          error: str | None = None) -> Verdict:
    if error:
        return Verdict(spec, ERROR, reason=error, path=sightings)
    finals = [s for s in sightings if s.direction == "in" and s.local]
    if not finals:
        reason = f"no namespace of the lab received it within {spec.timeout:g}s"
        if sightings:
            last = sightings[-1]
            reason += f"; last seen in {last.name} ({last.direction} on {last.iface})"
        if reply:
            reason += f"; the sender got {reply}"
        return Verdict(spec, UNREACHABLE, reply=reply, rtt_ms=rtt_ms, reason=reason, path=sightings)
    # A Pod (or container) behind a node wins over the node: DNAT hands packets on.
    final = sorted(finals, key=lambda s: (s.kind != "pod", sightings.index(s)))[0]
    source_nat = final.src != spec.source_ip or (spec.sport is not None and final.sport != spec.sport)
    destination_nat = final.dst != spec.destination or (spec.port is not None and final.dport != spec.port)
    return Verdict(
        spec, REACHED, receiver=final.name, receiver_iface=final.iface,
        seen_src=final.src, seen_dst=final.dst, seen_sport=final.sport, seen_dport=final.dport,
        ttl=final.ttl, hops=INITIAL_TTL - final.ttl, source_nat=source_nat,
        destination_nat=destination_nat, rtt_ms=rtt_ms, reply=reply, path=sightings,
    )


def endpoint(address: str | None, port: int | None) -> str:
    return f"{address}:{port}" if port is not None else str(address)


def summary(verdict: Verdict, describe=lambda address: str(address)) -> str:
    """One line: '10.244.0.2 (pod-1-1 on node-1) -> 10.244.2.3 (pod-3-2 on node-3), TTL 62:
    no NAT, 2 routed hops'."""
    p = verdict.probe
    head = f"{p.proto.upper()} {describe(p.source_ip) if p.source_ip else p.source} -> {describe(p.destination)}"
    if p.port is not None:
        head += f" port {p.port}"
    if verdict.status == ERROR:
        return f"{head}: ERROR, the probe could not run: {verdict.reason}"
    if verdict.status == UNREACHABLE:
        return f"{head}: UNREACHABLE: {verdict.reason}"
    notes = []
    if verdict.wrong_target:
        notes.append(f"NOT {p.target}: from here that address belongs to {verdict.receiver}")
    if verdict.source_nat:
        notes.append(f"source NAT: arrived from {endpoint(verdict.seen_src, verdict.seen_sport if p.sport else None)}")
    if verdict.destination_nat:
        notes.append(f"destination NAT: arrived for {endpoint(verdict.seen_dst, verdict.seen_dport if p.port else None)}")
    if not notes:
        notes.append("no NAT")
    hops = verdict.hops
    notes.append(f"{hops} routed hop{'s' if hops != 1 else ''}" if hops else "bridged, no routed hop")
    rtt = f", rtt {verdict.rtt_ms:.2f} ms" if verdict.rtt_ms is not None else ""
    if verdict.reply and not verdict.reply.startswith("echo reply"):
        rtt += f"; answer: {verdict.reply}"
    return f"{head}: reached {verdict.receiver} on {verdict.receiver_iface}, TTL {verdict.ttl}: {', '.join(notes)}{rtt}"
