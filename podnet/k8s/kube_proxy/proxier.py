"""kube-proxy in iptables mode: the nat and filter rules every node gets for the Services.

Mirrors ``pkg/proxy/iptables/proxier.go``: PREROUTING and OUTPUT jump to KUBE-SERVICES,
which matches each ClusterIP:port and jumps to that port's KUBE-SVC-<hash>; the SVC chain
marks traffic from outside the cluster CIDR for masquerade, then picks an endpoint with a
cascade of ``-m statistic --mode random --probability 1/n, 1/(n-1), ...`` (with ClientIP
affinity, ``-m recent --rcheck`` rules first); each endpoint's KUBE-SEP-<hash> marks
hairpin traffic (a Pod reaching itself) and DNATs to podIP:targetPort. NodePorts go through
KUBE-NODEPORTS (the last rule of KUBE-SERVICES, for local destination addresses) and a
KUBE-EXT-<hash> chain that marks them for masquerade. KUBE-MARK-MASQ sets 0x4000 and
KUBE-POSTROUTING masquerades what carries it. A port without endpoints is REJECTed in the
filter table, so a client is refused instead of waiting. Chain names use kube-proxy's own
hash (base32 of SHA-256 of "namespace/name:port" + protocol), so the kube-dns chains read
KUBE-SVC-TCOU7JCQXEZGVUNU exactly as on a real node.
Deviations: externalTrafficPolicy is always Cluster, there is no LoadBalancer, firewall,
health-check or IPv6 part, and no metrics; the render is pure (the controller applies it
with iptables-restore inside each node's namespace, see :mod:`podnet.services.iptables`).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

from podnet.core.model import LabState, ServicePortState, ServiceState
from podnet.k8s.workloads.endpoints import ready_endpoints, port_label

MASQ_MARK = "0x4000"
NAT_CHAINS = ("KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ")
FILTER_CHAINS = ("KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-FORWARD", "KUBE-NODEPORTS")
# chains kube-proxy owns per Service port; stale ones are deleted on the next sync
PER_SERVICE_PREFIXES = ("KUBE-SVC-", "KUBE-SEP-", "KUBE-EXT-")

# Jumps from the built-in chains, as kube-proxy installs them once (table, chain, rule).
JUMPS = (
    ("nat", "PREROUTING", '-m comment --comment "kubernetes service portals" -j KUBE-SERVICES'),
    ("nat", "OUTPUT", '-m comment --comment "kubernetes service portals" -j KUBE-SERVICES'),
    ("nat", "POSTROUTING", '-m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING'),
    ("filter", "INPUT", '-m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES'),
    ("filter", "FORWARD", '-m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD'),
    ("filter", "FORWARD", '-m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES'),
    ("filter", "FORWARD", '-m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES'),
    ("filter", "OUTPUT", '-m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES'),
)


def _hash(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:16]


def svc_chain(label: str, protocol: str) -> str:
    return "KUBE-SVC-" + _hash(label + protocol.lower())


def ext_chain(label: str, protocol: str) -> str:
    return "KUBE-EXT-" + _hash(label + protocol.lower())


def sep_chain(label: str, protocol: str, endpoint: str) -> str:
    return "KUBE-SEP-" + _hash(label + protocol.lower() + endpoint)


def probability(remaining: int) -> str:
    """kube-proxy's format for 1/remaining: ten decimals."""
    return f"{1.0 / remaining:0.10f}"


@dataclass
class Ruleset:
    """The rules for one node: chain declarations and rules per table, in order."""

    nat_chains: list[str] = field(default_factory=list)
    nat_rules: list[str] = field(default_factory=list)
    filter_chains: list[str] = field(default_factory=list)
    filter_rules: list[str] = field(default_factory=list)

    def chains(self) -> set[str]:
        return set(self.nat_chains) | set(self.filter_chains)


def render(state: LabState) -> Ruleset:
    """kube-proxy's rules for every node of the lab (they are the same on every node: nothing
    here depends on where the endpoints run, as with externalTrafficPolicy Cluster)."""
    rules = Ruleset(list(NAT_CHAINS), [], list(FILTER_CHAINS), [])
    nat, filt = rules.nat_rules, rules.filter_rules
    cluster_cidr = str(state.spec.cluster_cidr)
    nat.append(f"-A KUBE-MARK-MASQ -j MARK --set-xmark {MASQ_MARK}/{MASQ_MARK}")
    nat.append(f"-A KUBE-POSTROUTING -m mark ! --mark {MASQ_MARK}/{MASQ_MARK} -j RETURN")
    nat.append(f"-A KUBE-POSTROUTING -j MARK --set-xmark {MASQ_MARK}/0x0")
    nat.append('-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully')
    filt.append("-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP")
    filt.append(f'-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark {MASQ_MARK}/{MASQ_MARK} -j ACCEPT')
    filt.append('-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT')
    service_rules: list[str] = []
    chain_rules: list[str] = []
    nodeport_rules: list[str] = []
    for service in sorted(state.services.values(), key=lambda s: s.key):
        for port in service.ports:
            _render_port(state, service, port, cluster_cidr, rules, service_rules, chain_rules, nodeport_rules)
    nat += service_rules
    nat.append('-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last '
               'rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS')
    nat += nodeport_rules
    nat += chain_rules
    return rules


