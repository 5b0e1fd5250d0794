"""The checks a lab file can declare, each judged against the live lab with real evidence.

Mirrors the assertions of Kubernetes' e2e networking tests and of netlab's ``validate``:
Pods and nodes in a state (``pods``, ``nodes``), a probe that arrives with or without NAT
(``probe``), real requests through a Service (``connect``), the kind of traffic and its
rewrites (``trace``, with the NetworkPolicy that decided), the reachability matrix as the
NetworkPolicies' truth table (``matrix``), name resolution (``dns``), kernel state (``iptables``, ``sysctl``,
``routes``), what a student recorded (``answer``) or captured (``pcap``), and whole-lab
conditions (``lab``, ``replaced``). Each returns PASS or FAIL with the evidence that decided
it; when the measurement itself fails the runner turns it into ERROR.
"""

from __future__ import annotations

import os
import re
from ipaddress import IPv4Address, IPv4Network

from podnet.core.addressbook import AddressBook
from podnet.core.errors import InputError, KernelError
from podnet.core.model import RUNNING
from podnet.core.naming import netns_name
from podnet.course.results import FAIL, PASS, NotRunning
from podnet.course.templates import overlaps, resolve
from podnet.course.workfiles import load_answers
from podnet.kernel import iptables, netlink
from podnet.probes import matrix, trace
from podnet.probes.client import Client, check_target
from podnet.probes.pcap import read_flows
from podnet.probes.runner import ProbeSession


def evaluate(runner, check, state, lab) -> tuple[str, str]:
    handler = globals().get("check_" + check.type.replace("-", "_"))
    if handler is None:
        raise InputError("check type", check.type, "not implemented")
    if check.type not in ("answer", "pcap", "lab") and state is None:
        # a lab with `topology: null` is brought up by the student, so `lab start` alone is no cure
        hint = f"podnet lab start {runner.lab.id}" if runner.lab.topology is not None else "bring it up as its README says"
        raise NotRunning(f"lab {runner.lab.lab_name} is not running ({hint})")
    return handler(runner, check.params, state, lab)


def _expect(params: dict) -> dict:
    expect = params.get("expect") or {}
    if not isinstance(expect, dict):
        raise InputError("expect", expect, "must be a mapping")
    return expect


def _verdict(problems: list[str], evidence: str) -> tuple[str, str]:
    return (FAIL, "; ".join(problems) + (f" ({evidence})" if evidence else "")) if problems else (PASS, evidence)


# -- objects ------------------------------------------------------------------------------------

def check_pods(runner, params, state, lab):
    expect = _expect(params)
    namespace = params.get("namespace", "default")
    pods = [p for p in state.pods.values() if p.namespace == namespace]
    if "owner" in params:
        pods = [p for p in pods if p.owner == f"{namespace}/{params['owner']}"]
    if "names" in params:
        pods = [p for p in pods if p.name in params["names"]]
    if "node" in params:
        pods = [p for p in pods if p.node == resolve(state, params["node"])]
    shown = ", ".join(f"{p.name} {p.phase} {p.ip or '-'} on {p.node or '-'}" for p in pods[:8]) or "no such Pods"
    problems = []
    if "names" in params:
        missing = sorted(set(params["names"]) - {p.name for p in pods})
        if missing:
            problems.append(f"missing: {', '.join(missing)}")
    phase = expect.get("phase")
    if phase:
        wrong = [p.name for p in pods if p.phase != phase]
        if wrong:
            problems.append(f"not {phase}: {', '.join(wrong[:5])}")
    if "count" in expect and len(pods) != expect["count"]:
        problems.append(f"{len(pods)} Pods, expected {expect['count']}")
    if "min" in expect and len(pods) < expect["min"]:
        problems.append(f"{len(pods)} Pods, expected at least {expect['min']}")
    if expect.get("distinct_ips"):
        ips = [p.ip for p in pods if p.ip]
        if len(ips) != len(set(ips)) or len(ips) != len(pods):
            problems.append("Pod IPs are not all present and distinct")
    if expect.get("in_node_cidr"):
        for p in pods:
            cidr = state.nodes[p.node].pod_cidr if p.node else None
            if not p.ip or not cidr or IPv4Address(p.ip) not in IPv4Network(cidr):
                problems.append(f"{p.name} ({p.ip}) is not in its node's podCIDR {cidr}")
    if "phase_count" in expect:
        for wanted, count in expect["phase_count"].items():
            have = sum(1 for p in pods if p.phase == wanted)
            if have != count:
                problems.append(f"{have} Pods {wanted}, expected {count}")
    return _verdict(problems, shown)


