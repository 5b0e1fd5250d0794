"""VPC-native Pods (``up --cni vpc``, the AWS VPC CNI's model): Pod IPs come from the node subnet
itself, so the subnet caps the cluster's Pods; each Pod holds its address as a /32 behind the
link-local gateway 169.254.1.1, its node routes the /32 to the Pod's veth and answers ARP for
it on eth0 (the emulated VPC fabric)."""

from __future__ import annotations

import ipaddress
import json
import os

import pytest

from tests.support.labs import assert_refused, containerstatus, internal_ip, ip_json, probe_json
from tests.support.packets import udp_probe
from tests.support.processes import explain, podnet

pytestmark = pytest.mark.root


SUBNET = "192.168.80.0/27"
VPC_UP = ("--cni", "vpc", "--underlay-cidr", SUBNET, "--pods-per-node", "6", "--no-dns")  # exact address counts
NODE_IPS = {"node-1": "192.168.80.11", "node-2": "192.168.80.12", "node-3": "192.168.80.13"}
POD_RANGE = [f"192.168.80.{i}" for i in range(14, 31)]  # after the nodes, up to the broadcast
GATEWAY = "169.254.1.1"


def _split(pods: dict[str, dict]) -> tuple[dict[str, dict], dict[str, dict]]:
    running = {n: p for n, p in pods.items() if containerstatus(p) == "Running"}
    others = {n: p for n, p in pods.items() if n not in running}
    return running, others


# -- 9. addresses from the node subnet, and running out of them ----------------------------------

