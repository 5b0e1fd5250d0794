"""The shipped topology files: the default lab, a kind Cluster config without a CNI, and a
cluster CIDR too small for its nodes. ``--name`` always wins over the file's own name."""

from __future__ import annotations

import pytest

import json
import os
import re

from tests.support.labs import check_running_lab, containerstatus
from tests.support.packets import assert_cross_node_reachability
from tests.support.processes import TOPOLOGIES, explain, podnet

pytestmark = pytest.mark.root


DEFAULT_CIDRS = {"node-1": "10.244.0.0/24", "node-2": "10.244.1.0/24", "node-3": "10.244.2.0/24"}
KIND_NODES = ["kind-control-plane", "kind-worker", "kind-worker2"]


def test_default_topology_by_name(lab):
    lab.up("-t", "default")
    with open(os.path.join(lab.run_dir, "state.json"), encoding="utf-8") as handle:
        assert json.load(handle)["spec"]["name"] == lab.name  # --name wins over the file's "podnet"
    pods = check_running_lab(lab, DEFAULT_CIDRS)
    assert len(pods) == 6
    roles = {n: node["metadata"]["labels"] for n, node in lab.nodes().items()}
    assert "node-role.kubernetes.io/control-plane" in roles["node-1"]
    assert lab.namespaces() == lab.infra_ns() | {lab.ns(n) for n in [*DEFAULT_CIDRS, *pods]}
    assert_cross_node_reachability(lab)


def test_kind_cluster_without_cni_then_install_bridge(lab):
    lab.up("-t", str(TOPOLOGIES / "kind-cluster.yaml"))
    nodes = lab.nodes()
    assert sorted(nodes) == KIND_NODES
    table = podnet("get", "nodes", "--name", lab.name, check=True).stdout
    for node in KIND_NODES:
        assert re.search(rf"^{node}\s+NotReady\s", table, re.M), table
        assert lab.ns(node) in lab.namespaces()
    assert "node-role.kubernetes.io/control-plane" in nodes["kind-control-plane"]["metadata"]["labels"]
    assert "node-role.kubernetes.io/worker" in nodes["kind-worker2"]["metadata"]["labels"]
    for node in nodes.values():
        assert "cni plugin not initialized" in next(
            c for c in node["status"]["conditions"] if c["type"] == "Ready")["message"]
    pods = lab.pods()
    assert pods, "the kind topology should still get the default Pods per node"
    for name, pod in pods.items():
        assert containerstatus(pod) == "Pending", pod
        assert lab.ns(name) not in lab.namespaces()
    # the file's podSubnet is used
    assert {n["spec"]["podCIDR"] for n in nodes.values()} == {"10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24"}

    installed = podnet("cni", "install", "bridge", "--name", lab.name, timeout=120)
    assert installed.returncode == 0, explain(installed)
    table = podnet("get", "nodes", "--name", lab.name, check=True).stdout
    for node in KIND_NODES:
        assert re.search(rf"^{node}\s+Ready\s", table, re.M), table
    pods = check_running_lab(lab)
    assert {p["spec"]["nodeName"] for p in pods.values()} == set(KIND_NODES)
    assert_cross_node_reachability(lab)


def test_tiny_cidr_topology_leaves_the_third_node_without_a_pod_cidr(lab):
    lab.up("-t", str(TOPOLOGIES / "tiny-cidr.yaml"))
    nodes, pods = lab.nodes(), lab.pods()
    assert nodes["node-1"]["spec"]["podCIDR"] == "10.244.0.0/24"
    assert nodes["node-2"]["spec"]["podCIDR"] == "10.244.1.0/24"
    assert nodes["node-3"]["spec"]["podCIDR"] is None
    assert "CIDRNotAvailable" in lab.describe("node", "node-3")
    for name, pod in pods.items():
        want = "Pending" if pod["spec"]["nodeName"] == "node-3" else "Running"
        assert containerstatus(pod) == want, pod
    assert_cross_node_reachability(lab)