def check_nodes(runner, params, state, lab):
    expect = _expect(params)
    nodes = [n for n in state.nodes.values() if "names" not in params or n.name in params["names"]]
    shown = ", ".join(f"{n.name} {'Ready' if n.ready else 'NotReady'} {n.pod_cidr or 'no podCIDR'}" for n in nodes)
    problems = []
    if "ready" in expect:
        wrong = [n.name for n in nodes if n.ready != expect["ready"]]
        if wrong:
            problems.append(f"{'not ' if expect['ready'] else ''}Ready: {', '.join(wrong)}")
    if "pod_cidr" in expect:
        wrong = [n.name for n in nodes if bool(n.pod_cidr) != expect["pod_cidr"]]
        if wrong:
            problems.append(f"{'without' if expect['pod_cidr'] else 'with'} a podCIDR: {', '.join(wrong)}")
    if "count" in expect and len(nodes) != expect["count"]:
        problems.append(f"{len(nodes)} nodes, expected {expect['count']}")
    return _verdict(problems, shown)


def check_lab(runner, params, state, lab):
    expect = _expect(params)
    if state is None:
        raise NotRunning(f"lab {runner.lab.lab_name} is not running")
    problems = []
    if expect.get("no_overlap"):
        problems += overlaps(state)
    running = sum(1 for p in state.pods.values() if p.phase == RUNNING)
    if expect.get("all_running") and running != len(state.pods):
        problems.append(f"{running}/{len(state.pods)} Pods Running")
    spec = state.spec
    return _verdict(problems, f"clusterCIDR {spec.cluster_cidr}, serviceCIDR {spec.service_cidr}, "
                              f"underlay {spec.underlay_cidr}, {running}/{len(state.pods)} Pods Running")


def check_replaced(runner, params, state, lab):
    record = runner.record()
    before = record.get("pods", {})
    if not before:
        return FAIL, "nothing was recorded at the start (podnet lab reset to start again)"
    deployment = params.get("deployment", record.get("deployment"))
    now = {p.name: p.ip for p in state.pods.values() if p.owner == f"default/{deployment}"}
    gone = sorted(set(before) - set(now))
    new = sorted(set(now) - set(before))
    if not gone or not new:
        return FAIL, f"the Pods of {deployment} are still the ones from the start: {', '.join(sorted(now))}"
    old_ips = {before[n] for n in gone}
    evidence = f"replaced {', '.join(f'{n} ({before[n]})' for n in gone)} by {', '.join(f'{n} ({now[n]})' for n in new)}"
    reused = [n for n in new if now[n] in old_ips]
    return (FAIL, evidence + f"; {reused[0]} reused an old IP") if reused else (PASS, evidence)


# -- packets ------------------------------------------------------------------------------------

def check_probe(runner, params, state, lab):
    expect = _expect(params)
    session = ProbeSession(lab)
    try:
        port = params.get("port")
        verdict = session.probe(str(resolve(state, params["from"])), str(resolve(state, params["to"])),
                                params.get("protocol", "icmp"), int(port) if port else None,
                                float(params.get("timeout", 1)))
    finally:
        session.close()
    if verdict.status == "error":
        raise KernelError(verdict.reason)
    evidence = (f"reached {verdict.receiver}, seen from {verdict.seen_src} to {verdict.seen_dst}, TTL {verdict.ttl}"
                if verdict.status == "reached" else f"{verdict.status}: {verdict.reason}")
    problems = []
    if expect.get("status", "reached") != verdict.status:
        problems.append(f"expected {expect.get('status', 'reached')}, got {verdict.status}")
    if "nat" in expect and verdict.status == "reached":
        nat = bool(verdict.source_nat or verdict.destination_nat)
        if nat != expect["nat"]:
            problems.append("an address was rewritten on the way (NAT)" if nat else "no address was rewritten")
    if "receiver" in expect and verdict.receiver != resolve(state, expect["receiver"]):
        problems.append(f"received by {verdict.receiver}, not {resolve(state, expect['receiver'])}")
    if "seen_src" in expect and verdict.seen_src != resolve(state, expect["seen_src"]):
        problems.append(f"arrived from {verdict.seen_src}, not {resolve(state, expect['seen_src'])}")
    return _verdict(problems, evidence)


