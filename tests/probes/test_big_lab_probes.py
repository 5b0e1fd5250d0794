"""Probes in a lab of more namespaces than are watched at once (``WATCH_ALL_LIMIT``).

Above the limit a probe is watched only where it can go (nodes, the sender, the destination's
owners, the Pods behind a Service); these tests prove the verdicts and paths are still whole:
Pod-to-Pod across nodes seen at every hop, and a ClusterIP probe seen DNATed to a backend.
"""

from __future__ import annotations

import os
import pathlib

import pytest

from podnet.probes.runner import WATCH_ALL_LIMIT
from tests.support.labs import Lab, probe_json, trace
from tests.support.processes import explain

pytestmark = pytest.mark.root

WEB = pathlib.Path(__file__).resolve().parents[2] / "topologies" / "workloads" / "web.yaml"
PODS_PER_NODE = 100


@pytest.fixture(scope="module")
def big_lab():
    if os.geteuid() != 0:
        pytest.skip("root integration tests need root")
    lab = Lab()
    try:
        lab.up("--nodes", "3", "--pods-per-node", str(PODS_PER_NODE), "--cni", "builtin", "-f", str(WEB))
        yield lab
    finally:
        down = lab.down()
    assert down.returncode == 0, explain(down)


def test_the_lab_is_bigger_than_what_is_watched_at_once(big_lab):
    assert len(big_lab.namespaces()) > WATCH_ALL_LIMIT


def test_pod_to_pod_across_nodes_is_seen_at_every_hop(big_lab):
    pods = big_lab.pods()
    source = next(n for n, p in pods.items() if p["spec"].get("nodeName") == "node-1" and n.startswith("pod-"))
    target = next(n for n, p in pods.items() if p["spec"].get("nodeName") == "node-3" and n.startswith("pod-"))
    verdict = probe_json(big_lab, source, target, "-p", "udp", "--port", "9")
    assert verdict["status"] == "reached", verdict
    names = [seen["name"] for seen in verdict["path"]]
    assert names[0] == source and names[-1] == target, names
    assert "node-1" in names and "node-3" in names and "node-2" not in names, names
    assert verdict["path"][-1]["src"] == big_lab.pod_ip(source), verdict["path"][-1]


def test_a_clusterip_probe_is_seen_at_the_backend_it_was_dnated_to(big_lab):
    t = trace(big_lab, "client", "web:81", "-p", "udp")
    assert t["kind"] == "Pod-to-Service" and t["status"] == "reached", t
    assert t["receiver"].startswith("web-"), t["receiver"]
    assert any(h["rewrite"] for h in t["hops"]), t["hops"]
