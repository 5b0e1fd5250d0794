"""The policy agent's iptables rules as data (podnet.k8s.policy.rules): kube-router's chain
layout, where each direction is enforced, how peers and ports become matches, and the
``iptables-restore --noflush`` text that brings a node's filter table there. Pure."""

from __future__ import annotations

import re

from podnet.k8s.policy.policies import EGRESS, INGRESS, policies
from podnet.k8s.policy.rules import (
    JUMP, POD_PREFIX, POLICY_PREFIX, TOP_CHAIN, NodeRules, pod_chain, policy_chain, render, restore_text,
)
from tests.support.policy_states import namespace, pod, policy, state_with

HTTP = [{"name": "http", "containerPort": 8080}]


def lab(*docs):
    return state_with(namespace("shop"), namespace("tools"),
                      pod("web", "shop", "node-1", ports=HTTP, app="web"),
                      pod("db", "shop", "node-1", app="db"),
                      pod("debug", "tools", "node-2", app="debug"), *docs)


def allow_http_from_everywhere():
    return policy("allow", {"podSelector": {"matchLabels": {"app": "web"}},
                            "ingress": [{"from": [{"namespaceSelector": {}}], "ports": [{"port": "http"}]}]}, "shop")


def debug_egress():
    return policy("eg", {"podSelector": {"matchLabels": {"app": "debug"}}, "policyTypes": ["Egress"],
                         "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["8.8.8.8/32"]}}]}]}, "tools")


def test_no_policies_no_rules_anywhere():
    state = lab()
    assert all(render(state, n).empty for n in state.nodes)


def test_ingress_is_enforced_on_the_destinations_node_only():
    state = lab(allow_http_from_everywhere())
    assert not render(state, "node-1").empty
    assert render(state, "node-2").empty and render(state, "node-3").empty


def test_egress_is_enforced_on_the_sources_node_only():
    state = lab(debug_egress())
    assert render(state, "node-2").chains and render(state, "node-1").empty


def test_top_chain_lets_replies_through_first_then_sends_each_isolated_pod_to_its_chain():
    state = lab(allow_http_from_everywhere())
    web = state.pods["web"]
    top = render(state, "node-1").chains[TOP_CHAIN]
    assert "--ctstate RELATED,ESTABLISHED -j RETURN" in top[0]
    assert top[1:] == [f'-A {TOP_CHAIN} -d {web.ip}/32 -m comment --comment "ingress of shop/web" '
                       f"-j {pod_chain(web, INGRESS)}"]


def test_pod_chain_clears_the_mark_jumps_to_every_policy_returns_if_marked_else_drops():
    state = lab(policy("a", {"podSelector": {}}, "shop"), allow_http_from_everywhere())
    web = state.pods["web"]
    rules = render(state, "node-1").chains[pod_chain(web, INGRESS)]
    by_key = {p.key: p for p in policies(state)}
    chain = pod_chain(web, INGRESS)
    assert rules == [
        f"-A {chain} -j MARK --set-xmark 0x0/0x10000",
        f'-A {chain} -m comment --comment "shop/a" -j {policy_chain(by_key["shop/a"], INGRESS)}',
        f'-A {chain} -m comment --comment "shop/allow" -j {policy_chain(by_key["shop/allow"], INGRESS)}',
        f"-A {chain} -m mark --mark 0x10000/0x10000 -j RETURN",
        f'-A {chain} -m comment --comment "no NetworkPolicy allows this ingress of shop/web" -j DROP',
    ]


def test_a_policy_without_rules_has_an_empty_chain():
    state = lab(policy("deny", {"podSelector": {}}, "shop"))
    deny = policies(state)[0]
    assert render(state, "node-1").chains[policy_chain(deny, INGRESS)] == []


def test_selector_peers_become_one_source_match_per_pod_and_named_ports_the_destinations_number():
    state = lab(allow_http_from_everywhere())
    allow = policies(state)[0]
    rules = render(state, "node-1").chains[policy_chain(allow, INGRESS)]
    web = state.pods["web"]
    sources = sorted(re.search(r"-s (\S+)", r).group(1) for r in rules)
    assert sources == sorted(f"{p.ip}/32" for p in state.pods.values() if p.namespace != "kube-system")
    assert all(f"-d {web.ip}/32 -p tcp -m tcp --dport 8080 " in r and r.endswith("-j MARK --set-xmark 0x10000/0x10000")
               for r in rules)


def test_a_named_port_no_selected_pod_has_renders_nothing():
    spec = {"podSelector": {"matchLabels": {"app": "db"}}, "ingress": [{"ports": [{"port": "http"}]}]}
    state = lab(policy("p", spec, "shop"))
    assert render(state, "node-1").chains[policy_chain(policies(state)[0], INGRESS)] == []


def test_port_ranges_and_protocols():
    spec = {"podSelector": {}, "ingress": [{"ports": [{"protocol": "UDP", "port": 53},
                                                      {"port": 32000, "endPort": 32768},
                                                      {"protocol": "UDP"}]}]}
    state = lab(policy("p", spec, "shop"))
    rules = render(state, "node-1").chains[policy_chain(policies(state)[0], INGRESS)]
    assert [re.search(r"-p .*?(?= -m comment)", r).group(0) for r in rules] == [
        "-p udp -m udp --dport 53", "-p tcp -m tcp --dport 32000:32768", "-p udp"]


def test_ip_block_except_returns_before_marking():
    state = lab(debug_egress())
    eg = policies(state)[0]
    chains = render(state, "node-2").chains
    [jump] = chains[policy_chain(eg, EGRESS)]
    target = jump.rsplit(" -j ", 1)[1]
    assert jump.startswith(f"-A {policy_chain(eg, EGRESS)} -d 0.0.0.0/0 ")
    assert target.startswith(POLICY_PREFIX)
    assert chains[target] == [f"-A {target} -d 8.8.8.8/32 -j RETURN", f"-A {target} -j MARK --set-xmark 0x10000/0x10000"]


def test_an_ipv6_block_matches_nothing_in_an_ipv4_lab():
    spec = {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "2001:db8::/64"}}]}]}
    state = lab(policy("p", spec, "shop"))
    assert render(state, "node-1").chains[policy_chain(policies(state)[0], INGRESS)] == []