def check_connect(runner, params, state, lab):
    expect = _expect(params)
    source = str(resolve(state, params["from"]))
    ns = AddressBook(state).netns_of(source)
    if ns is None:
        raise NotRunning(f"{source} is not a Running Pod or node of the lab")
    host, port = check_target(str(resolve(state, params["to"])), None)
    namespace = state.pods[source].namespace if source in state.pods else None
    exchange = Client(lab).exchange(source, ns, namespace, host, port, params.get("protocol", "tcp"),
                                    int(params.get("count", 1)), int(params.get("size", 64)),
                                    float(params.get("timeout", 2)))
    answers = exchange.answers
    if exchange.lookup.address is None:
        return FAIL, f"{host} did not resolve: {exchange.lookup.error}"
    ok = [a for a in answers if a.status == "ok"]
    statuses = sorted({a.status for a in answers})
    backends = sorted({a.pod for a in ok})
    clients = sorted({a.client.rsplit(':', 1)[0] for a in ok if a.client})
    evidence = (f"{len(ok)}/{len(answers)} answered ({', '.join(statuses)}), backends {', '.join(backends) or '-'}, "
                f"client seen as {', '.join(clients) or '-'}")
    problems = []
    wanted_status = expect.get("status", "ok")
    if any(a.status != wanted_status for a in answers):
        problems.append(f"expected every request to be {wanted_status}")
    if "backends_min" in expect and len(backends) < expect["backends_min"]:
        problems.append(f"{len(backends)} backend(s) answered, expected at least {expect['backends_min']}")
    if "backends_max" in expect and len(backends) > expect["backends_max"]:
        problems.append(f"{len(backends)} backends answered, expected at most {expect['backends_max']}")
    seen = expect.get("client_seen")
    if seen:
        own = state.pods[source].ip if source in state.pods else state.nodes[source].internal_ip if source in state.nodes else None
        # a node's addresses: its INTERNAL-IP, and its own address on the Pod bridge (cni0's
        # gateway), which MASQUERADE picks when the chosen backend runs on that same node
        book = AddressBook(state)
        node_ips = {n.internal_ip for n in state.nodes.values()} | {
            c for c in clients if any(o.kind == "node" for o in book.owners(c))}
        for client in clients:
            if seen == "source" and client != own:
                problems.append(f"the server saw {client}, not the client's own {own}")
            elif seen == "node" and client not in node_ips:
                problems.append(f"the server saw {client}, not a node's address")
            elif seen not in ("source", "node") and client != resolve(state, seen):
                problems.append(f"the server saw {client}, not {resolve(state, seen)}")
    if expect.get("echoed") and any(a.received != int(params.get("size", 64)) for a in ok):
        problems.append("the answer did not count every byte sent")
    return _verdict(problems, evidence)


def check_trace(runner, params, state, lab):
    expect = _expect(params)
    result = trace.run(lab, str(resolve(state, params["from"])), str(resolve(state, params["to"])),
                       params.get("protocol"), float(params.get("timeout", 1)))
    dnat = any(r.split(": ", 1)[1].startswith("DNAT") for r in result.rewrites)
    snat = [r for r in result.rewrites if r.split(": ", 1)[1].startswith("SNAT")]
    evidence = f"{result.kind}, {result.status}" + (f", rewrites: {' | '.join(result.rewrites)}" if result.rewrites else ", no rewrite")
    problems = []
    if result.status != expect.get("status", "reached"):
        problems.append(f"{result.status}: {result.reason}")
    if "kind" in expect and result.kind != expect["kind"]:
        problems.append(f"classified {result.kind}, expected {expect['kind']}")
    if "dnat" in expect and dnat != expect["dnat"]:
        problems.append("DNAT was " + ("expected" if expect["dnat"] else "not expected"))
    if "snat" in expect and bool(snat) != expect["snat"]:
        problems.append("SNAT was " + ("expected" if expect["snat"] else "not expected"))
    if "snat_by" in expect and snat and not any(expect["snat_by"] in r for r in snat):
        problems.append(f"the SNAT was not made by {expect['snat_by']}")
    problems += _policy_problems(expect, result.policy)
    if result.policy:
        evidence += f", NetworkPolicy: {'allowed' if result.policy['allowed'] else 'denied'} ({result.policy['reason']})"
    return _verdict(problems, evidence)


