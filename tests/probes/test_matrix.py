"""``podnet probe --all``: the reachability matrix, like Kubernetes' e2e granular checks.

Every Running Pod and (unless ``--no-nodes``) every node talks to every other Pod over UDP
and TCP; a pair passes only if the target answered with its own name and saw the client's
own address. A NAT on the way must fail exactly the pairs it rewrites.
"""

from __future__ import annotations

import re

import pytest

from tests.support.labs import assert_refused, masquerade_in_node, probe_cmd, probe_json
from tests.support.processes import UP_TIMEOUT, explain
from tests.support.snapshots import own_view

pytestmark = pytest.mark.root


PODS = [f"pod-{n}-{j}" for n in (1, 2, 3) for j in (1, 2)]
NODES = ["node-1", "node-2", "node-3"]
ALL_PAIRS = 6 * 5 * 2 + 3 * 6 * 2


def expected_pairs(sources, targets, protocols) -> set[tuple[str, str, str]]:
    return {(s, t, p) for s in sources for t in targets if s != t for p in protocols}


def test_matrix_on_the_default_lab_passes_every_pair(lab):
    lab.up()
    m = probe_json(lab, "--all")
    assert m["ok"] is True, m
    assert m["pairs"] == ALL_PAIRS == 96, m["pairs"]
    assert m["failed"] == 0 and m["failures"] == [] and m["errors"] == [], m
    assert m["sources"] == PODS + NODES, m["sources"]
    assert m["targets"] == PODS, m["targets"]
    assert m["protocols"] == ["udp", "tcp"]
    assert isinstance(m["seconds"], (int, float)) and m["seconds"] > 0

    result = probe_cmd(lab, "--all")
    assert result.returncode == 0, explain(result)
    lines = result.stdout.splitlines()
    assert lines[0].split() == PODS, lines[0]
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:1 + len(PODS) + len(NODES)]}
    assert list(rows) == PODS + NODES, lines
    for src, cells in rows.items():
        assert cells == ["." if dst == src else "ok" for dst in PODS], (src, cells)
    passed = [line for line in lines if line.startswith("PASS:")]
    assert len(passed) == 1 and passed[0].startswith(f"PASS: {ALL_PAIRS}/{ALL_PAIRS} pairs passed"), result.stdout
    assert not any(line.startswith("FAIL:") for line in lines), result.stdout


def test_matrix_fails_exactly_the_masqueraded_pairs(lab):
    lab.up()
    node1 = lab.node_ip("node-1")
    assert node1 == "192.168.77.11"
    masquerade_in_node(lab, "node-1", "10.244.0.0/24", "10.244.2.0/24")

    m = probe_json(lab, "--all", expect=1)
    assert m["ok"] is False and m["pairs"] == ALL_PAIRS and m["errors"] == [], {k: m[k] for k in ("ok", "pairs", "errors")}
    natted = expected_pairs(["pod-1-1", "pod-1-2"], ["pod-3-1", "pod-3-2"], ["udp", "tcp"])
    failed = {(f["source"], f["target"], f["proto"]) for f in m["failures"]}
    # everything else (node-1's own traffic, node-1's Pods to node-2, ...) still passes
    assert failed == natted, sorted(failed ^ natted)
    assert m["failed"] == len(natted) == 8
    for f in m["failures"]:
        assert f["answered"] is True and f["name_ok"] is True and f["answer"] == f["target"], f
        assert f["seen_source"] == "192.168.77.11", f
        assert f["source_ok"] is False and f["ok"] is False and f["error"] is None, f

    result = probe_cmd(lab, "--all")
    assert result.returncode == 1, explain(result)
    assert re.search(rf"^FAIL: {ALL_PAIRS - 8}/{ALL_PAIRS} pairs passed", result.stdout, re.M), result.stdout
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[1:10]}
    for src in ("pod-1-1", "pod-1-2"):
        assert rows[src][PODS.index("pod-3-1")] == "NAT" and rows[src][PODS.index("pod-3-2")] == "NAT", rows[src]
    assert "the target saw 192.168.77.11, not the client's own address" in result.stdout


@pytest.mark.parametrize("args, sources, protocols", [
    (["--no-nodes"], PODS, ["udp", "tcp"]),
    (["--protocols", "udp"], PODS + NODES, ["udp"]),
    (["--protocols", "tcp", "--no-nodes"], PODS, ["tcp"]),
], ids=["no-nodes", "udp-only", "tcp-only-no-nodes"])
def test_matrix_options_change_the_pairs(lab, args, sources, protocols):
    lab.up()
    m = probe_json(lab, "--all", *args)
    expected = expected_pairs(sources, PODS, protocols)
    assert m["sources"] == sources and m["targets"] == PODS and m["protocols"] == protocols, m
    assert m["pairs"] == len(expected), (m["pairs"], len(expected))
    assert m["ok"] is True and m["failed"] == 0, m


@pytest.mark.parametrize("value", ["icmp", "udp,sctp", "", ",", "UDP", "udp tcp"])
def test_matrix_refuses_bad_protocols(lab, value):
    lab.up()
    before = own_view()
    assert_refused(probe_cmd(lab, "--all", "--protocols", value, "-o", "json"), "protocols")
    assert own_view() == before


def test_matrix_takes_no_source_or_destination(lab):
    lab.up()
    assert_refused(probe_cmd(lab, "--all", "pod-1-1"), "--all takes no source")
    assert_refused(probe_cmd(lab, "--all", "pod-1-1", "pod-2-1"), "--all takes no source")


def test_matrix_on_a_ten_by_ten_lab_passes_every_pair(lab):
    lab.up("--nodes", "10", "--pods-per-node", "10", "--cni", "builtin", timeout=UP_TIMEOUT)
    m = probe_json(lab, "--all", "--no-nodes", timeout=UP_TIMEOUT)
    print(f"10x10 matrix: {m['pairs']} pairs in {m['seconds']}s")
    assert len(m["sources"]) == 100 and m["targets"] == m["sources"], len(m["sources"])
    assert m["pairs"] == 100 * 99 * 2 == 19800, m["pairs"]
    assert m["failed"] == 0 and m["errors"] == [], (m["failed"], m["failures"][:10], m["errors"])
    assert m["ok"] is True
