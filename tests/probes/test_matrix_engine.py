"""The matrix's engine on real labs: what its speed must not cost.

Each run's TCP clients use ports of their own (as fresh ephemeral ports would be), so a run
never meets the conntrack entries of the run before: a NetworkPolicy that leaked and was
repaired is seen repaired at once, not carried through by ESTABLISHED entries. The pairs a
policy denies still wait for silence and count as dropped; the leaked ones are named.
"""

from __future__ import annotations

import subprocess

import pytest

from tests.support.labs import probe_json
from tests.support.processes import explain, podnet

pytestmark = pytest.mark.root

POLICY = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: tcp-from-node-1-pods, namespace: default}
spec:
  podSelector: {}
  policyTypes: [Ingress]
  ingress:
  - from:
    - ipBlock: {cidr: 10.244.0.0/24}
    ports: [{protocol: TCP}]
"""


def apply(lab, tmp_path, text: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    result = podnet("apply", "--name", lab.name, "-f", str(path))
    assert result.returncode == 0, explain(result)


def forward_everything(lab, node: str, on: bool) -> None:
    """An ACCEPT at the top of FORWARD inside ``node``'s namespace: its policy rules stop
    dropping (a broken agent, as the e2e tests would catch)."""
    args = ["-I", "FORWARD", "1", "-j", "ACCEPT"] if on else ["-D", "FORWARD", "1"]
    result = lab.in_ns(node, "iptables", "-w", "5", *args)
    assert result.returncode == 0, explain(result)


def leaks(m: dict) -> set[tuple[str, str, str]]:
    return {(f["source"], f["target"], f["proto"]) for f in m["failures"] if not f["expected"] and f["answered"]}


def test_a_repaired_policy_is_seen_repaired_at_once(lab, tmp_path):
    lab.up()
    apply(lab, tmp_path, POLICY)
    clean = probe_json(lab, "--all")
    assert clean["ok"] is True and clean["policies"] == ["default/tcp-from-node-1-pods"], clean["failures"][:3]
    denied = {(r["source"], r["target"], r["protocol"]) for r in clean["results"] if not r["expected"]}
    into_node_3 = {key for key in denied if key[1] in ("pod-3-1", "pod-3-2")}
    assert into_node_3 and all(r["observed"] == "dropped" for r in clean["results"] if not r["expected"])

    forward_everything(lab, "node-3", True)
    try:
        broken = probe_json(lab, "--all", expect=1)
    finally:
        forward_everything(lab, "node-3", False)
    # what node-3 forwards (from other nodes and through its bridge) is no longer dropped
    assert leaks(broken) and leaks(broken) <= into_node_3, sorted(leaks(broken) - into_node_3)
    assert {f["proto"] for f in broken["failures"]} == {"udp", "tcp"}

    for _ in range(2):  # right after the repair: the TCP pairs that leaked must not ride on old entries
        repaired = probe_json(lab, "--all")
        assert repaired["ok"] is True and leaks(repaired) == set(), sorted(leaks(repaired))
        assert repaired["expectedDenied"] == clean["expectedDenied"] == len(denied)


def test_the_ten_by_ten_matrix_with_nodes_passes_twice_in_a_row(lab):
    """Cold (it may write permanent neighbour entries first) and warm, every pair verified."""
    lab.up("--nodes", "10", "--pods-per-node", "10", "--cni", "builtin", timeout=300)
    for run in ("cold", "warm"):
        try:
            m = probe_json(lab, "--all", timeout=300)
        except subprocess.TimeoutExpired as exc:  # pragma: no cover - a hung matrix names itself
            raise AssertionError(f"the {run} matrix did not finish") from exc
        print(f"10x10 {run} matrix with nodes: {m['pairs']} probes in {m['seconds']}s")
        assert m["pairs"] == (100 * 99 + 10 * 100) * 2 and m["pairs_total"] == 100 * 99 + 10 * 100
        assert m["failed"] == 0 and m["errors"] == [], (m["failures"][:5], m["errors"])
        assert m["sample"] is None and m["seed"] is None
