"""What a NetworkPolicy allows, against the examples and rules of the Kubernetes documentation
(podnet.k8s.policy.policies and podnet.k8s.policy.decide): selection, isolation per direction,
peers, ports, ipBlocks, additivity, and the own-node exception. Pure."""

from __future__ import annotations

import pytest

from podnet.k8s.policy.decide import Endpoint, Judge, pod_endpoint
from podnet.k8s.policy.policies import INGRESS, isolating, policies
from tests.support.policy_states import (
    allowed, allowed_from_ip, allowed_to_ip, apply_more, namespace, pod, policy, state_with,
)

DENY_INGRESS = {"podSelector": {}, "policyTypes": ["Ingress"]}
DENY_EGRESS = {"podSelector": {}, "policyTypes": ["Egress"]}


def shop(*policies_docs: dict) -> object:
    """Namespaces shop (team=shop) and tools (team=tools); Pods web and db in shop, debug in tools."""
    return state_with(namespace("shop", team="shop"), namespace("tools", team="tools"),
                      pod("web", "shop", "node-1", ports=[{"name": "http", "containerPort": 8080}], app="web"),
                      pod("db", "shop", "node-2", ports=[{"name": "postgres", "containerPort": 5432}], app="db"),
                      pod("debug", "tools", "node-3", app="debug"),
                      *policies_docs)


def test_without_policies_every_pod_reaches_every_pod():
    state = shop()
    assert all(allowed(state, a, b) for a in state.pods for b in state.pods if a != b)


def test_default_deny_ingress_isolates_every_pod_of_its_namespace_and_only_for_ingress():
    state = shop(policy("deny", DENY_INGRESS, "shop"))
    assert not allowed(state, "debug", "web") and not allowed(state, "db", "web") and not allowed(state, "web", "db")
    assert allowed(state, "web", "debug")  # debug (tools) is not selected; shop's egress is not isolated


def test_a_pod_no_policy_selects_stays_open():
    state = shop(policy("web-only", {"podSelector": {"matchLabels": {"app": "web"}}}, "shop"))
    assert not allowed(state, "debug", "web")
    assert allowed(state, "debug", "db")


def test_a_policy_selects_only_pods_of_its_own_namespace():
    state = apply_more(shop(), pod("web-tools", "tools", "node-2", app="web"))
    state = apply_more(state, policy("deny-web", {"podSelector": {"matchLabels": {"app": "web"}}}, "shop"))
    assert not allowed(state, "debug", "web")
    assert allowed(state, "debug", "web-tools")  # same labels, other namespace


def test_default_deny_egress_leaves_ingress_alone():
    state = shop(policy("deny-out", DENY_EGRESS, "shop"))
    assert not allowed(state, "web", "debug") and not allowed(state, "web", "db")
    assert allowed(state, "debug", "web")


def test_empty_rule_list_denies_but_one_empty_rule_allows_everything():
    deny = shop(policy("p", {"podSelector": {}, "ingress": []}, "shop"))
    assert not allowed(deny, "debug", "web")
    allow_all = shop(policy("deny", DENY_INGRESS, "shop"), policy("all", {"podSelector": {}, "ingress": [{}]}, "shop"))
    assert allowed(allow_all, "debug", "web", "UDP", 53) and allowed(allow_all, "debug", "web", "ICMP", None)


@pytest.mark.parametrize("rule", [{"ports": [{"port": 8080}]}, {"from": [], "ports": [{"port": 8080}]}],
                         ids=["from-missing", "from-empty"])