def _policy_problems(expect: dict, policy: dict | None) -> list[str]:
    """``policy: allowed|denied`` and ``policy_by: NS/NAME`` (a policy that allowed it, or one
    that isolates the Pod whose policies dropped it)."""
    problems = []
    if "policy" in expect:
        if policy is None:
            problems.append("no NetworkPolicy is in force")
        elif ("allowed" if policy["allowed"] else "denied") != expect["policy"]:
            problems.append(f"the policies {'allow' if policy['allowed'] else 'deny'} it, expected {expect['policy']}")
    if "policy_by" in expect and policy is not None:
        named = {k for side in ("egress", "ingress") for k in
                 policy["decision"].get(side, {}).get("allowedBy" if policy["allowed"] else "isolatedBy", [])}
        if expect["policy_by"] not in named:
            problems.append(f"decided by {', '.join(sorted(named)) or 'no policy'}, not {expect['policy_by']}")
    return problems


def check_matrix(runner, params, state, lab):
    """Every Pod (and node) to every Pod, judged against the NetworkPolicies in force: the
    e2e tests' truth table. ``expect: {match: true, denied_min: N, allowed_min: N}``."""
    result = matrix.run(lab, tuple(params.get("protocols", ("udp", "tcp"))),
                        include_nodes=bool(params.get("nodes", False)), timeout=float(params.get("timeout", 2)))
    expect = _expect(params)
    denied = result.denied
    allowed = len(result.pairs) - denied
    evidence = (f"{len(result.pairs)} pairs: {allowed} allowed, {denied} denied by policy, "
                f"{len(result.failures)} behaved otherwise")
    problems = []
    if expect.get("match", True) and not result.ok:
        sample = "; ".join(f"{p.proto} {p.source}->{p.target}" for p in result.failures[:3])
        problems.append(f"{len(result.failures)} pair(s) did not behave as the policies say ({sample})")
    if "denied_min" in expect and denied < int(expect["denied_min"]):
        problems.append(f"only {denied} pair(s) are denied by a policy, expected at least {expect['denied_min']}")
    if "allowed_min" in expect and allowed < int(expect["allowed_min"]):
        problems.append(f"only {allowed} pair(s) are allowed, expected at least {expect['allowed_min']}")
    return _verdict(problems, evidence)


def check_dns(runner, params, state, lab):
    expect = _expect(params)
    source = str(resolve(state, params["from"]))
    ns = AddressBook(state).netns_of(source)
    if ns is None:
        raise NotRunning(f"{source} is not a Running Pod of the lab")
    namespace = state.pods[source].namespace if source in state.pods else None
    # the name to look up: `lookup` (a check's own `name` key is its title, so a YAML mapping
    # cannot carry both under `name`; `name` stays accepted for files that use it)
    query = params.get("lookup", params.get("query", params.get("name")))
    if not query:
        raise InputError("dns check", params, "needs lookup: NAME (the name to resolve)")
    lookup = Client(lab).resolve(ns, namespace, str(query), via_dns_only=True)
    if lookup.error and not lookup.error.startswith("NXDOMAIN"):
        raise KernelError(lookup.error)
    evidence = f"{query} -> {lookup.address or 'NXDOMAIN'} (tried {', '.join(lookup.tried)})"
    if expect.get("nxdomain"):
        return _verdict([] if lookup.address is None else ["the name resolved"], evidence)
    wanted = resolve(state, expect.get("address"))
    return _verdict([] if lookup.address == wanted else [f"expected {wanted}"], evidence)


# -- kernel state -------------------------------------------------------------------------------

