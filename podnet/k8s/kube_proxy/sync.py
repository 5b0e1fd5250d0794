"""Applying kube-proxy's (and ip-masq-agent's) rules inside one node's namespace.

Mirrors kube-proxy's ``syncProxyRules``: read the current tables (``iptables-save``), write
the full content of every chain it owns in one ``iptables-restore --noflush`` (declaring a
chain flushes it, so the update is atomic per table), add the jumps from the built-in chains
that are missing, and flush and delete (``-X``) per-Service chains that are no longer wanted.
Rules someone else added to the built-in chains are left alone, as on a real node; rules
someone deleted from kube-proxy's chains come back on the next sync. ip-masq-agent's chain
is handled the same way (or removed with its jump when the agent is off).
Like kube-proxy, :mod:`~podnet.k8s.kube_proxy.agent` also deletes the UDP conntrack entries of endpoints that went away (and
of deleted UDP ClusterIPs): UDP has no connection to close, so without this a client that
keeps its source port (a DNS resolver) would be sent to the dead Pod for as long as it talks.
Deviation: it runs when podnet changes something or on ``podnet sync``, not every 30 s.
"""

from __future__ import annotations

from dataclasses import dataclass

from podnet.k8s.kube_proxy import masq
from podnet.k8s.kube_proxy.proxier import JUMPS, PER_SERVICE_PREFIXES, Ruleset, restore_text
from podnet.k8s.workloads.endpoints import ready_endpoints
from podnet.kernel import iptables


@dataclass
class SyncResult:
    node: str
    chains: int
    rules: int
    stale_deleted: int
    jumps_added: int


def udp_targets(state) -> tuple[set[str], set[str]]:
    """(endpoint IPs, ClusterIPs) of every UDP Service port: what stale entries point at."""
    endpoints, cluster_ips = set(), set()
    for service in state.services.values():
        for port in service.ports:
            if port.protocol == "UDP":
                cluster_ips.add(service.cluster_ip)
                endpoints |= {e.ip for e in ready_endpoints(state, service, port)}
    return endpoints, cluster_ips


def sync_node(node: str, netns: str, rules: Ruleset, masq_rules: list[str] | None) -> SyncResult:
    current = iptables.tables(iptables.save(netns))
    nat, filt = current.get("nat", []), current.get("filter", [])
    wanted_jumps = list(JUMPS) + ([masq.JUMP] if masq_rules is not None else [])
    missing = []
    for table, chain, rule in wanted_jumps:
        target = rule.rsplit("-j ", 1)[1]
        lines = nat if table == "nat" else filt
        if not iptables.has_jump(lines, chain, target):
            missing.append((table, chain, rule))
    stale = {
        "nat": {c for c in iptables.chains(nat) if c.startswith(PER_SERVICE_PREFIXES)} - set(rules.nat_chains),
        "filter": set(),
    }
    extra_chains: list[str] = []
    extra_rules: list[str] = []
    if masq_rules is not None:
        extra_chains, extra_rules = [masq.CHAIN], masq_rules
    elif masq.CHAIN in iptables.chains(nat):
        # the agent is off: its jump goes first, then its chain
        extra_rules = ["-D" + line[2:] for line in iptables.rules_in(nat, "POSTROUTING")
                       if line.rstrip().endswith(f"-j {masq.CHAIN}")]
        stale["nat"].add(masq.CHAIN)
    text = restore_text(rules, stale, missing, extra_chains, extra_rules)
    iptables.restore(netns, text)
    return SyncResult(node, len(rules.chains()) + len(extra_chains), len(rules.nat_rules) + len(rules.filter_rules),
                      len(stale["nat"]), len(missing))