def test_vpc_pods_take_node_subnet_addresses_until_it_runs_out(lab):
    up = lab.up(*VPC_UP)
    assert "17/18 Pods Running" in up.stdout and "cni vpc" in up.stdout, up.stdout
    nodes, pods = lab.nodes(), lab.pods()
    assert {n: internal_ip(item) for n, item in nodes.items()} == NODE_IPS
    for name, node in nodes.items():
        assert node["spec"]["podCIDR"] is None and node["spec"]["podCIDRs"] == [], node["spec"]
        assert node["podnet"]["cni"] == "vpc" and node["podnet"]["vtep"] is None, node["podnet"]
        ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
        assert ready and ready[0]["status"] == "True", node["status"]

    assert len(pods) == 18
    running, others = _split(pods)
    assert len(running) == 17, sorted(others)
    ips = sorted((p["status"]["podIP"] for p in running.values()), key=ipaddress.IPv4Address)
    assert ips == POD_RANGE, ips  # every address of the subnet a Pod may have, each once
    for name, pod in running.items():
        assert pod["status"]["phase"] == "Running", pod
        assert ipaddress.IPv4Address(pod["status"]["podIP"]) in ipaddress.IPv4Network(SUBNET)
        assert pod["status"]["hostIP"] == NODE_IPS[pod["spec"]["nodeName"]], pod["status"]
        assert lab.ns(name) in lab.namespaces()

    [(name, pod)] = others.items()
    node = pod["spec"]["nodeName"]
    assert containerstatus(pod) == "ContainerCreating" and pod["status"]["phase"] == "Pending", pod
    assert pod["status"]["podIP"] is None and pod["podnet"]["netns"] is None, pod
    waiting = pod["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting["reason"] == "ContainerCreating", waiting
    range_set = "no IP addresses available in range set: 192.168.80.14-192.168.80.30"
    for words in (range_set, f"node {node}", SUBNET):
        assert words in waiting["message"], (words, waiting["message"])
    described = lab.describe("pod", name)
    event = [line for line in described.splitlines() if "FailedCreatePodSandBox" in line]
    assert len(event) == 1 and "Warning" in event[0], described
    for words in (range_set, f"node {node}", f"VPC subnet {SUBNET}"):
        assert words in event[0], (words, event[0])
    assert lab.ns(name) not in lab.namespaces(), f"{name} got no address but has a namespace"

    # what did get an address works: every pair, across nodes, no NAT
    matrix = probe_json(lab, "--all", timeout=90)
    assert matrix["ok"] is True and matrix["failed"] == 0 and matrix["errors"] == [], matrix
    assert sorted(matrix["targets"]) == sorted(running), matrix["targets"]
    assert matrix["pairs"] == (17 * 16 + 3 * 17) * 2, matrix["pairs"]
    verdict = probe_json(lab, "pod-1-1", "pod-3-5")
    assert verdict["status"] == "reached" and verdict["receiver"] == "pod-3-5", verdict
    assert verdict["seen_src"] == running["pod-1-1"]["status"]["podIP"], verdict
    assert verdict["source_nat"] is False and verdict["destination_nat"] is False and verdict["ttl"] == 62, verdict
    seen = udp_probe(lab.ns_path("pod-3-1"), lab.ns_path("pod-2-6"), running["pod-2-6"]["status"]["podIP"])
    assert seen["src"] == running["pod-3-1"]["status"]["podIP"] and seen["ttl"] == 62, seen


# -- 10. the plumbing ------------------------------------------------------------------------------

def test_vpc_pod_has_a_32_behind_link_local_gateway_and_node_routes_and_proxies_it(lab):
    lab.up("--cni", "vpc", "--underlay-cidr", SUBNET, "--pods-per-node", "2")
    nodes, pods = lab.nodes(), lab.pods()
    running, others = _split(pods)
    assert not others and len(running) == 6

    mine: dict[str, dict[str, str]] = {n: {} for n in nodes}  # node -> {pod IP: host veth}
    for name, pod in running.items():
        ip, node, veth = pod["status"]["podIP"], pod["spec"]["nodeName"], pod["podnet"]["hostVeth"]
        assert veth, pod["podnet"]
        mine[node][ip] = veth

        addrs = [(a["local"], a["prefixlen"]) for e in ip_json(lab, name, "-4", "addr", "show", "dev", "eth0")
                 for a in e["addr_info"]]
        assert addrs == [(ip, 32)], (name, addrs)
        routes = ip_json(lab, name, "-4", "route", "show")
        assert [(r["dst"], r.get("gateway"), r["dev"], r.get("flags")) for r in routes] == [
            ("default", GATEWAY, "eth0", ["onlink"])], (name, routes)
        text = lab.in_ns(name, "ip", "-4", "route", "show")
        assert text.stdout.strip() == f"default via {GATEWAY} dev eth0 onlink", explain(text)
        # the gateway is the host veth's MAC, pinned
        host_mac = ip_json(lab, node, "link", "show", "dev", veth)[0]["address"]
        gateway = [e for e in ip_json(lab, name, "neigh", "show", "dev", "eth0") if e["dst"] == GATEWAY]
        assert [(e["lladdr"], e["state"]) for e in gateway] == [(host_mac, ["PERMANENT"])], (name, gateway)

    for node in nodes:
        host_routes = {r["dst"]: r["dev"] for r in ip_json(lab, node, "-4", "route", "show")
                       if "/" not in r["dst"] and r["dst"] != "default"}
        assert host_routes == mine[node], (node, host_routes)
        text = lab.in_ns(node, "ip", "-4", "route", "show")
        for ip, veth in mine[node].items():
            assert f"{ip} dev {veth} scope link" in text.stdout, text.stdout
        proxies = {(e["dst"], e["dev"]) for e in ip_json(lab, node, "neigh", "show", "proxy")}
        assert proxies == {(ip, "eth0") for ip in mine[node]}, (node, proxies)

    # the fabric delivers to the node that holds the address: node-1 resolves a node-3 Pod's IP
    # on eth0 to node-3's MAC (proxy ARP), and the Pod's packet arrives unchanged
    far = next(ip for ip in mine["node-3"])
    near = next(n for n, p in running.items() if p["spec"]["nodeName"] == "node-1")
    seen = udp_probe(lab.ns_path(near), lab.ns_path(next(n for n, p in running.items()
                                                         if p["status"]["podIP"] == far)), far)
    assert seen["src"] == running[near]["status"]["podIP"] and seen["ttl"] == 62, seen
    node3_mac = ip_json(lab, "node-3", "link", "show", "dev", "eth0")[0]["address"]
    learned = [e for e in ip_json(lab, "node-1", "neigh", "show", "dev", "eth0") if e["dst"] == far]
    assert [e.get("lladdr") for e in learned] == [node3_mac], learned


# -- 11. combinations that make no sense ---------------------------------------------------------------

@pytest.mark.parametrize("extra", [("--routing", "vxlan"), ("--underlay", "routed")], ids=["vxlan", "routed"])
def test_vpc_refuses_overlay_and_routed_underlay(make_lab, extra):
    lab = make_lab()
    result = podnet("up", "-d", "--name", lab.name, "--cni", "vpc", *extra, timeout=60)
    assert_refused(result, "cni", "vpc", "--underlay l2", "--routing host-gw")
    assert lab.namespaces() == set()
    assert not os.path.exists(lab.run_dir)


def test_vpc_lab_refuses_switch_to_vxlan_and_stays_usable(lab):
    lab.up("--cni", "vpc", "--underlay-cidr", SUBNET)
    switched = podnet("routing", "vxlan", "--name", lab.name, "-o", "json", timeout=60)
    after = podnet("get", "nodes", "-o", "json", "--name", lab.name)
    assert after.returncode == 0, "the lab can no longer be loaded:\n" + explain(after)
    assert_refused(switched, "vpc")
    assert {n["podnet"]["routing"] for n in json.loads(after.stdout)["items"]} == {"vpc-native"}  # unchanged
    matrix = probe_json(lab, "--all", timeout=90)
    assert matrix["ok"] is True, matrix
