"""kube-proxy's iptables rules (podnet.services.proxier) and ip-masq-agent's (podnet.services.masq)."""

from __future__ import annotations

import re
from ipaddress import IPv4Network

import pytest

from podnet.core.model import RUNNING
from podnet.lab.initial import initial_state
from podnet.k8s.kube_proxy import masq, proxier
from podnet.k8s.kube_proxy.proxier import ext_chain, probability, render, restore_text, sep_chain, svc_chain
from podnet.core.spec import build_spec
from podnet.k8s.dns import addons
from podnet.k8s.workloads.apply import apply_objects, delete_objects
from podnet.k8s.workloads.manifests import parse_documents

NODES = [("node-1", "control-plane"), ("node-2", "worker"), ("node-3", "worker")]


def lab(**kwargs):
    return initial_state(build_spec(nodes=NODES, pods=[], **kwargs))


def deployment(name="web", replicas=2, port=8080, port_name="http", labels=None, namespace="default"):
    labels = labels or {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "app", "ports": [
                                      {"name": port_name, "containerPort": port}]}]}}}}


def service(name="web", selector=None, ports=None, namespace="default", **spec):
    body = {"selector": selector or {"app": name},
            "ports": ports or [{"port": 80, "targetPort": 8080}]}
    body.update(spec)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace}, "spec": body}


def applied(state, *docs):
    new, _ = apply_objects(state, parse_documents(list(docs)), rand=_counter())
    return new


def _counter():
    calls = iter(range(10**6))
    return lambda n: next(calls) % n


def run_pods(state, base="10.244.0."):
    """Every Pod Running, with IPs in creation order (.10, .11, ...)."""
    for offset, pod in enumerate(state.pods.values()):
        pod.phase = RUNNING
        pod.ip = f"{base}{10 + offset}"
    return state


def chain_rules(rules: list[str], chain: str) -> list[str]:
    return [r for r in rules if r.startswith(f"-A {chain} ")]


def web_state(replicas=2, **service_spec):
    state = applied(lab(), deployment(replicas=replicas), service(**service_spec))
    return run_pods(state)


# --- chain names ----------------------------------------------------------------------------


def test_known_kube_proxy_chain_names():
    assert svc_chain("kube-system/kube-dns:dns", "UDP") == "KUBE-SVC-TCOU7JCQXEZGVUNU"
    assert svc_chain("kube-system/kube-dns:dns", "udp") == "KUBE-SVC-TCOU7JCQXEZGVUNU"
    assert svc_chain("kube-system/kube-dns:dns-tcp", "TCP") == "KUBE-SVC-ERIFXISQEP7F7OF4"
    assert svc_chain("default/kubernetes:https", "TCP") == "KUBE-SVC-NPX46M4PTMTKRN6Y"


def test_chain_names_fit_iptables_and_differ_by_kind():
    label = "default/web:http"
    names = [svc_chain(label, "TCP"), ext_chain(label, "TCP"), sep_chain(label, "TCP", "10.244.0.2:80")]
    assert [n.split("-")[1] for n in names] == ["SVC", "EXT", "SEP"]
    for name in names:
        assert re.fullmatch(r"KUBE-(SVC|EXT|SEP)-[A-Z2-7]{16}", name)
        assert len(name) <= 28  # iptables chain name limit
    assert names[0][9:] == names[1][9:]  # SVC and EXT share the port's hash
    assert svc_chain(label, "TCP") != svc_chain(label, "UDP")
    assert sep_chain(label, "TCP", "10.244.0.2:80") != sep_chain(label, "TCP", "10.244.0.3:80")


