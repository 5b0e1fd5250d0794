"""The reachability matrix: every ordered pair (or a sample), over UDP and TCP, each source verified.

Mirrors Kubernetes' e2e "Networking Granular Checks" (an endpoint in every Pod answers with
its own name on UDP 8081 and TCP 8083, the netexec ports; from every Pod and from every
node, every endpoint must answer, and the set of names must be complete) together with the
"NoSNAT" check (for every pair, the client address the target saw is the client's own).
Deviation: the endpoints and clients are sockets opened once inside each namespace by two
forked worker processes (:mod:`podnet.probes.matrix_workers`), one per core, each serving
half the endpoints and running the clients of the sources it claims, with epoll: that is what
makes ten thousand pairs a fraction of a second. A big lab's matrix can be a reproducible sample of its pairs
(:mod:`podnet.probes.matrix_plan`). scapy is not used here; single probes
(:mod:`podnet.probes.runner`) give the header-level evidence.
"""

from __future__ import annotations

import gc
import random
import time
from dataclasses import dataclass, field, fields
from ipaddress import IPv4Network
from typing import Callable

from podnet.core.addressbook import AddressBook
from podnet.core.model import RUNNING
from podnet.k8s.policy.decide import Endpoint, Judge, pod_endpoint
from podnet.k8s.routing import neighbours
from podnet.probes import matrix_workers
from podnet.probes.matrix_endpoints import TCP_PORT, UDP_PORT, free_ports
from podnet.probes.matrix_job import CLIENT_PORTS, FAILED, OK, OTHER, Job, Report
from podnet.probes.matrix_plan import Pairs, Sample

Progress = Callable[[str, int, int], None]


@dataclass(slots=True)
class PairResult:
    source: str
    target: str
    proto: str
    answered: bool = False
    answer: str | None = None  # the name the endpoint answered with
    name_ok: bool = False
    seen_source: str | None = None
    source_ok: bool = False
    error: str | None = None
    expected: bool = True  # what the NetworkPolicies in force allow (no policy: every pair)
    why: str = ""  # the policies' reason, when they decide

    @property
    def reached(self) -> bool:
        return self.answered and self.name_ok and self.source_ok and self.error is None

    @property
    def dropped(self) -> bool:
        """No answer at all, and no error other than waiting: what a policy's DROP looks like."""
        return not self.answered and (self.error is None or self.error.startswith("no answer"))

    @property
    def observed(self) -> str:
        """One word for what happened: reached, dropped, nat, other (workload) or error."""
        if self.reached:
            return "reached"
        if self.dropped:
            return "dropped"
        if self.error:
            return "error"
        return "other" if not self.name_ok else "nat"

    @property
    def ok(self) -> bool:
        """The pair behaved as the policies say: reached when allowed, dropped when denied."""
        return self.reached if self.expected else self.dropped


PAIR_FIELDS = tuple(f.name for f in fields(PairResult))


@dataclass
class MatrixResult:
    sources: list[str]
    targets: list[str]
    protocols: tuple[str, ...]
    pairs: dict[tuple[str, str, str], PairResult] = field(default_factory=dict)
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    prefilled_neighbours: int = 0
    policies: list[str] = field(default_factory=list)  # the NetworkPolicies in force, when any
    ports: dict[str, int] = field(default_factory=lambda: {"udp": UDP_PORT, "tcp": TCP_PORT})
    sample: Sample | None = None  # a sample of the pairs, or None: every pair
    pairs_total: int = 0  # the ordered (source, target) pairs there are

    @property
    def denied(self) -> int:
        return sum(1 for p in self.pairs.values() if not p.expected)

    @property
    def failures(self) -> list[PairResult]:
        return [p for p in self.pairs.values() if not p.ok]

    @property
    def ok(self) -> bool:
        return not self.failures and not self.errors and bool(self.pairs)

    def to_json(self) -> dict:
        failures = self.failures
        return {
            "sources": self.sources, "targets": self.targets, "protocols": list(self.protocols),
            "pairs": len(self.pairs), "failed": len(failures), "seconds": round(self.seconds, 4),
            "ok": not failures and not self.errors and bool(self.pairs), "errors": self.errors,
            "prefilledNeighbours": self.prefilled_neighbours,
            "policies": self.policies, "expectedDenied": self.denied, "ports": self.ports,
            "pairs_total": self.pairs_total,
            **(self.sample.to_json() if self.sample else {"sample": None, "seed": None}),
            "failures": [dict({f: getattr(p, f) for f in PAIR_FIELDS}, ok=p.ok) for p in failures],
            "results": [{"source": p.source, "target": p.target, "protocol": p.proto, "expected": p.expected,
                         "observed": p.observed, "ok": p.ok} for p in self.pairs.values()],
        }


