"""Nodes without a CNI config (NotReady, Pods Pending) and with a broken one (Ready, Pods
ContainerCreating), and how ``podnet cni install`` heals both."""

from __future__ import annotations

import pytest

import re

from tests.support.labs import check_running_lab, containerstatus
from tests.support.packets import assert_cross_node_reachability
from tests.support.processes import explain, podnet

pytestmark = pytest.mark.root


DEFAULT_CIDRS = {"node-1": "10.244.0.0/24", "node-2": "10.244.1.0/24", "node-3": "10.244.2.0/24"}


def _pod_namespaces(lab) -> set[str]:
    pods = {lab.ns(p) for p in lab.pods()}
    return lab.namespaces() & pods


def _install(lab, plugin: str = "bridge"):
    result = podnet("cni", "install", plugin, "--name", lab.name, timeout=120)
    assert result.returncode == 0, explain(result)
    return result


def test_no_cni_nodes_not_ready_pods_pending_until_install(lab):
    lab.up("--cni", "none")
    table = podnet("get", "nodes", "--name", lab.name, check=True).stdout
    for node in DEFAULT_CIDRS:
        assert re.search(rf"^{node}\s+NotReady\s", table, re.M), table
    for node in DEFAULT_CIDRS:
        described = lab.describe("node", node)
        assert "cni plugin not initialized" in described, described
        assert "node.kubernetes.io/not-ready:NoSchedule" in described
    pods = lab.pods()
    assert len(pods) == 6
    for pod in pods.values():
        assert containerstatus(pod) == "Pending" and pod["status"]["phase"] == "Pending", pod
        assert pod["status"]["podIP"] is None
    assert _pod_namespaces(lab) == set()
    # the nodes themselves exist and have no Pod interfaces yet
    links = lab.in_ns("node-1", "ip", "-o", "link").stdout
    names = sorted(re.findall(r"^\d+:\s+([^:@]+)", links, re.M))
    assert names == ["eth0", "lo"], links

    installed = _install(lab)
    assert "Running" in installed.stdout
    nodes = lab.nodes()
    for node in nodes.values():
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "True", node
    table = podnet("get", "nodes", "--name", lab.name, check=True).stdout
    assert len(re.findall(r"^node-\d\s+Ready\s", table, re.M)) == 3, table
    check_running_lab(lab, DEFAULT_CIDRS)
    assert_cross_node_reachability(lab)


def test_broken_cni_pods_container_creating_until_install(lab):
    lab.up("--cni", "missing")
    for node in lab.nodes().values():
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "True", node  # a config exists: the runtime reports Ready
    table = podnet("get", "nodes", "--name", lab.name, check=True).stdout
    assert len(re.findall(r"^node-\d\s+Ready\s", table, re.M)) == 3, table
    pods = lab.pods()
    for name, pod in pods.items():
        assert containerstatus(pod) == "ContainerCreating", pod
        assert pod["status"]["phase"] == "Pending" and pod["status"]["podIP"] is None
        described = lab.describe("pod", name)
        assert "FailedCreatePodSandBox" in described, described
        assert 'failed to find plugin "calico"' in described, described
    assert _pod_namespaces(lab) == set()
    pods_table = podnet("get", "pods", "--name", lab.name, check=True).stdout
    assert len(re.findall(r"\sContainerCreating\s", pods_table)) == 6, pods_table

    _install(lab)
    check_running_lab(lab, DEFAULT_CIDRS)
    assert_cross_node_reachability(lab)
