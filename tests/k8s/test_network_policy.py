"""NetworkPolicy (networking.k8s.io/v1) as the kube-router-style policy agent enforces it, with real packets.

One 3-node lab (lab 09's scenario: namespaces shop, tools and monitoring; a backend Deployment
with the named port ``http``; db, frontend, debug and prober pinned to nodes) starts with no
policy at all; every test applies the policies it needs and deletes them again, so each one
starts from the flat network. Here: the reachability matrix as the policies' truth table
(expected against observed, exit 1 when the kernel disagrees), an egress policy that forgets
DNS, an ipBlock with an except, ``trace`` naming the policy, the Pod's chain and the kernel's
drop counter, a Pod's own node always reaching it, and get/describe of netpol and ns. Label
changes, refused manifests, Namespaces and teardown are in test_network_policy_changes.py;
the lab, its manifests and helpers are in tests/support/policy_lab.py.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.support.labs import all_ok, assert_refused, connect, probe_cmd, probe_json, trace
from tests.support.policy_lab import (
    ALLOW_FRONTEND, ALLOW_MONITORING, DEBUG_EGRESS, DENY, EGRESS_DNS, EGRESS_NO_DNS, applied, backends, by_name, cli,
    dropped, filter_rules, get_json, grid, ip_of, kube_router_hash, pod, reaches_every_backend,
    write,
)
from tests.support.processes import explain

pytestmark = [pytest.mark.root, pytest.mark.xdist_group("network-policy")]

def test_without_a_policy_every_pod_and_node_reaches_every_pod(np):
    data = probe_json(np, "--all", expect=0)
    assert len(data["targets"]) == 6 and len(data["sources"]) == 9, data
    assert (data["pairs"], data["failed"], data["ok"]) == ((9 * 6 - 6) * 2, 0, True), data
    assert data["policies"] == [] and data["expectedDenied"] == 0, data


def test_default_deny_ingress_is_the_truth_table_pair_by_pair(np):
    pods = np.start
    with applied(np, DENY):
        result = probe_cmd(np, "--all")
        data = probe_json(np, "--all", expect=0)
    assert result.returncode == 0, explain(result)
    denied = {(s, t) for t, p in pods.items() if p["metadata"]["namespace"] == "shop"
              for s in [*pods, "node-1", "node-2", "node-3"] if s != t and s != p["spec"]["nodeName"]}
    assert len(denied) == 4 * 7, denied  # 4 shop Pods, each from 5 other Pods and 2 other nodes
    cells = grid(result.stdout)
    assert {k for k, c in cells.items() if c == "x"} == denied, result.stdout
    assert {c for k, c in cells.items() if k not in denied} == {"ok", "."}, result.stdout
    assert "0 mismatches" in result.stdout and "PASS" in result.stdout, result.stdout
    assert data["policies"] == ["shop/default-deny-ingress"], data
    assert (data["expectedDenied"], data["failed"], data["ok"]) == (2 * len(denied), 0, True), data


def test_matrix_json_has_every_pair_with_expected_and_observed(np):
    with applied(np, DENY):
        data = probe_json(np, "--all", expect=0)
    count = (len(data["sources"]) - 1) * len(data["targets"]) * len(data["protocols"])
    tables = [v for v in data.values() if isinstance(v, list) and len(v) == count
              and all(isinstance(r, dict) and {"source", "target", "expected"} <= set(r) for r in v)]
    assert tables, f"no list of {count} per-pair records in {sorted(data)}"
    assert sum(1 for r in tables[0] if r["expected"] is False) == data["expectedDenied"], tables[0]
    assert all(r["observed"] == ("reached" if r["expected"] else "dropped") and r["ok"] for r in tables[0])


def test_matrix_exits_1_when_the_kernel_lets_a_denied_pair_through_and_sync_repairs_it(np):
    chain = "KUBE-POD-FW-" + kube_router_hash("shop/db/Ingress")
    with applied(np, DENY):
        rules = [r for r in filter_rules(np, "node-3") if r.startswith(f"-A {chain} ")]
        assert rules[-1].endswith("-j DROP"), rules
        removed = np.in_ns("node-3", "iptables", "-w", "5", "-D", chain, str(len(rules)))  # the DROP, by hand
        assert removed.returncode == 0, explain(removed)
        leak = probe_json(np, "--all", expect=1)
        leak_text = probe_cmd(np, "--all").stdout
        cli(np, "sync")
        repaired = probe_json(np, "--all", expect=0)
    assert leak["ok"] is False and leak["failed"] == 2 * 7, leak  # db from 5 Pods and 2 other nodes, UDP+TCP
    assert {(f["target"], f["expected"], f["answered"]) for f in leak["failures"]} == {("db", False, True)}, leak
    assert pod(np, "db")["spec"]["nodeName"] == "node-3" and "LEAK" in leak_text, leak_text
    assert repaired["failed"] == 0, repaired


# -- egress ----------------------------------------------------------------------------------------------

def test_an_egress_policy_that_forgets_dns_breaks_names_not_addresses(np):
    backend_ip, db_ip = ip_of(np, backends(np)[0]), ip_of(np, "db")
    with applied(np, EGRESS_NO_DNS):
        by_service_name = connect(np, "frontend", "backend:8080")
        by_ip = connect(np, "frontend", f"{backend_ip}:8080", "-c", "2")
        cli(np, "apply", "-f", write(np, EGRESS_DNS))
        fixed = connect(np, "frontend", "backend:8080", "-c", "4")
        reaches_every_backend(np, "frontend")
        to_db = connect(np, "frontend", f"{db_ip}:5432", "--timeout", "1")
    assert by_service_name["_exit"] == 1 and by_service_name["answers"] == [], by_service_name
    assert by_service_name["lookup"]["address"] is None, by_service_name
    assert "no answer from the cluster DNS" in by_service_name["lookup"]["error"], by_service_name
    all_ok(by_ip, 2)
    assert {a["pod"] for a in all_ok(fixed, 4)} <= set(backends(np)), fixed
    dropped(to_db)  # egress still keeps frontend away from db


def test_an_ip_block_except_drops_syns_to_8_8_8_8_at_the_senders_node(np):
    before = probe_json(np, "debug", "8.8.8.8", "-p", "tcp", "--port", "53", expect=0)
    with applied(np, DEBUG_EGRESS):
        after = probe_json(np, "debug", "8.8.8.8", "-p", "tcp", "--port", "53", expect=1)
        web = probe_json(np, "debug", "93.184.215.14", "-p", "tcp", "--port", "80", expect=0)
        by_name_ = connect(np, "debug", "example.com:80")
    assert before["status"] == "reached" and "SYN-ACK" in before["reply"], before
    assert after["status"] == "unreachable" and after["reply"] is None, after
    assert after["path"][-1]["name"] == "node-2", after["path"]  # egress: dropped on debug's own node
    assert web["status"] == "reached" and "SYN-ACK" in web["reply"], web
    assert all_ok(by_name_, 1)[0]["pod"] == "internet", by_name_  # CoreDNS, not debug, asks 8.8.8.8


# -- where the decision is made ---------------------------------------------------------------------------

def test_trace_names_the_denying_policy_the_pods_chain_and_its_drop_counter(np):
    name = backends(np)[-1]
    ip, node = ip_of(np, name), pod(np, name)["spec"]["nodeName"]
    chain = "KUBE-POD-FW-" + kube_router_hash(f"shop/{name}/Ingress")
    with applied(np, DENY):
        data = trace(np, "debug", f"{ip}:8080", "-p", "tcp", expect=1)
        rules = filter_rules(np, node)
        counted = np.in_ns(node, "iptables", "-w", "5", "-L", chain, "-v", "-n", "-x")
    note = data["policy"]
    assert data["status"] == "unreachable" and note["allowed"] is False, data
    assert note["decision"]["ingress"]["isolatedBy"] == ["shop/default-deny-ingress"], note
    assert "shop/default-deny-ingress" in note["reason"] and "shop/default-deny-ingress" in data["summary"], note
    assert note["chains"] == [f"{chain} (ingress of shop/{name}) on {node}"], note
    assert note["dropped"].get(f"{chain} on {node}", 0) >= 1, note
    forward = [r for r in rules if r.startswith("-A FORWARD ")]
    assert forward[0].endswith("-j KUBE-ROUTER-FORWARD"), forward
    assert any(r.startswith(f"-A KUBE-ROUTER-FORWARD -d {ip}/32 ") and r.endswith(f"-j {chain}") for r in rules), rules
    mine = [r for r in rules if r.startswith(f"-A {chain} ")]
    assert mine[0] == f"-A {chain} -j MARK --set-xmark 0x0/0x10000" and "0x10000/0x10000 -j RETURN" in mine[-2], mine
    assert counted.returncode == 0, explain(counted)
    drop = [line.split() for line in counted.stdout.splitlines() if " DROP " in line]
    assert len(drop) == 1 and int(drop[0][0]) > 0, counted.stdout


def test_a_nodeport_trace_under_default_deny_names_the_backends_policy(np):
    """Sent to a node's address, DNATed by kube-proxy, dropped by the backend's chain: the trace
    says no backend received it, and which policy and Pod chain dropped it."""
    with applied(np, DENY):
        data = trace(np, "external", "node-1:30081", "-p", "tcp", expect=1)
    assert data["status"] == "unreachable" and "no backend Pod of shop/backend-outside" in data["reason"], data
    note = data["policy"]
    assert note["allowed"] is False and "shop/default-deny-ingress" in note["reason"], note
    assert any(c.startswith("KUBE-POD-FW-") for c in note["chains"]) and sum(note["dropped"].values()) >= 1, note


def test_a_pods_own_node_reaches_it_under_default_deny(np):
    db_ip = ip_of(np, "db")
    with applied(np, DENY):
        own = probe_json(np, "node-3", db_ip, "-p", "tcp", "--port", "5432", expect=0)
        answers = all_ok(connect(np, "node-3", f"{db_ip}:5432", "-c", "2"), 2)
        other = probe_json(np, "node-1", db_ip, "-p", "tcp", "--port", "5432", expect=1)
    assert own["status"] == "reached" and own["receiver"] == "db" and "SYN-ACK" in own["reply"], own
    assert {a["pod"] for a in answers} == {"db"}, answers
    assert other["status"] == "unreachable", other


# -- the API: get and describe ----------------------------------------------------------------------------

def test_get_and_describe_networkpolicies(np):
    with applied(np, DENY, ALLOW_FRONTEND, DEBUG_EGRESS):
        table = cli(np, "get", "netpol", "-n", "shop").stdout.splitlines()
        every = cli(np, "get", "netpol", "-A").stdout.splitlines()
        items = by_name(np, "netpol", "-A")
        one = get_json(np, "netpol", "allow-frontend-to-backend", "-n", "shop")
        deny = cli(np, "describe", "netpol", "default-deny-ingress", "-n", "shop").stdout
        allow = cli(np, "describe", "netpol", "allow-frontend-to-backend", "-n", "shop").stdout
        as_json = json.loads(cli(np, "describe", "netpol", "debug-egress", "-n", "tools", "-o", "json").stdout)
    assert table[0].split() == ["NAME", "POD-SELECTOR", "AGE"], table
    assert [r.split()[:2] for r in table[1:]] == [["allow-frontend-to-backend", "app=backend"],
                                                  ["default-deny-ingress", "<none>"]], table
    assert every[0].split() == ["NAMESPACE", "NAME", "POD-SELECTOR", "AGE"] and len(every) == 4, every
    assert {(i["apiVersion"], i["kind"], i["metadata"]["namespace"]) for i in items.values()} == {
        ("networking.k8s.io/v1", "NetworkPolicy", "shop"), ("networking.k8s.io/v1", "NetworkPolicy", "tools")}
    assert items["default-deny-ingress"]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}, items
    assert one["kind"] == "NetworkPolicy", one
    assert one["spec"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": "http"}], one  # protocol defaulted
    assert sorted(one["podnet"]["selectedPods"]) == backends(np), one
    assert "<none> (Selected pods are isolated for ingress connectivity)" in deny, deny
    selected = re.search(r"^Selected Pods:\s+(.*)$", deny, re.M).group(1).split(", ")
    assert sorted(selected) == sorted(n for n, p in np.start.items() if p["metadata"]["namespace"] == "shop"), deny
    assert "To Port: http/TCP" in allow and "PodSelector: app=frontend" in allow, allow
    assert "Policy Types: Ingress" in allow and "Not affecting egress traffic" in allow, allow
    selected = re.search(r"^Selected Pods:\s+(.*)$", allow, re.M).group(1).split(", ")
    assert sorted(selected) == backends(np), allow
    assert as_json["podnet"]["selectedPods"] == ["debug"] and as_json["spec"]["egress"][0]["to"] == [
        {"ipBlock": {"cidr": "0.0.0.0/0", "except": ["8.8.8.8/32"]}}], as_json


def test_get_and_describe_namespaces(np):
    with applied(np, DENY, ALLOW_MONITORING):
        table = cli(np, "get", "ns").stdout.splitlines()
        wide = cli(np, "get", "ns", "-o", "wide").stdout
        items = by_name(np, "ns")
        one = get_json(np, "ns", "monitoring")
        shop = cli(np, "describe", "ns", "shop").stdout
    assert table[0].split() == ["NAME", "STATUS", "AGE"], table
    assert {r.split()[0]: r.split()[1] for r in table[1:]} == {n: "Active" for n in (
        "default", "kube-node-lease", "kube-public", "kube-system", "monitoring", "shop", "tools")}, table
    assert wide.splitlines()[0].split() == ["NAME", "STATUS", "AGE", "LABELS"], wide
    labels = "kubernetes.io/metadata.name=monitoring,purpose=monitoring"
    assert re.search(rf"^monitoring\s+Active\s+\S+\s+{re.escape(labels)}$", wide, re.M), wide
    assert all(i["apiVersion"] == "v1" and i["kind"] == "Namespace" and i["status"]["phase"] == "Active"
               and i["metadata"]["labels"]["kubernetes.io/metadata.name"] == n for n, i in items.items()), items
    assert one["kind"] == "Namespace" and one["metadata"]["labels"] == {
        "kubernetes.io/metadata.name": "monitoring", "purpose": "monitoring"}, one
    assert re.search(r"^Pods:\s+4$", shop, re.M), shop
    policies = re.search(r"^NetworkPolicies:\s+(.*)$", shop, re.M).group(1).split(", ")
    assert sorted(policies) == ["allow-monitoring", "default-deny-ingress"], shop


def test_getting_a_missing_policy_names_it_as_kubectl_would(np):
    line = assert_refused(cli(np, "get", "netpol", "nope", "-n", "shop", expect=None),
                          'networkpolicies.networking.k8s.io "nope" not found')
    assert "networkpolicie:" not in line, line


