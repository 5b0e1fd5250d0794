"""Kubernetes' flat network against Docker's bridge, on the same machines, from measurements.

Mirrors the contrast the topic draws (Docker: one host, containers behind the host's IP,
published ports, NAT; Kubernetes: every Pod its own routable IP, no NAT) by building both
on identical emulated machines with identical workloads and probing them the same way.
Nothing in the table is canned: every cell comes from a lab's state, a probe's verdict or
the NAT rules found in the hosts' own netfilter tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from podnet.core import topology
from podnet.core.errors import KernelError
from podnet.core.naming import netns_name
from podnet.kernel import iptables
from podnet.lab.bringup import up
from podnet.lab.teardown import teardown
from podnet.probes.runner import ProbeSession
from podnet.probes.verdict import Verdict, summary

PROBE_PORT = 80


@dataclass
class Side:
    model: str
    lab: str
    workloads: int = 0
    unique_addresses: int = 0
    repeated: dict[str, list[str]] = field(default_factory=dict)
    cross_host: Verdict | None = None
    to_workload: Verdict | None = None
    nat_rules: int | None = 0  # None: a node's nat table could not be read
    evidence: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model, "lab": self.lab, "workloads": self.workloads,
            "uniqueAddresses": self.unique_addresses, "repeatedAddresses": self.repeated,
            "crossHostByAddress": self.cross_host.to_json() if self.cross_host else None,
            "toWorkload": self.to_workload.to_json() if self.to_workload else None,
            "natRules": self.nat_rules, "evidence": self.evidence,
        }


def measure(lab, model: str) -> Side:
    """Probe one running lab: the first workload of the first node talks to the second
    node's workloads, once by the workload's own address, once the way its model offers."""
    state = lab.state
    side = Side(model, state.name)
    pods = [p for p in state.pods.values() if p.ip and p.namespace != "kube-system"]  # workloads, not add-ons
    side.workloads = len(pods)
    owners: dict[str, list[str]] = {}
    for pod in pods:
        owners.setdefault(pod.ip, []).append(pod.name)
    side.unique_addresses = len(owners)
    side.repeated = {ip: names for ip, names in owners.items() if len(names) > 1}
    nodes = list(state.nodes.values())
    first = next(p for p in pods if p.node == nodes[0].name)
    remote = [p for p in pods if p.node == nodes[1].name]
    session = ProbeSession(lab)
    try:
        describe = session.describer(first.name)
        side.cross_host = session.probe(first.name, remote[-1].name, "icmp")
        side.evidence.append(summary(side.cross_host, describe))
        if model == "docker":
            host_port = int(remote[0].published[0].split(":")[0])
            side.to_workload = session.probe(first.name, nodes[1].internal_ip, "tcp", host_port)
        else:
            side.to_workload = session.probe(first.name, remote[0].name, "tcp", PROBE_PORT)
        side.evidence.append(summary(side.to_workload, describe))
    finally:
        session.close()
    counts = [count_nat_rules(lab, n.name) for n in nodes]
    side.nat_rules = None if None in counts else sum(counts)  # type: ignore[arg-type]
    return side


def count_nat_rules(lab, node: str) -> int | None:
    """Rules that rewrite addresses (DNAT, SNAT, MASQUERADE) in a node's own nat table;
    None when the table could not be read (a failed measurement is not a zero)."""
    try:
        text = iptables.save(netns_name(lab.state.name, node), "nat")
    except KernelError:
        return None
    return sum(1 for line in text.splitlines()
               if line.startswith("-A") and any(f"-j {t}" in line for t in ("DNAT", "SNAT", "MASQUERADE"))
               and not line.split()[1].startswith(SERVICE_CHAINS))


# kube-proxy's and ip-masq-agent's chains: they rewrite only Service, NodePort and
# Internet-bound traffic, never one workload talking to another by its own address
SERVICE_CHAINS = ("KUBE-", "IP-MASQ-AGENT")


def run(prefix: str, nodes: int, pods_per_node: int, keep: bool = False, progress=None) -> tuple[Side, Side]:
    """Bring up both labs, measure, tear down (unless ``keep``)."""
    specs = [
        topology.spec_from_sources(None, {"name": f"{prefix}-k8s", "node_count": nodes,
                                          "pods_per_node": pods_per_node, "cni": "bridge"}),
        topology.spec_from_sources(None, {"name": f"{prefix}-docker", "node_count": nodes,
                                          "pods_per_node": pods_per_node, "model": "docker"}),
    ]
    sides = []
    made = []
    try:
        for spec, model in zip(specs, ("kubernetes", "docker")):
            lab = up(spec, progress or (lambda *_: None))
            made.append(spec.name)
            try:
                sides.append(measure(lab, model))
            finally:
                lab.close()
    finally:
        if not keep:
            for name in made:  # only labs this run made: a refused name belongs to someone else
                teardown(name)
    return sides[0], sides[1]


def rows(k8s: Side, docker: Side) -> list[tuple[str, str, str]]:
    def reach(v: Verdict | None) -> str:
        if v is None or v.status != "reached":
            return f"no: {v.reason if v else 'not probed'}"
        if v.wrong_target:
            return f"no: {v.probe.destination} led to {v.receiver} on the sender's own host, not {v.probe.target}"
        return f"yes: {v.probe.destination} reached {v.receiver}"

    def source(v: Verdict | None) -> str:
        if v is None or v.status != "reached":
            return "not reached"
        if v.source_nat:
            return f"{v.seen_src} (rewritten from {v.probe.source_ip})"
        return f"{v.seen_src} (the sender's own address)"

    def mapping(v: Verdict | None) -> str:
        if v is None or v.status != "reached":
            return "not reached"
        if v.destination_nat:
            return f"yes: {v.probe.destination}:{v.probe.port} -> {v.seen_dst}:{v.seen_dport}"
        return f"no: {v.seen_dst}:{v.seen_dport} as sent"

    def unit(side: Side) -> str:
        if side.unique_addresses == side.workloads:
            return f"the workload: {side.workloads} workloads, {side.unique_addresses} addresses"
        return f"the host: {side.workloads} workloads share {side.unique_addresses} addresses"

    def unique(side: Side) -> str:
        if not side.repeated:
            return "every address is unique"
        ip, names = next(iter(side.repeated.items()))
        return f"{ip} is {', '.join(names)}"

    return [
        ("addressable unit", unit(k8s), unit(docker)),
        ("address uniqueness", unique(k8s), unique(docker)),
        ("another host's workload by its address", reach(k8s.cross_host), reach(docker.cross_host)),
        ("source address seen by the receiver", source(k8s.to_workload), source(docker.to_workload)),
        ("port mapping needed", mapping(k8s.to_workload), mapping(docker.to_workload)),
        ("NAT rules on the path between workloads", _count(k8s.nat_rules), _count(docker.nat_rules)),
    ]


def _count(value: int | None) -> str:
    return "unknown (iptables-save failed)" if value is None else str(value)