def check_iptables(runner, params, state, lab):
    expect = _expect(params)
    node = str(resolve(state, params["node"]))
    text = iptables.save(netns_name(state.name, node), params.get("table", "nat"))
    rules = [line for line in text.splitlines() if line.startswith("-A")]
    problems = []
    for pattern in expect.get("absent", []) if isinstance(expect.get("absent"), list) else [expect.get("absent")] if expect.get("absent") else []:
        hits = [r for r in rules if re.search(pattern, r)]
        if hits:
            problems.append(f"found {hits[0]}")
    for pattern in expect.get("present", []) if isinstance(expect.get("present"), list) else [expect.get("present")] if expect.get("present") else []:
        if not any(re.search(pattern, r) for r in rules):
            problems.append(f"no rule matches {pattern}")
    return _verdict(problems, f"{len(rules)} rules in the {params.get('table', 'nat')} table of {node}")


def check_sysctl(runner, params, state, lab):
    node = str(resolve(state, params["node"]))
    value = netlink.read_sysctl(lab.worker, netns_name(state.name, node), params["key"]).strip()
    wanted = str(_expect(params).get("value"))
    return _verdict([] if value == wanted else [f"{params['key']} is {value}, expected {wanted}"], f"{node}: {params['key']} = {value}")


def check_routes(runner, params, state, lab):
    import json as _json
    import subprocess

    node = str(resolve(state, params["node"]))
    proc = subprocess.run(["nsenter", f"--net=/run/netns/{netns_name(state.name, node)}", "--", "ip", "-j", "-4", "route"],
                          capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        raise KernelError(proc.stderr.strip())
    routes = {r["dst"]: r.get("gateway") for r in _json.loads(proc.stdout or "[]")}
    problems = []
    for item in _expect(params).get("present", []):
        dst, _, gateway = str(resolve(state, item)).partition(" via ")
        if dst not in routes:
            problems.append(f"no route to {dst}")
        elif gateway and routes[dst] != gateway:
            problems.append(f"{dst} goes via {routes[dst]}, not {gateway}")
    return _verdict(problems, f"{node}: " + ", ".join(f"{d} via {g}" if g else d for d, g in routes.items()))


# -- the student's own files ----------------------------------------------------------------------

def check_answer(runner, params, state, lab):
    answers = load_answers(runner.work)
    key = params["key"]
    path = os.path.join(runner.work, "answers.yaml")
    if key not in answers or answers[key] in (None, ""):
        return FAIL, f"no answer for {key} in {path}"
    given = answers[key]
    wanted = params.get("expect")
    choices = wanted if isinstance(wanted, list) else [wanted]
    if any(isinstance(c, str) and "{" in c for c in choices) and state is None:
        raise NotRunning(f"lab {runner.lab.lab_name} is not running: the answer is checked against it")
    values = [resolve(state, c, runner.record()) for c in choices]
    values = [v for value in values for v in (value if isinstance(value, list) else [value])]  # {new-pod-ips:}
    norm = lambda v: str(v).strip().lower()  # noqa: E731
    if any(norm(given) == norm(v) for v in values):
        return PASS, f"{key}: {given}"
    return FAIL, f"{key}: {given} is not right (look again: {params.get('hint', 'see the lab README')})"


def check_pcap(runner, params, state, lab):
    expect = _expect(params)
    path = os.path.join(runner.work, os.path.basename(params["file"]))
    if not os.path.exists(path):
        return FAIL, f"no capture at {path}"
    if state is None:
        raise NotRunning(f"lab {runner.lab.lab_name} is not running: the capture is checked against it")
    try:
        total, flows = read_flows(path)
    except ValueError as exc:
        return FAIL, str(exc)
    src = resolve(state, expect.get("src")) if expect.get("src") else None
    dst = resolve(state, expect.get("dst")) if expect.get("dst") else None
    dport = expect.get("dport")
    seen = {f"{f.src}->{f.dst}" for f in flows}
    matched = sum(1 for f in flows if (not src or f.src == src) and (not dst or f.dst == dst)
                  and (not dport or f.dport == int(dport)))
    evidence = f"{total} packets in {os.path.basename(path)}, {matched} from {src or 'any'} to {dst or 'any'}" + (
        f":{dport}" if dport else "")
    wanted = int(expect.get("min_packets", 1))
    if matched < wanted:
        return FAIL, evidence + f"; seen: {', '.join(sorted(seen)[:4]) or 'nothing'}"
    return PASS, evidence