def test_chain_names_are_stable_and_within_iptables_limits():
    state = lab(allow_http_from_everywhere(), debug_egress())
    first = {n: render(state, n).chains for n in state.nodes}
    again = {n: render(lab(allow_http_from_everywhere(), debug_egress()), n).chains for n in state.nodes}
    assert {n: list(c) for n, c in first.items()} == {n: list(c) for n, c in again.items()}
    names = [c for chains in first.values() for c in chains]
    assert all(len(c) <= 28 for c in names), names  # iptables' chain name limit
    assert all(c == TOP_CHAIN or c.startswith((POD_PREFIX, POLICY_PREFIX)) for c in names)


def test_restore_text_declares_fills_and_puts_the_jump_first():
    state = lab(allow_http_from_everywhere())
    rules = render(state, "node-1")
    text = restore_text(rules, current_chains=set(), jump_position=None)
    lines = text.splitlines()
    assert lines[0] == "*filter" and lines[-1] == "COMMIT"
    assert [line for line in lines if line.startswith(":")] == [f":{c} - [0:0]" for c in rules.chains]
    assert f"-I FORWARD 1 {JUMP}" in lines and f"-D FORWARD {JUMP}" not in lines
    again = restore_text(rules, set(rules.chains), jump_position=1).splitlines()
    assert not [line for line in again if re.match(r"-[ADI] FORWARD ", line)]  # already first: left alone


def test_restore_text_moves_a_jump_that_is_not_first_and_drops_stale_chains():
    state = lab(allow_http_from_everywhere())
    rules = render(state, "node-1")
    stale = POD_PREFIX + "GONEGONEGONEGONE"
    text = restore_text(rules, set(rules.chains) | {stale, "KUBE-SERVICES"}, jump_position=3)
    lines = text.splitlines()
    assert lines.index(f"-D FORWARD {JUMP}") < lines.index(f"-I FORWARD 1 {JUMP}")
    assert f"-X {stale}" in lines and f":{stale} - [0:0]" in lines  # flushed, then deleted
    assert "KUBE-SERVICES" not in text  # kube-proxy's chains are not ours


def test_restore_text_for_no_rules_removes_everything_of_ours():
    old = render(lab(allow_http_from_everywhere()), "node-1")
    text = restore_text(NodeRules(), set(old.chains), jump_position=1)
    lines = text.splitlines()
    assert f"-D FORWARD {JUMP}" in lines and not any(line.startswith("-I") or line.startswith("-A") for line in lines)
    assert sorted(line[3:] for line in lines if line.startswith("-X ")) == sorted(old.chains)
