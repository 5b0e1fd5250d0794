"""Running out of addresses: the cluster CIDR (no node slice left) and a node slice (no Pod IP
left). What did get an address keeps working; what did not leaves nothing half-made."""

from __future__ import annotations

import pytest

import ipaddress
import os
import re

from tests.support.labs import containerstatus
from tests.support.packets import assert_cross_node_reachability
from tests.support.processes import explain

pytestmark = pytest.mark.root



def _ip_named_files(directory: str) -> list[str]:
    leases = []
    for _dirpath, _dirnames, filenames in os.walk(directory):
        for name in filenames:
            try:
                ipaddress.IPv4Address(name)
            except ValueError:
                continue
            leases.append(name)
    return sorted(leases)


def _veths(lab, node: str) -> list[str]:
    result = lab.in_ns(node, "ip", "-o", "link", "show", "type", "veth")
    assert result.returncode == 0, explain(result)
    return [re.match(r"\d+:\s+([^:@]+)", line).group(1) for line in result.stdout.splitlines() if line.strip()]


def test_cluster_cidr_exhausted_third_node_gets_no_pod_cidr(lab):
    lab.up("--cluster-cidr", "10.244.0.0/23", "--node-cidr-mask-size", "24", "--nodes", "3")
    nodes, pods = lab.nodes(), lab.pods()
    assert nodes["node-1"]["spec"]["podCIDR"] == "10.244.0.0/24"
    assert nodes["node-2"]["spec"]["podCIDR"] == "10.244.1.0/24"
    assert nodes["node-3"]["spec"]["podCIDR"] is None
    assert nodes["node-3"]["spec"]["podCIDRs"] == []
    unavailable = [c for c in nodes["node-3"]["status"]["conditions"] if c["type"] == "NetworkUnavailable"]
    assert unavailable and unavailable[0]["status"] == "True" and unavailable[0]["reason"] == "CIDRNotAvailable"

    described = lab.describe("node", "node-3")
    assert "CIDRNotAvailable" in described
    assert re.search(r"PodCIDR:\s+<none>", described), described

    namespaces = lab.namespaces()
    for name, pod in pods.items():
        if pod["spec"]["nodeName"] == "node-3":
            assert containerstatus(pod) == "Pending" and pod["status"]["phase"] == "Pending", pod
            assert pod["status"]["podIP"] is None
            assert lab.ns(name) not in namespaces, f"{name} is Pending but has a namespace"
        else:
            assert containerstatus(pod) == "Running", pod
            assert lab.ns(name) in namespaces
    # node-3 still exists as a machine; nobody routes to a podCIDR it does not have
    assert lab.ns("node-3") in namespaces
    routes = lab.in_ns("node-1", "ip", "-4", "route", "show").stdout
    assert "192.168.77.13" not in routes.replace("192.168.77.0/24", ""), routes
    assert_cross_node_reachability(lab)


def test_node_slice_exhausted_one_pod_per_node_and_nothing_half_made(lab):
    lab.up("--node-cidr-mask-size", "30", "--pods-per-node", "2")
    nodes, pods = lab.nodes(), lab.pods()
    namespaces = lab.namespaces()
    for node_name, node in nodes.items():
        cidr = ipaddress.IPv4Network(node["spec"]["podCIDR"])
        assert cidr.prefixlen == 30
        mine = {n: p for n, p in pods.items() if p["spec"]["nodeName"] == node_name}
        running = [n for n, p in mine.items() if containerstatus(p) == "Running"]
        creating = [n for n, p in mine.items() if containerstatus(p) == "ContainerCreating"]
        assert len(mine) == 2 and len(running) == 1 and len(creating) == 1, (node_name, mine)

        ok, failed = running[0], creating[0]
        assert ipaddress.IPv4Address(pods[ok]["status"]["podIP"]) in cidr
        assert pods[failed]["status"]["podIP"] is None
        assert pods[failed]["status"]["phase"] == "Pending"  # ContainerCreating is a Pending Pod
        described = lab.describe("pod", failed)
        first, last = cidr.network_address + 1, cidr.broadcast_address - 1
        assert "FailedCreatePodSandBox" in described, described
        assert f"no IP addresses available in range set: {first}-{last}" in described, described
        assert f"node {node_name}" in described and str(cidr) in described, described
        if node_name == "node-1":
            assert "no IP addresses available in range set: 10.244.0.1-10.244.0.2" in described

        # the failed sandbox left nothing behind: no namespace, no veth, no lease
        assert lab.ns(failed) not in namespaces
        assert lab.ns(ok) in namespaces
        veths = _veths(lab, node_name)
        assert "eth0" in veths  # the node's underlay NIC is a veth too
        pod_veths = [v for v in veths if v != "eth0"]
        assert len(pod_veths) == len(running), (node_name, veths)
        assert pod_veths == [pods[ok]["podnet"]["hostVeth"]]
        leases = _ip_named_files(os.path.join(lab.run_dir, "ipam", node_name))
        assert leases == [pods[ok]["status"]["podIP"]], (node_name, leases)

    assert_cross_node_reachability(lab)