def test_rendered_dns_chains_use_the_known_names():
    state = lab()
    state, _ = apply_objects(state, addons.dns_objects(state))
    run_pods(state)
    rules = render(state)
    assert "KUBE-SVC-TCOU7JCQXEZGVUNU" in rules.nat_chains
    assert "KUBE-SVC-ERIFXISQEP7F7OF4" in rules.nat_chains
    assert ('-A KUBE-SERVICES -d 10.96.0.10/32 -p udp -m comment --comment "kube-system/kube-dns:dns cluster IP" '
            "-m udp --dport 53 -j KUBE-SVC-TCOU7JCQXEZGVUNU") in rules.nat_rules
    assert ('-A KUBE-SERVICES -d 10.96.0.10/32 -p tcp -m comment --comment "kube-system/kube-dns:dns-tcp cluster '
            'IP" -m tcp --dport 53 -j KUBE-SVC-ERIFXISQEP7F7OF4') in rules.nat_rules


# --- the base chains ------------------------------------------------------------------------


def test_empty_lab_has_the_base_chains_and_rules():
    rules = render(lab())
    assert rules.nat_chains == ["KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"]
    assert rules.filter_chains == ["KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-FORWARD", "KUBE-NODEPORTS"]
    assert "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000" in rules.nat_rules
    assert rules.nat_rules[1:4] == [
        "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN",
        "-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0",
        '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE '
        "--random-fully",
    ]
    assert chain_rules(rules.nat_rules, "KUBE-SERVICES") == [
        '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in '
        'this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS']
    assert [r for r in rules.filter_rules if not r.startswith("-A KUBE-FORWARD ")] == []
    assert rules.chains() == set(rules.nat_chains) | set(rules.filter_chains)


# --- ClusterIP with endpoints ---------------------------------------------------------------


def test_cluster_ip_rules_for_two_endpoints():
    state = web_state()
    svc = state.services["default/web"]
    ip = svc.cluster_ip
    chain = svc_chain("default/web", "TCP")
    pods = sorted(state.pods.values(), key=lambda p: p.ip)
    seps = [sep_chain("default/web", "TCP", f"{p.ip}:8080") for p in pods]
    rules = render(state)
    assert rules.nat_chains[4:] == [chain] + seps
    assert f'-A KUBE-SERVICES -d {ip}/32 -p tcp -m comment --comment "default/web cluster IP" -m tcp --dport 80 ' \
           f"-j {chain}" in rules.nat_rules
    assert chain_rules(rules.nat_rules, chain) == [
        f'-A {chain} ! -s 10.244.0.0/16 -d {ip}/32 -p tcp -m comment --comment "default/web cluster IP" -m tcp '
        "--dport 80 -j KUBE-MARK-MASQ",
        f'-A {chain} -m comment --comment "default/web -> {pods[0].ip}:8080" -m statistic --mode random '
        f"--probability 0.5000000000 -j {seps[0]}",
        f'-A {chain} -m comment --comment "default/web -> {pods[1].ip}:8080" -j {seps[1]}',
    ]
    for pod, sep in zip(pods, seps):
        assert chain_rules(rules.nat_rules, sep) == [
            f'-A {sep} -s {pod.ip}/32 -m comment --comment "default/web" -j KUBE-MARK-MASQ',  # hairpin
            f'-A {sep} -p tcp -m comment --comment "default/web" -m tcp -j DNAT --to-destination {pod.ip}:8080',
        ]
    # nothing is rejected when there are endpoints
    assert not any("REJECT" in r for r in rules.filter_rules)