def test_from_missing_or_empty_matches_every_source(rule):
    state = shop(policy("p", {"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [rule]}, "shop"))
    assert allowed(state, "debug", "web", port=8080) and allowed(state, "db", "web", port=8080)
    assert allowed_from_ip(state, "203.0.113.9", "web", port=8080)
    assert not allowed(state, "debug", "web", port=80)


def test_pod_selector_peer_means_pods_of_the_policys_namespace():
    state = apply_more(shop(), pod("db-tools", "tools", "node-1", app="db"))
    spec = {"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "db"}}}]}]}
    state = apply_more(state, policy("from-db", spec, "shop"))
    assert allowed(state, "db", "web")
    assert not allowed(state, "db-tools", "web")  # app=db, but in tools


def _peers_state(peers: list) -> object:
    state = state_with(namespace("shop"), namespace("monitoring", purpose="monitoring"), namespace("tools"),
                       pod("web", "shop", "node-1", app="web"),
                       pod("prober", "monitoring", "node-2", app="prober"),
                       pod("grafana", "monitoring", "node-2", app="grafana"),
                       pod("prober-tools", "tools", "node-3", app="prober"),
                       pod("prober-shop", "shop", "node-3", app="prober"))
    return apply_more(state, policy("p", {"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{"from": peers}]}, "shop"))


def test_namespace_and_pod_selector_in_one_peer_mean_those_pods_in_those_namespaces():
    state = _peers_state([{"namespaceSelector": {"matchLabels": {"purpose": "monitoring"}},
                           "podSelector": {"matchLabels": {"app": "prober"}}}])
    assert [n for n in ("prober", "grafana", "prober-tools", "prober-shop") if allowed(state, n, "web")] == ["prober"]


def test_namespace_and_pod_selector_in_two_peers_mean_either():
    state = _peers_state([{"namespaceSelector": {"matchLabels": {"purpose": "monitoring"}}},
                          {"podSelector": {"matchLabels": {"app": "prober"}}}])
    # every Pod of monitoring, and app=prober Pods of shop (a bare podSelector is the policy's namespace)
    assert [n for n in ("prober", "grafana", "prober-tools", "prober-shop") if allowed(state, n, "web")] == \
        ["prober", "grafana", "prober-shop"]


def test_empty_namespace_selector_is_every_pod_of_every_namespace():
    state = _peers_state([{"namespaceSelector": {}}])
    assert all(allowed(state, n, "web") for n in ("prober", "grafana", "prober-tools", "prober-shop"))
    assert not allowed_from_ip(state, "192.168.77.50", "web")  # but not an address outside the Pods


def test_namespace_labels_decide_and_a_label_change_changes_the_answer():
    state = _peers_state([{"namespaceSelector": {"matchLabels": {"purpose": "monitoring"}}}])
    assert allowed(state, "grafana", "web")
    state.kube_namespaces["monitoring"].labels.pop("purpose")
    assert not allowed(state, "grafana", "web")


def test_match_expressions_select_pods():
    spec = {"podSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "db"]}]},
            "policyTypes": ["Ingress"]}
    state = shop(policy("p", spec, "shop"))
    assert not allowed(state, "debug", "web") and not allowed(state, "debug", "db")


def test_named_port_is_the_destination_pods_own_container_port():
    spec = {"podSelector": {}, "ingress": [{"ports": [{"port": "http"}]}]}
    state = shop(policy("p", spec, "shop"))
    assert allowed(state, "debug", "web", port=8080)
    assert not allowed(state, "debug", "web", port=80)
    assert not allowed(state, "debug", "db", port=8080)  # db has no port named http
    assert not allowed(state, "debug", "web", "UDP", 8080)  # the named port is TCP


def test_end_port_makes_a_range_inclusive():
    spec = {"podSelector": {}, "ingress": [{"ports": [{"protocol": "TCP", "port": 32000, "endPort": 32768}]}]}
    state = shop(policy("p", spec, "shop"))
    assert [p for p in (31999, 32000, 32500, 32768, 32769) if allowed(state, "debug", "web", port=p)] == [32000, 32500, 32768]


def test_port_rules_are_per_protocol_and_never_allow_icmp():
    spec = {"podSelector": {}, "ingress": [{"ports": [{"protocol": "UDP", "port": 53}]}]}
    state = shop(policy("p", spec, "shop"))
    assert allowed(state, "debug", "web", "UDP", 53)
    assert not allowed(state, "debug", "web", "TCP", 53)
    assert not allowed(state, "debug", "web", "ICMP", None)


def test_ip_block_with_except_from_the_documentation():
    spec = {"podSelector": {"matchLabels": {"app": "db"}}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"ipBlock": {"cidr": "172.17.0.0/16", "except": ["172.17.1.0/24"]}}]}]}
    state = shop(policy("p", spec, "shop"))
    assert allowed_from_ip(state, "172.17.0.5", "db") and allowed_from_ip(state, "172.17.2.200", "db")
    assert not allowed_from_ip(state, "172.17.1.5", "db")
    assert not allowed_from_ip(state, "172.18.0.1", "db")
    assert not allowed_from_ip(state, "2001:db8::1", "db")  # another family is never inside the block


def test_ip_block_egress_except_and_pod_addresses_inside_the_block():
    spec = {"podSelector": {"matchLabels": {"app": "debug"}}, "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["8.8.8.8/32"]}}]}]}
    state = shop(policy("p", spec, "tools"))
    assert allowed_to_ip(state, "debug", "93.184.215.14") and not allowed_to_ip(state, "debug", "8.8.8.8")
    assert allowed(state, "debug", "web")  # podnet (like Calico and kube-router) matches Pod IPs to ipBlocks


def test_policies_add_up():
    only_web = {"podSelector": {"matchLabels": {"app": "db"}}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}]}]}
    from_tools = {"podSelector": {"matchLabels": {"app": "db"}}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "tools"}}}]}]}
    one = shop(policy("a", only_web, "shop"))
    assert allowed(one, "web", "db") and not allowed(one, "debug", "db")
    both = shop(policy("a", only_web, "shop"), policy("b", from_tools, "shop"))
    assert allowed(both, "web", "db") and allowed(both, "debug", "db")