def _render_port(state: LabState, service: ServiceState, port: ServicePortState, cluster_cidr: str,
                 rules: Ruleset, service_rules: list[str], chain_rules: list[str], nodeport_rules: list[str]) -> None:
    label = port_label(service, port)
    proto = port.protocol.lower()
    endpoints = ready_endpoints(state, service, port)
    ip = f"{service.cluster_ip}/32"
    if not endpoints:
        rules.filter_rules.append(
            f'-A KUBE-SERVICES -d {ip} -p {proto} -m comment --comment "{label} has no endpoints" -m {proto} '
            f"--dport {port.port} -j REJECT --reject-with icmp-port-unreachable")
        if port.node_port:
            rules.filter_rules.append(
                f'-A KUBE-EXTERNAL-SERVICES -p {proto} -m comment --comment "{label} has no endpoints" '
                f"-m addrtype --dst-type LOCAL -m {proto} --dport {port.node_port} -j REJECT --reject-with icmp-port-unreachable")
        return
    svc = svc_chain(label, port.protocol)
    rules.nat_chains.append(svc)
    service_rules.append(f'-A KUBE-SERVICES -d {ip} -p {proto} -m comment --comment "{label} cluster IP" '
                         f"-m {proto} --dport {port.port} -j {svc}")
    chain_rules.append(f'-A {svc} ! -s {cluster_cidr} -d {ip} -p {proto} -m comment --comment "{label} cluster IP" '
                       f"-m {proto} --dport {port.port} -j KUBE-MARK-MASQ")
    if port.node_port:
        ext = ext_chain(label, port.protocol)
        rules.nat_chains.append(ext)
        nodeport_rules.append(f'-A KUBE-NODEPORTS -p {proto} -m comment --comment "{label}" -m {proto} '
                              f"--dport {port.node_port} -j {ext}")
        chain_rules.append(f'-A {ext} -m comment --comment "masquerade traffic for {label} external destinations" '
                           "-j KUBE-MARK-MASQ")
        chain_rules.append(f"-A {ext} -j {svc}")
    seps = [(endpoint, sep_chain(label, port.protocol, endpoint.address)) for endpoint in endpoints]
    affinity = service.session_affinity == "ClientIP"
    if affinity:
        for endpoint, sep in seps:
            chain_rules.append(f'-A {svc} -m comment --comment "{label} -> {endpoint.address}" -m recent --name {sep} '
                               f"--mask 255.255.255.255 --rsource --rcheck --seconds {service.affinity_timeout} --reap -j {sep}")
    for index, (endpoint, sep) in enumerate(seps):
        remaining = len(seps) - index
        pick = f" -m statistic --mode random --probability {probability(remaining)}" if remaining > 1 else ""
        chain_rules.append(f'-A {svc} -m comment --comment "{label} -> {endpoint.address}"{pick} -j {sep}')
    for endpoint, sep in seps:
        rules.nat_chains.append(sep)
        chain_rules.append(f'-A {sep} -s {endpoint.ip}/32 -m comment --comment "{label}" -j KUBE-MARK-MASQ')
        remember = f" -m recent --set --name {sep} --mask 255.255.255.255 --rsource" if affinity else ""
        chain_rules.append(f'-A {sep} -p {proto} -m comment --comment "{label}"{remember} -m {proto} '
                           f"-j DNAT --to-destination {endpoint.address}")


def _jump(chain: str, rule: str) -> str:
    """kube-proxy puts its jumps first in the built-in chains (-I); ip-masq-agent appends its own."""
    return f"-A {chain} {rule}" if rule.endswith("-j IP-MASQ-AGENT") else f"-I {chain} 1 {rule}"


def restore_text(rules: Ruleset, stale_chains: dict[str, set[str]], missing_jumps: list[tuple[str, str, str]],
                 extra_nat_chains: list[str] = (), extra_nat_rules: list[str] = ()) -> str:
    """Input for ``iptables-restore --noflush``: declaring a chain flushes it, so the whole
    content of kube-proxy's chains is replaced at once; missing jumps are appended and
    chains that are no longer wanted are flushed and deleted (``-X``), as kube-proxy does."""
    out = ["*nat"]
    nat_chains = list(dict.fromkeys(list(rules.nat_chains) + list(extra_nat_chains)))
    stale_nat = sorted(stale_chains.get("nat", set()) - set(nat_chains))
    out += [f":{c} - [0:0]" for c in nat_chains + stale_nat]
    out += [_jump(chain, rule) for table, chain, rule in missing_jumps if table == "nat"]
    out += list(rules.nat_rules) + list(extra_nat_rules)
    out += [f"-X {c}" for c in stale_nat]
    out.append("COMMIT")
    out.append("*filter")
    stale_filter = sorted(stale_chains.get("filter", set()) - set(rules.filter_chains))
    out += [f":{c} - [0:0]" for c in list(rules.filter_chains) + stale_filter]
    out += [_jump(chain, rule) for table, chain, rule in missing_jumps if table == "filter"]
    out += list(rules.filter_rules)
    out += [f"-X {c}" for c in stale_filter]
    out.append("COMMIT")
    return "\n".join(out) + "\n"