def test_masquerade_rule_uses_the_lab_cluster_cidr():
    state = applied(initial_state(build_spec(nodes=NODES, pods=[], cluster_cidr="100.64.0.0/16")),
                    deployment(), service())
    run_pods(state, base="100.64.0.")
    chain = svc_chain("default/web", "TCP")
    first = chain_rules(render(state).nat_rules, chain)[0]
    assert f"-A {chain} ! -s 100.64.0.0/16 -d " in first and first.endswith("-j KUBE-MARK-MASQ")


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7])
def test_statistic_cascade_probabilities(n):
    state = web_state(replicas=n)
    chain = svc_chain("default/web", "TCP")
    jumps = [r for r in chain_rules(render(state).nat_rules, chain) if "-j KUBE-SEP-" in r]
    assert len(jumps) == n
    found = [re.search(r"--probability (\S+)", r) for r in jumps]
    assert found[-1] is None  # the last endpoint takes whatever is left
    expected = [1.0 / (n - i) for i in range(n - 1)]
    assert [float(m.group(1)) for m in found[:-1]] == pytest.approx(expected, abs=1e-10)
    assert [m.group(1) for m in found[:-1]] == [f"{p:0.10f}" for p in expected]
    # every endpoint is reached exactly once, in IP order
    ips = sorted(p.ip for p in state.pods.values())
    assert [re.search(r'-> (\S+)"', r).group(1) for r in jumps] == [f"{ip}:8080" for ip in ips]


def test_probability_format():
    assert probability(1) == "1.0000000000"
    assert probability(2) == "0.5000000000"
    assert probability(3) == "0.3333333333"
    assert probability(7) == "0.1428571429"


def test_endpoints_are_sorted_numerically_not_as_text():
    state = applied(lab(), deployment(replicas=3), service())
    for pod, ip in zip(state.pods.values(), ["10.244.0.10", "10.244.0.9", "10.244.0.100"]):
        pod.phase, pod.ip = RUNNING, ip
    chain = svc_chain("default/web", "TCP")
    jumps = [r for r in chain_rules(render(state).nat_rules, chain) if "-j KUBE-SEP-" in r]
    assert [re.search(r'-> (\S+):8080"', r).group(1) for r in jumps] == ["10.244.0.9", "10.244.0.10", "10.244.0.100"]


def test_client_ip_affinity_rules():
    state = web_state(replicas=3, sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}})
    chain = svc_chain("default/web", "TCP")
    ips = sorted(p.ip for p in state.pods.values())
    seps = [sep_chain("default/web", "TCP", f"{ip}:8080") for ip in ips]
    rules = render(state).nat_rules
    body = chain_rules(rules, chain)
    recent = [i for i, r in enumerate(body) if "--rcheck" in r]
    statistic = [i for i, r in enumerate(body) if "-j KUBE-SEP-" in r and "--rcheck" not in r]
    assert len(recent) == 3 and len(statistic) == 3
    assert max(recent) < min(statistic)  # sticky endpoints are checked before the random pick
    for index, (ip, sep) in zip(recent, zip(ips, seps)):
        assert body[index] == (f'-A {chain} -m comment --comment "default/web -> {ip}:8080" -m recent --name {sep} '
                               f"--mask 255.255.255.255 --rsource --rcheck --seconds 60 --reap -j {sep}")
    for ip, sep in zip(ips, seps):
        dnat = [r for r in chain_rules(rules, sep) if "DNAT" in r]
        assert dnat == [f'-A {sep} -p tcp -m comment --comment "default/web" -m recent --set --name {sep} '
                        f"--mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination {ip}:8080"]


def test_no_recent_match_without_affinity():
    rules = render(web_state(replicas=3))
    assert not any("-m recent" in r for r in rules.nat_rules)


def test_udp_service_port_matches_udp():
    state = applied(lab(), deployment(port=5353, port_name="dns"),
                    service(ports=[{"port": 53, "targetPort": 5353, "protocol": "UDP"}]))
    run_pods(state)
    chain = svc_chain("default/web", "UDP")
    rules = render(state).nat_rules
    entry = [r for r in rules if r.endswith(f"-j {chain}") and r.startswith("-A KUBE-SERVICES")]
    assert len(entry) == 1 and "-p udp" in entry[0] and "-m udp --dport 53" in entry[0]
    dnat = [r for r in rules if "DNAT" in r]
    assert all("-p udp" in r and "-m udp" in r and r.endswith(":5353") for r in dnat) and len(dnat) == 2