def run(lab, protocols: tuple[str, ...] = ("udp", "tcp"), include_nodes: bool = True, timeout: float = 3.0,
        progress: Progress | None = None, sample: Sample | None = None) -> MatrixResult:
    """Every (source, target Pod) pair over ``protocols`` (or ``sample``'s draw of them);
    sources are the Running Pods and, with ``include_nodes``, the nodes (the e2e node-pod
    checks). The cluster's own add-ons (kube-system, e.g. CoreDNS) are left out, as the e2e
    checks use test Pods of their own."""
    book = AddressBook(lab.state)
    targets = [p.name for p in lab.state.pods.values() if p.phase == RUNNING and p.namespace != "kube-system"]
    sources = list(targets) + (list(lab.state.nodes) if include_nodes else [])
    result = MatrixResult(sources, targets, tuple(protocols), sample=sample)
    declared = {int(p["containerPort"]) for name in targets for p in lab.state.pods[name].ports}
    result.ports = dict(zip(("udp", "tcp"), free_ports(declared)))
    plan = Pairs(sources, targets)
    result.pairs_total = plan.total
    src, dst = plan.draw(sample) if sample is not None else plan.every()
    if sample is not None:  # the sources and targets the sample reaches, in the lab's order
        result.sources = [sources[s] for s in sorted(set(src))]
        result.targets = [targets[t] for t in sorted(set(dst))]
    if not len(src):
        return result
    expected, why = _expectations(lab.state, result, sources, targets, src, dst)
    started = time.perf_counter()
    # A full mesh can need more ARP entries than the kernel's one shared table allows
    # (gc_thresh3): the lab switches to permanent entries first (and keeps them, as
    # ``up --static-arp on`` would have; the caller saves the state).
    if neighbours.wanted_for_mesh(lab.state, neighbours.read_gc_thresh3()):
        result.prefilled_neighbours = len(lab.prefill_neighbours())
    job = Job(sources, [book.netns_of(s) for s in sources], [book.netns_of(t) for t in targets],
              [book.primary_ip(t) or "0.0.0.0" for t in targets], [t.encode() for t in targets], src, dst,
              tuple(protocols), result.ports, expected, timeout, matrix_workers.worker_count(),
              random.randrange(CLIENT_PORTS[1] - CLIENT_PORTS[0]))
    stage = "+".join(protocols)
    shared, reports = matrix_workers.run(job, (lambda done, total: progress(stage, done, total)) if progress else None)
    try:
        own = {s: _own_addresses(lab, sources[s]) for s in sorted(set(src))}
        _assemble(result, job, shared, reports, (sources, targets, own, why))
    finally:
        shared.close()
    result.seconds = time.perf_counter() - started
    return result


def _expectations(state, result: MatrixResult, sources, targets, src, dst):
    """Each pair's expected outcome under the NetworkPolicies in force (as the e2e tests'
    truth tables write it down), judged for the matrix's own ports: one byte per pair and
    protocol (1 allowed), and the policies' reasons."""
    expected = {proto: bytearray(b"\x01") * len(src) for proto in result.protocols}
    why: dict[tuple[str, int], str] = {}
    if not state.policies:
        return expected, why
    judge = Judge(state)
    result.policies = sorted(state.policies)
    for k in range(len(src)):
        source, target = sources[src[k]], targets[dst[k]]
        for proto in result.protocols:
            decision = judge.decide(source_endpoint(state, source, target), pod_endpoint(state.pods[target]), proto,
                                    result.ports[proto])
            expected[proto][k] = decision.allowed
            why[(proto, k)] = decision.reason
    return expected, why


def source_endpoint(state, name: str, dst: str) -> Endpoint:
    """A matrix source as the target's node sees it: a Pod by its IP; a node by the address
    its packets to that target carry (INTERNAL-IP, or its VTEP under VXLAN, or, to its own
    Pods, itself)."""
    if name in state.pods:
        return pod_endpoint(state.pods[name])
    node = state.nodes[name]
    if state.spec.routing == "vxlan" and node.pod_cidr and state.pods[dst].node != name:
        return Endpoint(str(IPv4Network(node.pod_cidr).network_address), node=name)
    return Endpoint(node.internal_ip, node=name)


