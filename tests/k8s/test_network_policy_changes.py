"""NetworkPolicy under change: labels (also while a client loops), refused manifests, Namespaces
coming and going, the unanswered SYN in a capture, teardown.

The same 3-node lab as test_network_policy.py (tests/support/policy_lab.py), brought
up once for this module; every test puts back what it changed. A namespaceSelector and a
podSelector peer follow ``podnet label`` at once: the next connection is dropped or answered,
and nothing restarts (the Pods keep their processes and addresses). A NetworkPolicy the API
server would refuse exits 2 with one line naming the field and leaves the policies, the
Namespaces and every node's filter table exactly as they were. A Pod needs its Namespace,
deleting a Namespace deletes its Pods, policies and their rules, and ``default`` and
``kube-system`` may not be deleted. A lab with policies taken down leaves no namespace,
process, link or rule behind, and the machine's own iptables as they were.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time

import pytest

from tests.support.policy_lab import (
    ALLOW_FRONTEND, ALLOW_MONITORING, DENY, applied, backends, by_name, cli, dropped, each_backend, filter_rules,
    get_json, ip_of, netpol, pod, reaches_every_backend, workloads, write,
)
from tests.support.captures import finish_podnet_capture, pcap_records, start_podnet_capture
from tests.support.labs import all_ok, assert_refused, connect
from tests.support.processes import explain, netns_inode, pids_in
from tests.support.snapshots import LAB_FIELDS, compare_snapshots, root_iptables_save, snapshot

pytestmark = [pytest.mark.root, pytest.mark.xdist_group("network-policy-changes")]



def processes_of(lab, *pods: str) -> dict[str, set[int]]:
    """The processes (the echo servers) inside each Pod's network namespace."""
    return {p: pids_in({netns_inode(lab.ns(p))}) for p in pods}


def peers_on(lab, node: str, ip: str) -> bool:
    """Does a policy rule on ``node`` name ``ip`` as a peer (``-s IP/32`` in a KUBE-NWPLCY chain)?"""
    return any(r.startswith("-A KUBE-NWPLCY-") and f"-s {ip}/32 " in r for r in filter_rules(lab, node))


# -- labels: selectors follow them at once -----------------------------------------------------------------

def test_a_namespace_label_closes_and_opens_the_path_without_a_restart(np):
    servers = processes_of(np, *backends(np))
    node = pod(np, backends(np)[0])["spec"]["nodeName"]
    with applied(np, DENY, ALLOW_MONITORING):
        all_ok(connect(np, "prober", "backend.shop:8080", "-c", "2"), 2)  # by name, through the Service
        reaches_every_backend(np, "prober")
        dropped(connect(np, "debug", "backend.shop:8080", "--timeout", "1"))  # tools is not monitoring
        assert peers_on(np, node, ip_of(np, "prober"))
        try:
            cli(np, "label", "ns", "monitoring", "purpose-")
            assert "purpose" not in by_name(np, "ns")["monitoring"]["metadata"]["labels"]
            for data in each_backend(np, "prober", "--timeout", "1").values():
                dropped(data)
            assert not peers_on(np, node, ip_of(np, "prober"))
        finally:
            cli(np, "label", "ns", "monitoring", "purpose=monitoring")
        reaches_every_backend(np, "prober")
        all_ok(connect(np, "prober", "backend.shop:8080", "-c", "2"), 2)
    assert processes_of(np, *backends(np)) == servers and all(servers.values()), servers


LOOP = """
import socket, sys, time
ip, seconds = sys.argv[1], float(sys.argv[2])
end = time.monotonic() + seconds
while time.monotonic() < end:
    s = socket.socket(); s.settimeout(0.2)
    try:
        s.connect((ip, 8080)); print("ok", flush=True)
    except OSError:
        print("fail", flush=True)
    finally:
        s.close()
    time.sleep(0.05)
"""


def _until(loop: subprocess.Popen, seen: list[str], word: str, times: int = 3, timeout: float = 20) -> None:
    """Read the loop's lines until ``word`` came ``times`` times in a row."""
    deadline = time.monotonic() + timeout
    while len(seen) < times or seen[-times:] != [word] * times:
        line = loop.stdout.readline().strip()
        assert line and time.monotonic() < deadline, f"no {times} x {word} in a row: {seen}"
        seen.append(line)