def test_named_target_port_resolves_per_pod():
    pods = [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "labels": {"app": "web"}},
         "spec": {"containers": [{"name": "c", "ports": [{"name": "http", "containerPort": 8080}]}]}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "b", "labels": {"app": "web"}},
         "spec": {"containers": [{"name": "c", "ports": [{"name": "http", "containerPort": 9090}]}]}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "c", "labels": {"app": "web"}},
         "spec": {"containers": [{"name": "c", "ports": [{"name": "metrics", "containerPort": 8080}]}]}},
    ]
    state = run_pods(applied(lab(), *pods, service(ports=[{"port": 80, "targetPort": "http"}])))
    dnat = sorted(r.rsplit(" ", 1)[1] for r in render(state).nat_rules if "DNAT" in r)
    assert dnat == [f"{state.pods['a'].ip}:8080", f"{state.pods['b'].ip}:9090"]


# --- no endpoints -----------------------------------------------------------------------------


def test_service_without_endpoints_is_rejected_and_has_no_svc_chain():
    state = applied(lab(), deployment(), service(type="NodePort", ports=[{"port": 80, "targetPort": 8080,
                                                                          "nodePort": 30080}]))
    # the Pods exist but are not Running: still no endpoints
    ip = state.services["default/web"].cluster_ip
    rules = render(state)
    assert rules.filter_rules[3:] == [
        f'-A KUBE-SERVICES -d {ip}/32 -p tcp -m comment --comment "default/web has no endpoints" -m tcp --dport 80 '
        "-j REJECT --reject-with icmp-port-unreachable",
        '-A KUBE-EXTERNAL-SERVICES -p tcp -m comment --comment "default/web has no endpoints" -m addrtype '
        "--dst-type LOCAL -m tcp --dport 30080 -j REJECT --reject-with icmp-port-unreachable",
    ]
    assert svc_chain("default/web", "TCP") not in rules.nat_chains
    assert ext_chain("default/web", "TCP") not in rules.nat_chains
    assert not any(c.startswith(("KUBE-SVC-", "KUBE-SEP-", "KUBE-EXT-")) for c in rules.nat_chains)
    assert not any(ip in r for r in rules.nat_rules)
    assert chain_rules(rules.nat_rules, "KUBE-NODEPORTS") == []


def test_cluster_ip_without_endpoints_has_no_external_reject():
    rules = render(applied(lab(), service()))
    rejects = [r for r in rules.filter_rules if "REJECT" in r]
    assert len(rejects) == 1 and rejects[0].startswith("-A KUBE-SERVICES ")


def test_rules_follow_endpoints_as_pods_come_and_go():
    state = web_state(replicas=2)
    chain = svc_chain("default/web", "TCP")
    assert chain in render(state).nat_chains
    for pod in state.pods.values():
        pod.phase = "ContainerCreating"
    rules = render(state)
    assert chain not in rules.nat_chains
    assert any("has no endpoints" in r for r in rules.filter_rules)
    first = next(iter(state.pods.values()))
    first.phase = RUNNING
    rules = render(state)
    jumps = [r for r in chain_rules(rules.nat_rules, chain) if "-j KUBE-SEP-" in r]
    assert len(jumps) == 1 and "statistic" not in jumps[0] and f"{first.ip}:8080" in jumps[0]
    assert not any("REJECT" in r for r in rules.filter_rules)


def test_service_with_one_port_without_endpoints_rejects_only_that_port():
    state = applied(lab(), deployment(), service(ports=[{"name": "http", "port": 80, "targetPort": "http"},
                                                        {"name": "admin", "port": 81, "targetPort": "admin"}]))
    run_pods(state)
    rules = render(state)
    assert svc_chain("default/web:http", "TCP") in rules.nat_chains
    assert svc_chain("default/web:admin", "TCP") not in rules.nat_chains
    rejects = [r for r in rules.filter_rules if "REJECT" in r]
    assert len(rejects) == 1 and '"default/web:admin has no endpoints"' in rejects[0] and "--dport 81" in rejects[0]