class _Evidence:
    """The workers' reports merged: addresses by number, texts by (protocol, pair), and the
    TCP endpoints' records by (target, client port)."""

    def __init__(self, job: Job, reports: list[Report]):
        self.job = job
        self.addresses: dict[int, str] = {}
        self.errors: dict = {}
        self.answers: dict = {}
        self.ports: dict[int, int] = {}
        self.untried: set[int] = set()
        for report in reports:
            self.addresses.update(report.addresses)
            self.errors.update(report.errors)
            self.answers.update(report.answers)
            self.ports.update(report.tcp_ports)
            self.untried.update(report.untried)
        self.tcp: dict[int, set[str]] = {}
        for report in reports:
            seen = report.tcp_seen
            for i in range(0, len(seen), 3):
                self.tcp.setdefault(seen[i] << 16 | seen[i + 2], set()).add(self.addresses.get(seen[i + 1], "?"))

    def tcp_source(self, k: int, t: int, own: set[str]) -> tuple[str | None, bool]:
        """The address the endpoint saw for TCP pair ``k``, and whether it is the client's own.
        Not seen as it left, a translated source is still recognisable if its port survived."""
        port = self.ports.get(k) or self.job.client_port(k)
        candidates = self.tcp.get(t << 16 | port)
        if not candidates:
            return None, False
        mine = candidates & own
        if mine:
            return next(iter(mine)), True
        return (next(iter(candidates)), False) if len(candidates) == 1 else (None, False)


def _assemble(result: MatrixResult, job: Job, shared, reports: list[Report], names) -> None:
    """A PairResult per pair and protocol, from the shared memory and the reports."""
    sources, targets, own, why = names
    evidence = _Evidence(job, reports)
    for report in reports:
        result.errors.extend(report.problems)
        for t, reason in sorted(report.listen_errors.items()):
            result.errors.append(f"the endpoint of {targets[t]} could not listen: {reason}")
    src, dst, failed, seen, pairs = job.src, job.dst, shared.failed, shared.seen, result.pairs
    columns = [(proto, shared.state[proto], job.expected[proto]) for proto in result.protocols]
    gc_was = gc.isenabled()
    gc.disable()  # a million small objects, none of them garbage
    try:
        for k in range(len(src)):
            s, t = src[k], dst[k]
            source, target, mine = sources[s], targets[t], own[s]
            for proto, state, allowed in columns:
                code = state[k]
                if code == OK and not failed[t]:  # the common case, in one call
                    address, ok = (evidence.addresses.get(seen[k]), None) if proto == "udp" else \
                        evidence.tcp_source(k, t, mine)
                    pair = PairResult(source, target, proto, True, target, True, address,
                                      address in mine if ok is None else ok, None, bool(allowed[k]),
                                      why.get((proto, k), "") if not allowed[k] else "")
                    if address is None:
                        pair.error = "the endpoint answered but did not record the client"
                else:
                    pair = _unusual(PairResult(source, target, proto, expected=bool(allowed[k]),
                                               why=why.get((proto, k), "")), k, code, failed[t], evidence,
                                    seen, mine, job.timeout)
                pairs[(source, target, proto)] = pair
    finally:
        if gc_was:
            gc.enable()


def _unusual(pair: PairResult, k: int, code: int, listen_failed: int, evidence: _Evidence, seen, own: set[str],
             timeout: float) -> PairResult:
    """A pair that was not simply answered by the right endpoint."""
    if listen_failed:
        pair.error = "endpoint could not listen"
    elif code == OTHER:
        pair.answered, pair.answer = True, evidence.answers.get((pair.proto, k))
        if pair.proto == "udp":  # the workload that answered saw this address (TCP: its records are its own)
            pair.seen_source = evidence.addresses.get(seen[k])
            pair.source_ok = pair.seen_source in own
    elif code == FAILED:
        pair.error = evidence.errors.get((pair.proto, k), "the probe failed")
    elif pair.proto == "tcp" and k in evidence.untried:
        pair.error = "not tried before the deadline"
    else:
        pair.error = _silence(pair, timeout)
    return pair


def _silence(pair: PairResult, timeout: float) -> str:
    if not pair.expected:
        return f"no answer (a NetworkPolicy drops it: {pair.why})"
    return f"no answer within {timeout:g}s"


def _own_addresses(lab, name: str) -> set[str]:
    if name in lab.state.pods:
        return {lab.state.pods[name].ip}
    node = lab.state.nodes[name]
    own = {node.internal_ip}
    if node.pod_cidr:
        network = IPv4Network(node.pod_cidr).network_address
        own.add(str(network + 1))  # the bridge gateway, its source towards its own Pods
        if lab.state.spec.routing == "vxlan":
            own.add(str(network))  # flannel.1's VTEP address, its source through the overlay
    return own


__all__ = ["MatrixResult", "PairResult", "Sample", "TCP_PORT", "UDP_PORT", "run"]