def test_a_namespace_label_change_closes_and_opens_the_path_while_a_client_loops(np):
    """A new connection every 50 ms from prober while its namespace loses and regains the label
    the policy selects: answered, then dropped, then answered again, in that order."""
    target = ip_of(np, backends(np)[0])
    seen: list[str] = []
    with applied(np, DENY, ALLOW_MONITORING):
        loop = subprocess.Popen(["ip", "netns", "exec", np.ns("prober"), sys.executable, "-c", LOOP, target, "60"],
                                stdout=subprocess.PIPE, text=True)
        try:
            _until(loop, seen, "ok")
            cli(np, "label", "ns", "monitoring", "purpose-")
            _until(loop, seen, "fail")
            cli(np, "label", "ns", "monitoring", "purpose=monitoring")
            _until(loop, seen, "ok")
        finally:
            loop.kill()
            loop.communicate(timeout=15)
    runs = [word for i, word in enumerate(seen) if i == 0 or seen[i - 1] != word]
    assert runs == ["ok", "fail", "ok"], seen


def test_a_pod_label_change_takes_it_out_of_a_podselector_peer_and_back(np):
    servers = processes_of(np, "frontend", *backends(np))
    with applied(np, DENY, ALLOW_FRONTEND):
        all_ok(connect(np, "frontend", "backend:8080", "-c", "2"), 2)
        reaches_every_backend(np, "frontend")
        dropped(connect(np, "prober", "backend.shop:8080", "--timeout", "1"))  # not app=frontend
        try:
            result = cli(np, "label", "pod", "frontend", "app=other", "-n", "shop", expect=None)
            assert_refused(result, "'app' already has a value (frontend), and --overwrite is false")
            cli(np, "label", "pod", "frontend", "app=other", "--overwrite", "-n", "shop")
            assert workloads(np)["frontend"]["metadata"]["labels"] == {"app": "other"}
            for data in each_backend(np, "frontend", "--timeout", "1").values():
                dropped(data)
        finally:
            cli(np, "label", "pod", "frontend", "app=frontend", "--overwrite", "-n", "shop")
        reaches_every_backend(np, "frontend")
    assert processes_of(np, "frontend", *backends(np)) == servers, servers


# -- refused manifests change nothing ------------------------------------------------------------------------