def test_both_ends_must_allow():
    ingress_ok = {"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{"from": [{"namespaceSelector": {}}]}]}
    state = shop(policy("in", ingress_ok, "shop"), policy("out", DENY_EGRESS, "tools"))
    decision = Judge(state).decide(pod_endpoint(state.pods["debug"]), pod_endpoint(state.pods["web"]), "TCP", 80)
    assert not decision.allowed
    assert decision.ingress.allowed_by == ["shop/in"] and decision.egress.isolated_by == ["tools/out"]
    assert "egress of tools/debug: denied" in decision.reason and "ingress of shop/web: allowed by shop/in" in decision.reason


def test_traffic_between_a_pod_and_its_own_node_is_always_allowed():
    state = shop(policy("deny", DENY_INGRESS, "shop"), policy("deny-out", DENY_EGRESS, "shop"))
    web = state.pods["web"]
    own_node = Endpoint(state.nodes[web.node].internal_ip, node=web.node)
    other_node = Endpoint(state.nodes["node-2"].internal_ip, node="node-2")
    judge = Judge(state)
    assert judge.decide(own_node, pod_endpoint(web), "TCP", 8080).allowed
    assert judge.decide(pod_endpoint(web), own_node, "TCP", 10250).allowed
    assert not judge.decide(other_node, pod_endpoint(web), "TCP", 8080).allowed


def test_policy_types_default_to_ingress_and_egress_when_egress_rules_are_given():
    spec = {"podSelector": {"matchLabels": {"app": "web"}}, "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "db"}}}]}]}
    state = shop(policy("p", spec, "shop"))
    assert state.policies["shop/p"].spec["policyTypes"] == ["Ingress", "Egress"]
    assert allowed(state, "web", "db") and not allowed(state, "web", "debug")
    assert not allowed(state, "debug", "web")  # isolated for ingress too, with no ingress rule


def test_isolating_lists_the_selecting_policies_in_name_order():
    state = shop(policy("b", DENY_INGRESS, "shop"), policy("a", DENY_INGRESS, "shop"), policy("c", DENY_EGRESS, "shop"))
    assert [p.key for p in isolating(policies(state), state.pods["web"], INGRESS)] == ["shop/a", "shop/b"]


def test_decision_json_names_both_sides():
    state = shop(policy("deny", DENY_INGRESS, "shop"))
    decision = Judge(state).decide(pod_endpoint(state.pods["debug"]), pod_endpoint(state.pods["web"]), "TCP", 80)
    assert decision.to_json() == {
        "allowed": False, "reason": decision.reason,
        "egress": {"isolatedBy": [], "allowedBy": [], "allows": True},
        "ingress": {"isolatedBy": ["shop/deny"], "allowedBy": [], "allows": False},
    }


# -- the examples of the NetworkPolicy concept page, one by one ------------------------------------

def _docs_lab(*policy_docs: dict) -> object:
    """The concept page's cast: role=db and role=frontend Pods in default, a Pod of a namespace
    labelled project=myproject, and one of an unrelated namespace."""
    return state_with(namespace("myproject", project="myproject"), namespace("other"),
                      pod("db", "default", "node-1", role="db"), pod("frontend", "default", "node-2", role="frontend"),
                      pod("proj", "myproject", "node-3", app="proj"), pod("stranger", "other", "node-3", app="x"),
                      *policy_docs)


def test_docs_test_network_policy_example():
    spec = {"podSelector": {"matchLabels": {"role": "db"}}, "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"ipBlock": {"cidr": "172.17.0.0/16", "except": ["172.17.1.0/24"]}},
                                  {"namespaceSelector": {"matchLabels": {"project": "myproject"}}},
                                  {"podSelector": {"matchLabels": {"role": "frontend"}}}],
                         "ports": [{"protocol": "TCP", "port": 6379}]}],
            "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/24"}}], "ports": [{"protocol": "TCP", "port": 5978}]}]}
    state = _docs_lab(policy("test-network-policy", spec))
    assert allowed(state, "frontend", "db", port=6379) and allowed(state, "proj", "db", port=6379)
    assert allowed_from_ip(state, "172.17.0.9", "db", port=6379) and not allowed_from_ip(state, "172.17.1.9", "db", port=6379)
    assert not allowed(state, "stranger", "db", port=6379) and not allowed(state, "frontend", "db", port=6380)
    assert allowed_to_ip(state, "db", "10.0.0.7", port=5978) and not allowed_to_ip(state, "db", "10.0.1.7", port=5978)
    assert not allowed(state, "db", "frontend", port=5978)  # egress of db: only 10.0.0.0/24
    assert allowed(state, "frontend", "proj")  # neither is selected


