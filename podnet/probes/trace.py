"""``podnet trace``: which of the four kinds of traffic a flow is, and where its addresses change.

Mirrors the way the topic sorts every conversation in a cluster (Pod-to-Pod, Pod-to-Service,
External-to-Service, Pod-to-external) and the way an engineer proves it: one real probe,
captured on every interface it crosses, each hop listed with the addresses it carried there,
and every rewrite named with the rule that made it (kube-proxy's KUBE-SEP DNAT, its
KUBE-POSTROUTING masquerade, ip-masq-agent's MASQUERADE). :func:`classify` and
:func:`annotate` are pure; :func:`run` sends the probe through :mod:`podnet.probes.runner`.
Deviation: a probe is one TCP SYN, UDP datagram or ICMP echo, not a whole connection, so the
trace shows the forward direction (conntrack undoes the same rewrites on the way back).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from ipaddress import IPv4Address, IPv4Network

from podnet.core.errors import InputError
from podnet.core.layout import EXAMPLE_COM
from podnet.core.model import LabState
from podnet.core.naming import EXTERNAL_NAME, INTERNET_NAME
from podnet.k8s.kube_proxy import masq
from podnet.k8s.kube_proxy.proxier import sep_chain, svc_chain
from podnet.k8s.workloads.endpoints import port_label
from podnet.probes import policy_trace
from podnet.probes.runner import ProbeSession

POD_TO_POD = "Pod-to-Pod"
POD_TO_SERVICE = "Pod-to-Service"
EXTERNAL_TO_SERVICE = "External-to-Service"
POD_TO_EXTERNAL = "Pod-to-external"

EXPLAIN = {
    POD_TO_POD: "Pod to Pod over the flat network: no address should change anywhere on the way.",
    POD_TO_SERVICE: "to a Service's virtual IP: kube-proxy's rules DNAT it to one backend Pod; the backend "
                    "still sees the client Pod's own IP (no SNAT), except when a Pod reaches itself (hairpin).",
    EXTERNAL_TO_SERVICE: "from outside the cluster to NodeIP:NodePort: kube-proxy DNATs it to a backend and, "
                         "with externalTrafficPolicy Cluster, masquerades it so the answer comes back the same way.",
    POD_TO_EXTERNAL: "from a Pod to an address outside the cluster: the Pod IP means nothing out there, so "
                     "ip-masq-agent rewrites the source to the node's own address.",
    "node-to-Pod": "a node's agents reach its Pods (and other nodes' Pods) directly: no NAT.",
    "node-to-Service": "a node (host network) to a Service: DNAT to a backend, and a masquerade because the "
                       "source is outside the cluster CIDR.",
    "Pod-to-node": "a Pod to a node's own address: plain routing, no NAT.",
    "node-to-node": "between nodes on the underlay: not Pod traffic at all.",
    "other": "none of the four kinds.",
    "container-to-published-port": "Docker: containers share their host's address, so another host's container "
                                   "is reached only through a published port: MASQUERADE to the host's address "
                                   "on the way out, DNAT to the container at the other host.",
}


@dataclass
class Target:
    address: str
    port: int | None
    protocol: str
    service: str | None = None  # "namespace/name" when the target is a Service (ClusterIP or NodePort)
    service_port: str | None = None  # kube-proxy's ServicePortName
    via: str = ""  # "clusterIP", "nodePort", "pod", "node", "address"


@dataclass
class Hop:
    index: int
    where: str
    kind: str
    iface: str
    direction: str
    src: str
    dst: str
    rewrite: list[str] = field(default_factory=list)
    ttl: int | None = None  # the IPv4 TTL as the packet was here


@dataclass
class Trace:
    kind: str
    explanation: str
    source: str
    target: Target
    status: str
    receiver: str | None
    reason: str
    hops: list[Hop]
    rewrites: list[str]
    summary: str
    policy: dict | None = None  # the NetworkPolicies' decision (podnet.probes.policy_trace), when any

    def to_json(self) -> dict:
        return asdict(self)


def resolve_target(state: LabState, text: str, protocol: str | None) -> Target:
    """``DST[:PORT]``: a Pod, node, Service (``web``, ``ns/web``, ``web.ns``,
    ``web.ns.svc.cluster.local``), ``internet``, or an address."""
    host, sep, raw_port = text.rpartition(":")
    if not sep:
        host, raw_port = text, ""
    port = None
    if raw_port:
        if not (raw_port.isascii() and raw_port.isdigit()) or not 1 <= int(raw_port) <= 65535:
            raise InputError("port", raw_port, "must be a number from 1 to 65535")
        port = int(raw_port)
    service = _find_service(state, host) or next(
        (s for s in state.services.values() if s.cluster_ip == host), None)
    if service is not None:
        ports = [p for p in service.ports if (port is None or p.port == port) and (protocol in (None, p.protocol.lower()))]
        if not ports:
            raise InputError("port", port, f"Service {service.key} has ports "
                             + ", ".join(f"{p.port}/{p.protocol}" for p in service.ports))
        chosen = ports[0]
        return Target(service.cluster_ip, chosen.port, chosen.protocol.lower(), service.key,
                      port_label(service, chosen), "clusterIP")
    if host in state.pods:
        address, via = state.pods[host].ip, "pod"
        if address is None:
            raise InputError("destination", host, "that Pod has no IP (it is not Running)")
    elif host in state.nodes:
        address, via = state.nodes[host].internal_ip, "node"
    elif host == INTERNET_NAME and state.external:
        address, via = EXAMPLE_COM, "address"
    else:
        try:
            address, via = str(IPv4Address(host)), "address"
        except ValueError:
            raise InputError("destination", host, "must be a Pod, node or Service name, internet, or an IPv4 address") from None
    if via in ("node", "address") and port is not None:
        for svc in state.services.values():
            for p in svc.ports:
                node_ips = {n.internal_ip for n in state.nodes.values()}
                if p.node_port == port and address in node_ips and protocol in (None, p.protocol.lower()):
                    return Target(address, port, p.protocol.lower(), svc.key, port_label(svc, p), "nodePort")
    proto = protocol or ("tcp" if port is not None else "icmp")
    return Target(address, port, proto, None, None, via)


def _find_service(state: LabState, host: str):
    if "/" in host:
        namespace, _, name = host.partition("/")
        return state.services.get(f"{namespace}/{name}")
    parts = host.rstrip(".").split(".")
    if len(parts) >= 2 and parts[2:3] in (["svc"], []):
        service = state.services.get(f"{parts[1]}/{parts[0]}")
        if service is not None:
            return service
    return state.services.get(f"default/{host}")


def classify(state: LabState, source: str, target: Target) -> str:
    src_kind = "pod" if source in state.pods else "node" if source in state.nodes else (
        "external" if source == EXTERNAL_NAME else "internet" if source == INTERNET_NAME else "other")
    if target.via == "nodePort":
        return EXTERNAL_TO_SERVICE if src_kind in ("external", "internet") else (
            POD_TO_SERVICE if src_kind == "pod" else "node-to-Service")
    if target.via == "clusterIP":
        return POD_TO_SERVICE if src_kind == "pod" else "node-to-Service" if src_kind == "node" else "other"
    address = IPv4Address(target.address)
    pod_ips = {p.ip for p in state.pods.values() if p.ip}
    node_ips = {n.internal_ip for n in state.nodes.values()}
    in_cluster = address in state.spec.cluster_cidr or target.address in pod_ips
    if in_cluster:
        return POD_TO_POD if src_kind == "pod" else "node-to-Pod" if src_kind == "node" else "other"
    if target.address in node_ips:
        if src_kind == "pod" and state.spec.model == "docker":
            return "container-to-published-port"
        return "Pod-to-node" if src_kind == "pod" else "node-to-node" if src_kind == "node" else "other"
    if src_kind == "pod" and _masqueraded(state, address):
        return POD_TO_EXTERNAL
    return "other"


def _masqueraded(state: LabState, address: IPv4Address) -> bool:
    """Outside ip-masq-agent's non-masquerade CIDRs: where Pod egress gets the node's address."""
    return not any(address in IPv4Network(c) for c in masq.non_masquerade_cidrs(state.spec.cluster_cidr))


def _endpoint(address: str, port: int | None) -> str:
    return f"{address}:{port}" if port else address


def annotate(state: LabState, target: Target, sightings: list) -> tuple[list[Hop], list[str]]:
    """Hops in time order; each rewrite named where it was first seen and what made it."""
    hops: list[Hop] = []
    rewrites: list[str] = []
    before = None
    for index, s in enumerate(sightings, start=1):
        now_src, now_dst = _endpoint(s.src, s.sport), _endpoint(s.dst, s.dport)
        hop = Hop(index, s.name, s.kind, s.iface, s.direction, now_src, now_dst, ttl=getattr(s, "ttl", None))
        if before is not None:
            old_src, old_dst = before
            if now_dst != old_dst:
                hop.rewrite.append(f"DNAT {old_dst} -> {now_dst} by {_dnat_rule(state, target, s.dst, s.dport)}")
            if now_src != old_src:
                hop.rewrite.append(f"SNAT {old_src} -> {now_src} by {_snat_rule(state, target, s, old_src)}")
            for text in hop.rewrite:
                rewrites.append(f"at {s.name} (seen {s.direction} on {s.iface}): {text}")
        before = (now_src, now_dst)
        hops.append(hop)
    return hops, rewrites


def _dnat_rule(state: LabState, target: Target, address: str, port: int | None) -> str:
    if state.spec.model == "docker":
        return "Docker (a published port: DNAT in the DOCKER chain, docker run -p)"
    if target.service and target.service_port:
        chain = svc_chain(target.service_port, target.protocol)
        sep = sep_chain(target.service_port, target.protocol, f"{address}:{port}")
        first = "KUBE-NODEPORTS -> KUBE-EXT -> " if target.via == "nodePort" else "KUBE-SERVICES -> "
        return f"kube-proxy ({first}{chain} -> {sep})"
    return "a DNAT rule that is not kube-proxy's"


def _snat_rule(state: LabState, target: Target, sighting, old_src: str = "") -> str:
    source_ip = old_src.split(":")[0]
    if state.spec.model == "docker":
        return "Docker (POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE: the host's address)"
    kube_proxy = "kube-proxy (KUBE-MARK-MASQ, then KUBE-POSTROUTING MASQUERADE to the outgoing interface's address)"
    if target.service:
        # kube-proxy marks only NodePort traffic, sources outside the cluster CIDR, and hairpin
        try:
            outside = IPv4Address(source_ip) not in state.spec.cluster_cidr
        except ValueError:
            outside = False
        if target.via == "nodePort" or outside or source_ip == sighting.dst:
            return kube_proxy
        return ("a MASQUERADE/SNAT rule that is not kube-proxy's: kube-proxy keeps a Pod's own address "
                "towards a ClusterIP (this breaks the no-NAT rule)")
    if state.spec.ip_masq_agent and _masqueraded(state, IPv4Address(target.address)):
        return "ip-masq-agent (IP-MASQ-AGENT MASQUERADE: the destination is outside the non-masquerade CIDRs)"
    return "a MASQUERADE/SNAT rule that is neither kube-proxy's nor ip-masq-agent's (this breaks the no-NAT rule)"


def build(state: LabState, source: str, target: Target, verdict) -> Trace:
    kind = classify(state, source, target)
    hops, rewrites = annotate(state, target, verdict.path)
    dst_text = _endpoint(target.address, target.port) + (f" (Service {target.service})" if target.service else "")
    if verdict.status == "reached" and target.service and verdict.receiver not in state.pods:
        # A Service's packet is delivered to a backend Pod; one that stopped at the node whose
        # address it was sent to was DNATed there and dropped before any Pod got it.
        verdict.status = "unreachable"
        verdict.reason = (f"it arrived at {verdict.receiver}, but no backend Pod of {target.service} received it "
                          "(dropped after kube-proxy's rules)")
    if verdict.status == "reached":
        notes = []
        notes.append("destination rewritten (DNAT)" if verdict.destination_nat else "destination unchanged")
        notes.append(f"source rewritten to {verdict.seen_src} (SNAT)" if verdict.source_nat else "source unchanged (no SNAT)")
        summary = f"{kind}: {source} -> {dst_text}: reached {verdict.receiver}; " + "; ".join(notes)
    else:
        summary = f"{kind}: {source} -> {dst_text}: {verdict.status.upper()}: {verdict.reason}"
    explanation = EXPLAIN.get(kind, EXPLAIN["other"])
    if kind == POD_TO_EXTERNAL and not state.spec.ip_masq_agent:
        explanation = ("from a Pod to an address outside the cluster, in a lab without ip-masq-agent: the Pod IP "
                       "leaves as it is, and nothing outside has a route back to it.")
    return Trace(kind, explanation, source, target, verdict.status, verdict.receiver,
                 verdict.reason, hops, rewrites, summary)


def run(lab, source: str, destination: str, protocol: str | None, timeout: float) -> Trace:
    state = lab.state
    target = resolve_target(state, destination, protocol)
    if target.protocol != "icmp" and target.port is None:
        raise InputError("destination", destination, f"a {target.protocol} trace needs a port: DST:PORT")
    session = ProbeSession(lab)
    try:
        if session.book.netns_of(source) is None:
            raise InputError("source", source, "must be a node, a Running Pod, external or internet")
        before = policy_trace.drop_counts(lab)
        verdict = session.probe(source, target.address, target.protocol, target.port, timeout)
    finally:
        session.close()
    result = build(state, source, target, verdict)
    note = policy_trace.explain(lab, source, target.protocol, verdict, before)
    if note is not None:
        result.policy = note.to_json()
        result.summary += "\n" + note.text()
    return result