# --- NodePort ---------------------------------------------------------------------------------


def test_node_port_chain_structure():
    state = web_state(type="NodePort", ports=[{"port": 80, "targetPort": 8080, "nodePort": 30080}])
    label = "default/web"
    svc, ext = svc_chain(label, "TCP"), ext_chain(label, "TCP")
    rules = render(state)
    assert ext in rules.nat_chains and svc in rules.nat_chains
    assert chain_rules(rules.nat_rules, "KUBE-NODEPORTS") == [
        f'-A KUBE-NODEPORTS -p tcp -m comment --comment "{label}" -m tcp --dport 30080 -j {ext}']
    assert chain_rules(rules.nat_rules, ext) == [
        f'-A {ext} -m comment --comment "masquerade traffic for {label} external destinations" -j KUBE-MARK-MASQ',
        f"-A {ext} -j {svc}",
    ]


def test_node_ports_rule_is_last_in_kube_services():
    state = applied(lab(), deployment(), service(type="NodePort"),
                    deployment(name="api"), service(name="api"),
                    deployment(name="zeta"), service(name="zeta", type="NodePort"))
    run_pods(state)
    services = chain_rules(render(state).nat_rules, "KUBE-SERVICES")
    assert len(services) == 4
    assert services[-1].endswith("-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS")
    assert all("KUBE-NODEPORTS" not in r for r in services[:-1])


def test_every_sep_has_a_hairpin_rule():
    state = web_state(replicas=4, type="NodePort")
    rules = render(state)
    seps = [c for c in rules.nat_chains if c.startswith("KUBE-SEP-")]
    assert len(seps) == 4
    hairpins = {re.search(r"-s (\S+)/32", chain_rules(rules.nat_rules, sep)[0]).group(1) for sep in seps}
    assert hairpins == {p.ip for p in state.pods.values()}
    for sep in seps:
        assert chain_rules(rules.nat_rules, sep)[0].endswith("-j KUBE-MARK-MASQ")


def test_render_is_deterministic_whatever_the_service_order():
    state = applied(lab(), deployment(), service(), deployment(name="api"), service(name="api"))
    run_pods(state)
    first = render(state)
    state.services = dict(reversed(list(state.services.items())))
    second = render(state)
    assert first == second


def test_deleting_a_service_removes_only_its_chains():
    state = applied(lab(), deployment(), service(), deployment(name="api"), service(name="api"))
    run_pods(state)
    before = render(state)
    after_state, _ = delete_objects(state, "svc", ["web"], "default")
    after = render(after_state)
    web_chains = {c for c in before.nat_chains if c not in after.nat_chains}
    assert svc_chain("default/web", "TCP") in web_chains
    assert len(web_chains) == 3  # SVC + two SEPs
    assert all(c in before.nat_chains for c in after.nat_chains)
    kept = [r for r in before.nat_rules if not any(c in r for c in web_chains)
            and state.services["default/web"].cluster_ip not in r]
    assert kept == after.nat_rules


# --- restore_text -----------------------------------------------------------------------------