BAD = {
    "ipblock-and-podselector": (
        netpol("bad", "shop", "{podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8}, "
                              "podSelector: {matchLabels: {app: x}}}]}]}"),
        "spec.ingress[0].from[0]", "Forbidden: may not specify both ipBlock and another peer"),
    "endport-below-port": (
        netpol("bad", "shop", "{podSelector: {}, ingress: [{ports: [{port: 9000, endPort: 8000}]}]}"),
        "spec.ingress[0].ports[0].endPort", "Invalid value: 8000: must be greater than or equal to `port`"),
    "unknown-policy-type": (
        netpol("bad", "shop", "{podSelector: {}, policyTypes: [Ingress, Sideways]}"),
        "spec.policyTypes[1]", 'Unsupported value: "Sideways"'),
    "namespace-then-bad-except": (  # the valid Namespace before it is not created either
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: half}\n---\n"
        + netpol("bad", "half", "{podSelector: {}, egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8, "
                                "except: [192.168.0.0/16]}}]}]}"),
        "spec.egress[0].to[0].ipBlock.except[0]", "must be a strict subset of `cidr`"),
    "a-typo-is-not-a-deny-all": (  # 'ingres' would otherwise leave a policy with no rules: deny-all
        netpol("bad", "shop", "{podSelector: {}, ingres: [{}]}"),
        '"spec.ingres"', "strict decoding error: unknown field"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_networkpolicy_is_refused_and_changes_nothing(np, case):
    doc, field, detail = BAD[case]
    nodes = ("node-1", "node-2", "node-3")
    with applied(np, DENY):
        before = (get_json(np, "netpol", "-A"), get_json(np, "ns"), {n: filter_rules(np, n) for n in nodes})
        result = cli(np, "apply", "-f", write(np, doc), expect=None)
        after = (get_json(np, "netpol", "-A"), get_json(np, "ns"), {n: filter_rules(np, n) for n in nodes})
    assert_refused(result, 'The NetworkPolicy "bad" is invalid', field, detail)
    assert any("KUBE-ROUTER-FORWARD" in r for r in before[2]["node-3"]), before[2]  # not a vacuous comparison
    assert after == before


# -- Namespaces ---------------------------------------------------------------------------------------------

SCRATCH = ("apiVersion: v1\nkind: Namespace\nmetadata: {name: scratch}",
           "apiVersion: v1\nkind: Pod\nmetadata: {name: sandbox, namespace: scratch}\n"
           "spec: {nodeName: node-2, containers: [{name: c, image: agnhost, ports: [{containerPort: 9000}]}]}",
           netpol("scratch-deny", "scratch", "{podSelector: {}}"))


def test_a_pod_needs_its_namespace(np):
    lost = ("apiVersion: v1\nkind: Pod\nmetadata: {name: lost, namespace: nowhere}\n"
            "spec: {containers: [{name: c, image: busybox}]}")
    before = get_json(np, "ns")
    assert_refused(cli(np, "apply", "-f", write(np, lost), expect=None), 'namespaces "nowhere" not found')
    assert "lost" not in workloads(np) and get_json(np, "ns") == before


def test_deleting_a_namespace_deletes_its_pods_policies_and_rules(np):
    try:
        cli(np, "apply", "-f", write(np, *SCRATCH))
        assert workloads(np)["sandbox"]["status"]["phase"] == "Running"
        assert "ingress of scratch/sandbox" in "\n".join(filter_rules(np, "node-2"))
        dropped(connect(np, "debug", f"{workloads(np)['sandbox']['status']['podIP']}:9000", "--timeout", "1"))
        inode = netns_inode(np.ns("sandbox"))
        assert inode is not None and pids_in({inode})
        deleted = cli(np, "delete", "ns", "scratch")
    finally:
        if "scratch" in by_name(np, "ns"):
            cli(np, "delete", "ns", "scratch", expect=None)
    assert 'namespace "scratch" deleted' in deleted.stdout, deleted.stdout
    assert "sandbox" not in workloads(np) and "scratch" not in by_name(np, "ns")
    assert get_json(np, "netpol", "-A")["items"] == []
    assert np.ns("sandbox") not in np.namespaces() and not pids_in({inode})
    assert not any("scratch/" in r or "KUBE-POD-FW-" in r for r in filter_rules(np, "node-2"))


@pytest.mark.parametrize("name", ["default", "kube-system"])
def test_the_initial_namespaces_may_not_be_deleted(np, name):
    before = (get_json(np, "ns"), by_name(np, "pods", "-A"))
    result = cli(np, "delete", "ns", name, expect=None)
    assert_refused(result, f'namespaces "{name}" is forbidden: this namespace may not be deleted')
    assert (get_json(np, "ns"), by_name(np, "pods", "-A")) == before


# -- teardown ------------------------------------------------------------------------------------------------

def test_down_leaves_no_namespace_process_link_or_rule_of_a_policy_lab(make_lab, tmp_path):
    before = snapshot()
    path = tmp_path / "deny.yaml"
    path.write_text(netpol("deny-all", "default", "{podSelector: {}, policyTypes: [Ingress, Egress]}"),
                    encoding="utf-8")
    lab = make_lab(f"np-{secrets.token_hex(3)}")
    lab.up("--nodes", "2", "--pods-per-node", "1", "-f", str(path))
    for node in ("node-1", "node-2"):
        rules = filter_rules(lab, node)
        assert any(r.startswith("-A FORWARD ") and r.endswith("-j KUBE-ROUTER-FORWARD") for r in rules), rules
        assert any(r.startswith("-A KUBE-POD-FW-") and r.endswith("-j DROP") for r in rules), rules
    inodes = lab.inodes()
    assert inodes and lab.ns("node-1") in lab.namespaces() and pids_in(inodes)
    down = lab.down()
    assert down.returncode == 0, explain(down)
    after = snapshot()
    assert compare_snapshots(before, after, ignore=LAB_FIELDS) == []  # links, routes, rules, iptables, nft, sysctls
    assert lab.namespaces() == set() and not os.path.exists(lab.run_dir)
    assert not pids_in(inodes), "processes of the lab outlived it"
    root = root_iptables_save()
    assert root == before["iptables"], (before["iptables"], root)
    assert not any(word in "\n".join(root or []) for word in ("KUBE-ROUTER", "KUBE-POD-FW", "KUBE-NWPLCY", lab.name))


# -- what a capture shows ----------------------------------------------------------------------------------

def test_a_capture_in_the_sender_shows_the_syn_that_never_got_an_answer(np, tmp_path):
    """Under default deny, debug's SYN to a backend is dropped at the backend's node: inside
    debug the capture has the SYN and its retransmission, and nothing comes back."""
    target = ip_of(np, backends(np)[0])
    with applied(np, DENY):
        proc = start_podnet_capture(np, "debug", "-f", f"tcp and host {target}", "-c", "2", "--duration", "10",
                                    "-o", "json", "-w", str(tmp_path / "syn.pcap"))
        try:
            dropped(connect(np, "debug", f"{target}:8080", "--timeout", "2"))  # the kernel resends the SYN after 1 s
        finally:
            done = finish_podnet_capture(proc)
    assert done.returncode == 0, explain(done)
    packets = json.loads(done.stdout)["packets"]
    assert [(p["src"], p["dst"], p["flags"]) for p in packets] == [(ip_of(np, "debug"), target, "SYN")] * 2, packets
    assert "no answer in this capture" in packets[0]["note"] and "(retransmission 1)" in packets[1]["note"], packets
    assert pcap_records((tmp_path / "syn.pcap").read_bytes()) == 2
