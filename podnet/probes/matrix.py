"""The reachability matrix: every ordered pair, over UDP and TCP, each source verified.

Mirrors Kubernetes' e2e "Networking Granular Checks" (an endpoint in every Pod answers with
its own name on UDP 8081 and TCP 8083, the netexec ports; from every Pod and from every
node, every endpoint must answer, and the set of names must be complete) together with the
"NoSNAT" check (for every pair, the client address the target saw is the client's own).
Deviation: the endpoints and clients are sockets opened once inside each namespace by
podnet's namespace worker instead of a netexec container per Pod, and two processes drive
them with epoll (the endpoints in a forked child, the clients in podnet itself), one per
core: that is what makes ten thousand pairs a second-scale job. scapy is not used here;
single probes (:mod:`podnet.probes.runner`) give the header-level evidence.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from ipaddress import IPv4Network
from typing import Callable

from podnet.core.addressbook import AddressBook
from podnet.core.errors import KernelError
from podnet.core.model import RUNNING
from podnet.k8s.policy.decide import Endpoint, Judge, pod_endpoint
from podnet.k8s.routing import neighbours
from podnet.probes.matrix_clients import tcp_clients, udp_clients
from podnet.probes.matrix_endpoints import TCP_PORT, UDP_PORT, EndpointProcess, free_ports, listen

Progress = Callable[[str, int, int], None]


@dataclass
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
        return {
            "sources": self.sources, "targets": self.targets, "protocols": list(self.protocols),
            "pairs": len(self.pairs), "failed": len(self.failures), "seconds": round(self.seconds, 4),
            "ok": self.ok, "errors": self.errors, "prefilledNeighbours": self.prefilled_neighbours,
            "policies": self.policies, "expectedDenied": self.denied, "ports": self.ports,
            "failures": [dict(vars(p), ok=p.ok) for p in self.failures],
            "results": [{"source": p.source, "target": p.target, "protocol": p.proto, "expected": p.expected,
                         "observed": p.observed, "ok": p.ok} for p in self.pairs.values()],
        }


def run(lab, protocols: tuple[str, ...] = ("udp", "tcp"), include_nodes: bool = True, timeout: float = 3.0,
        progress: Progress | None = None) -> MatrixResult:
    """Every (source, target Pod) pair over ``protocols``; sources are the Running Pods and,
    with ``include_nodes``, the nodes (the e2e node-pod checks). The cluster's own add-ons
    (kube-system, e.g. CoreDNS) are left out, as the e2e checks use test Pods of their own."""
    book = AddressBook(lab.state)
    targets = [p.name for p in lab.state.pods.values() if p.phase == RUNNING and p.namespace != "kube-system"]
    sources = list(targets) + (list(lab.state.nodes) if include_nodes else [])
    result = MatrixResult(sources, targets, tuple(protocols))
    declared = {int(p["containerPort"]) for name in targets for p in lab.state.pods[name].ports}
    result.ports = dict(zip(("udp", "tcp"), free_ports(declared)))
    for src in sources:
        for dst in targets:
            if src != dst:
                for proto in protocols:
                    result.pairs[(src, dst, proto)] = PairResult(src, dst, proto)
    if not result.pairs:
        return result
    expect(lab.state, result)
    started = time.perf_counter()
    # A full mesh can need more ARP entries than the kernel's one shared table allows
    # (gc_thresh3): the lab switches to permanent entries first (and keeps them, as
    # ``up --static-arp on`` would have; the caller saves the state).
    if neighbours.wanted_for_mesh(lab.state, neighbours.read_gc_thresh3()):
        result.prefilled_neighbours = len(lab.prefill_neighbours())
    _run_pairs(lab, book, result, sources, targets, protocols, timeout, progress)
    result.seconds = time.perf_counter() - started
    return result


def expect(state, result: MatrixResult) -> None:
    """Each pair's expected outcome under the NetworkPolicies in force (as the e2e tests'
    truth tables write it down), judged for the matrix's own ports."""
    if not state.policies:
        return
    judge = Judge(state)
    result.policies = sorted(state.policies)
    for (src, dst, proto), pair in result.pairs.items():
        decision = judge.decide(source_endpoint(state, src, dst), pod_endpoint(state.pods[dst]), proto,
                                result.ports[proto])
        pair.expected, pair.why = decision.allowed, decision.reason


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


def _run_pairs(lab, book, result, sources, targets, protocols, timeout, progress) -> None:
    listeners: dict[str, tuple[socket.socket, socket.socket]] = {}
    for dst in targets:
        try:
            listeners[dst] = lab.worker.run_in(book.netns_of(dst), lambda: listen(result.ports["udp"], result.ports["tcp"]))
        except (OSError, KernelError) as exc:
            result.errors.append(f"the endpoint of {dst} could not listen: {getattr(exc, 'strerror', None) or exc}")
            for key, pair in result.pairs.items():
                if key[1] == dst:
                    pair.error = "endpoint could not listen"
    ips = {t: book.primary_ip(t) for t in targets}
    server = EndpointProcess(listeners)
    try:
        if "udp" in protocols:
            udp_clients(lab, book, result, ips, timeout, progress)
        tcp_ports: dict[tuple[str, str, str], tuple[str, int]] = {}
        if "tcp" in protocols:
            tcp_ports = tcp_clients(lab, book, result, ips, timeout, progress)
        seen = server.finish(timeout)
    finally:
        server.kill()
    own = {s: _own_addresses(lab, s) for s in sources}
    tcp_seen: set[tuple[str, str]] = set()  # (client address:port, target)
    by_port: dict[tuple[str, str], list[str]] = {}  # (port, target) -> addresses seen
    for (client, dst, proto), peer in seen.items():
        if proto == "tcp":
            tcp_seen.add((client, dst))
            by_port.setdefault((client.rpartition(":")[2], dst), []).append(peer)
            continue
        pair = result.pairs.get((client, dst, proto))
        if pair is not None:
            pair.seen_source = peer
            pair.source_ok = peer in own[client]
    for key, (address, port) in tcp_ports.items():
        pair = result.pairs[key]
        if (f"{address}:{port}", key[1]) in tcp_seen:
            pair.seen_source, pair.source_ok = address, address in own[key[0]]
            continue
        # Not seen as it left: a translated source, recognisable if its port survived.
        candidates = by_port.get((str(port), key[1]), [])
        if len(candidates) == 1:
            pair.seen_source, pair.source_ok = candidates[0], False
    for pair in result.pairs.values():
        if pair.answered and pair.name_ok and pair.seen_source is None and pair.error is None:
            pair.error = "the endpoint answered but did not record the client"


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


__all__ = ["MatrixResult", "PairResult", "TCP_PORT", "UDP_PORT", "run"]