def test_docs_allow_all_egress_and_default_deny_all():
    allow_all = _docs_lab(policy("deny-out", DENY_EGRESS),
                          policy("allow-all-egress", {"podSelector": {}, "egress": [{}], "policyTypes": ["Egress"]}))
    assert allowed(allow_all, "db", "stranger", "UDP", 53) and allowed_to_ip(allow_all, "db", "93.184.215.14")
    deny_all = _docs_lab(policy("default-deny-all", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}))
    assert not allowed(deny_all, "db", "frontend") and not allowed(deny_all, "stranger", "db")
    assert not allowed_to_ip(deny_all, "db", "93.184.215.14")
    assert allowed(deny_all, "proj", "stranger")  # other namespaces are not selected


def test_docs_multi_port_egress_example():
    spec = {"podSelector": {"matchLabels": {"role": "db"}}, "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/24"}}],
                        "ports": [{"protocol": "TCP", "port": 32000, "endPort": 32768}]}]}
    state = _docs_lab(policy("multi-port-egress", spec))
    assert allowed_to_ip(state, "db", "10.0.0.1", port=32768) and not allowed_to_ip(state, "db", "10.0.0.1", port=32769)
    assert not allowed_to_ip(state, "db", "10.0.0.1", "UDP", 32000)


def test_docs_targeting_namespaces_by_the_name_label():
    spec = {"podSelector": {"matchLabels": {"role": "db"}},
            "ingress": [{"from": [{"namespaceSelector": {"matchExpressions": [
                {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["myproject", "default"]}]}}]}]}
    state = _docs_lab(policy("by-name", spec))
    assert allowed(state, "proj", "db") and allowed(state, "frontend", "db")
    assert not allowed(state, "stranger", "db")