def test_restore_text_declares_and_deletes_stale_chains_and_adds_missing_jumps():
    rules = render(web_state())
    stale = {"nat": {"KUBE-SVC-OLDOLDOLDOLDOLD1", "KUBE-SEP-OLDOLDOLDOLDOLD2", rules.nat_chains[4]},
             "filter": {"KUBE-OLD-FILTER"}}
    missing = [j for j in proxier.JUMPS if j[1] in ("PREROUTING", "INPUT")]
    text = restore_text(rules, stale, missing, [masq.CHAIN], ["-A IP-MASQ-AGENT -j MASQUERADE"])
    lines = text.splitlines()
    assert text.endswith("COMMIT\n")
    nat = lines[:lines.index("COMMIT")]
    filt = lines[lines.index("COMMIT") + 1:-1]
    assert nat[0] == "*nat" and filt[0] == "*filter"
    # every wanted chain is declared (which flushes it), then stale ones
    declared = [line[1:].split(" ")[0] for line in nat if line.startswith(":")]
    assert declared == rules.nat_chains + [masq.CHAIN, "KUBE-SEP-OLDOLDOLDOLDOLD2", "KUBE-SVC-OLDOLDOLDOLDOLD1"]
    # stale chains are deleted after every rule, a wanted chain never is
    assert nat[-2:] == ["-X KUBE-SEP-OLDOLDOLDOLDOLD2", "-X KUBE-SVC-OLDOLDOLDOLDOLD1"]
    assert f"-X {rules.nat_chains[4]}" not in nat
    assert ("-I PREROUTING 1 -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES") in nat
    assert "-A IP-MASQ-AGENT -j MASQUERADE" in nat
    assert all(rule in nat for rule in rules.nat_rules)
    assert nat.index("-A IP-MASQ-AGENT -j MASQUERADE") > nat.index(rules.nat_rules[-1])
    assert ":KUBE-OLD-FILTER - [0:0]" in filt and filt[-1] == "-X KUBE-OLD-FILTER"
    assert ('-I INPUT 1 -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service '
            'portals" -j KUBE-EXTERNAL-SERVICES') in filt
    assert all(rule in filt for rule in rules.filter_rules)
    assert not any("PREROUTING" in line for line in filt) and not any("INPUT" in line for line in nat)


def test_restore_text_without_stale_chains_or_missing_jumps():
    rules = render(lab())
    text = restore_text(rules, {}, [])
    assert "-X" not in text
    assert text.count("COMMIT") == 2
    assert text.splitlines()[1:5] == [f":{c} - [0:0]" for c in rules.nat_chains]


def test_jumps_from_built_in_chains():
    tables = {(table, chain) for table, chain, _ in proxier.JUMPS}
    assert {("nat", "PREROUTING"), ("nat", "OUTPUT"), ("nat", "POSTROUTING"), ("filter", "FORWARD"),
            ("filter", "INPUT"), ("filter", "OUTPUT")} == tables
    targets = {rule.rsplit("-j ", 1)[1] for _, _, rule in proxier.JUMPS}
    assert targets == {"KUBE-SERVICES", "KUBE-POSTROUTING", "KUBE-EXTERNAL-SERVICES", "KUBE-FORWARD"}


# --- ip-masq-agent ----------------------------------------------------------------------------


def test_non_masquerade_cidrs_default_to_rfc1918():
    assert masq.non_masquerade_cidrs(IPv4Network("10.244.0.0/16")) == ["10.0.0.0/8", "172.16.0.0/12",
                                                                        "192.168.0.0/16"]
    assert masq.non_masquerade_cidrs(IPv4Network("172.20.0.0/16")) == ["10.0.0.0/8", "172.16.0.0/12",
                                                                        "192.168.0.0/16"]


def test_cluster_cidr_outside_rfc1918_is_added():
    assert masq.non_masquerade_cidrs(IPv4Network("100.64.0.0/16")) == [
        "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/16"]


def test_masq_rules_order():
    out = masq.rules(IPv4Network("100.64.0.0/16"))
    returns = [re.search(r"-d (\S+) ", r).group(1) for r in out if r.endswith("-j RETURN")]
    assert returns == ["169.254.0.0/16", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/16"]
    assert all(r.startswith("-A IP-MASQ-AGENT ") for r in out)
    assert out[-1].endswith("-j MASQUERADE") and "-d " not in out[-1]
    assert sum(r.endswith("-j MASQUERADE") for r in out) == 1


def test_masq_jump_only_for_non_local_destinations():
    table, chain, rule = masq.JUMP
    assert (table, chain) == ("nat", "POSTROUTING")
    assert rule.endswith("-m addrtype ! --dst-type LOCAL -j IP-MASQ-AGENT")
