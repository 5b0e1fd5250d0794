"""The Kubernetes network model on a running lab: every Pod gets its own IP from its node's
podCIDR, and Pods reach each other (and nodes reach Pods) without NAT."""

from __future__ import annotations

import ipaddress
import re
import subprocess

import pytest

from tests.support.labs import containerstatus, eth0_ipv4, internal_ip
from tests.support.packets import assert_ping, tcp_probe, udp_probe
from tests.support.processes import explain, podnet, run, wait_until

pytestmark = pytest.mark.root


DEFAULT_CIDRS = {"node-1": "10.244.0.0/24", "node-2": "10.244.1.0/24", "node-3": "10.244.2.0/24"}
DEFAULT_NODE_IPS = {"node-1": "192.168.77.11", "node-2": "192.168.77.12", "node-3": "192.168.77.13"}


def test_default_lab_every_pod_running_with_unique_ip_in_its_node_cidr(lab):
    lab.up()
    nodes = lab.nodes()
    assert {n: node["spec"]["podCIDR"] for n, node in nodes.items()} == DEFAULT_CIDRS
    assert {n: internal_ip(node) for n, node in nodes.items()} == DEFAULT_NODE_IPS
    for node in nodes.values():
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "True"

    pods = lab.pods()
    assert sorted(pods) == [f"pod-{n}-{j}" for n in (1, 2, 3) for j in (1, 2)]
    ips = []
    for name, pod in pods.items():
        node = f"node-{name.split('-')[1]}"
        assert pod["spec"]["nodeName"] == node
        assert pod["status"]["phase"] == "Running" and containerstatus(pod) == "Running"
        assert pod["status"]["hostIP"] == DEFAULT_NODE_IPS[node]
        ip = pod["status"]["podIP"]
        cidr = ipaddress.IPv4Network(DEFAULT_CIDRS[node])
        assert ipaddress.IPv4Address(ip) in cidr
        # not the network address, the gateway (the node's cni0) or the broadcast address
        assert ip not in (str(cidr.network_address), str(cidr.network_address + 1), str(cidr.broadcast_address))
        ips.append(ip)
    assert len(set(ips)) == len(ips), ips

    expected_ns = lab.infra_ns() | {lab.ns(n) for n in DEFAULT_CIDRS} | {lab.ns(p) for p in pods}
    assert lab.namespaces() == expected_ns

    table = podnet("get", "nodes", "--name", lab.name, check=True).stdout
    for node, cidr in DEFAULT_CIDRS.items():
        assert re.search(rf"^{node}\s+Ready\s+\S+\s+\S+\s+{re.escape(DEFAULT_NODE_IPS[node])}\s+{re.escape(cidr)}\s*$",
                         table, re.M), table


def test_cross_node_pod_to_pod_keeps_source_ip_and_is_routed_twice(lab):
    lab.up()
    pods = lab.pods()
    ip = {n: p["status"]["podIP"] for n, p in pods.items()}
    for src, dst in (("pod-1-1", "pod-2-1"), ("pod-2-2", "pod-3-1"), ("pod-3-2", "pod-1-2")):
        seen = udp_probe(lab.ns_path(src), lab.ns_path(dst), ip[dst])
        assert seen["src"] == ip[src], f"{src} -> {dst}: receiver saw {seen} (NAT?)"
        assert seen["ttl"] == 62, f"{src} -> {dst}: TTL {seen['ttl']}, expected 64 - 2 routed hops"
        seen = tcp_probe(lab.ns_path(src), lab.ns_path(dst), ip[dst])
        assert seen["src"] == ip[src], f"TCP {src} -> {dst}: receiver saw {seen}"
        assert seen["dst"] == ip[dst]


def test_same_node_pods_are_bridged_without_a_routing_hop(lab):
    lab.up()
    pods = lab.pods()
    for src, dst in (("pod-1-1", "pod-1-2"), ("pod-2-2", "pod-2-1")):
        seen = udp_probe(lab.ns_path(src), lab.ns_path(dst), pods[dst]["status"]["podIP"])
        assert seen["src"] == pods[src]["status"]["podIP"]
        assert seen["ttl"] == 64, f"{src} -> {dst} should be bridged on cni0, got TTL {seen['ttl']}"
        seen = tcp_probe(lab.ns_path(src), lab.ns_path(dst), pods[dst]["status"]["podIP"])
        assert seen["src"] == pods[src]["status"]["podIP"]


def test_node_to_pod_uses_the_nodes_own_address(lab):
    lab.up()
    pods = lab.pods()
    local, remote = pods["pod-1-1"]["status"]["podIP"], pods["pod-2-1"]["status"]["podIP"]

    # the node's own addresses, as the kernel has them
    addrs = lab.in_ns("node-1", "ip", "-4", "-o", "addr", "show")
    assert addrs.returncode == 0, explain(addrs)
    node_addrs = set(re.findall(r"inet (\d+\.\d+\.\d+\.\d+)/", addrs.stdout)) - {"127.0.0.1"}
    assert node_addrs == {"192.168.77.11", "10.244.0.1"}, addrs.stdout

    # which source the kernel picks for each destination
    def source_for(dst: str) -> str:
        route = lab.in_ns("node-1", "ip", "-4", "route", "get", dst)
        assert route.returncode == 0, explain(route)
        return re.search(r"\bsrc (\S+)", route.stdout).group(1)

    assert source_for(local) == "10.244.0.1"  # cni0, the gateway of node-1's podCIDR
    assert source_for(remote) == "192.168.77.11"  # eth0, node-1's INTERNAL-IP

    seen = udp_probe(lab.ns_path("node-1"), lab.ns_path("pod-1-1"), local)
    assert seen["src"] == "10.244.0.1" and seen["ttl"] == 64, seen
    seen = udp_probe(lab.ns_path("node-1"), lab.ns_path("pod-2-1"), remote)
    assert seen["src"] == "192.168.77.11", seen
    assert seen["ttl"] == 63, f"node-1 -> pod on node-2 is routed once (by node-2): {seen}"
    for dst_pod, dst_ip, want in (("pod-1-1", local, "10.244.0.1"), ("pod-2-1", remote, "192.168.77.11")):
        seen = tcp_probe(lab.ns_path("node-1"), lab.ns_path(dst_pod), dst_ip)
        assert seen["src"] == want, seen


def test_a_pods_ip_is_the_same_from_everywhere(lab):
    lab.up()
    pods = lab.pods()
    for name, pod in pods.items():
        own = eth0_ipv4(lab, name)
        api = pod["status"]["podIP"]
        # a peer on another node sees the same address as the source
        peer = "pod-2-1" if name.startswith("pod-1-") else "pod-1-1"
        seen = udp_probe(lab.ns_path(name), lab.ns_path(peer), pods[peer]["status"]["podIP"])
        assert own == api == seen["src"], (name, own, api, seen)


@pytest.mark.parametrize("cni, same_node_ttl", [("bridge", 64), ("ptp", 63), ("builtin", 64)])
def test_pod_to_pod_with_each_cni(make_lab, cni, same_node_ttl):
    lab = make_lab()
    lab.up("--cni", cni)
    nodes, pods = lab.nodes(), lab.pods()
    assert all(p["podnet"]["cni"] == cni for p in nodes.values())
    ip = {}
    for name, pod in pods.items():
        assert containerstatus(pod) == "Running", pod
        ip[name] = pod["status"]["podIP"]
        assert ipaddress.IPv4Address(ip[name]) in ipaddress.IPv4Network(nodes[pod["spec"]["nodeName"]]["spec"]["podCIDR"])
        assert eth0_ipv4(lab, name) == ip[name]
    assert len(set(ip.values())) == len(ip)

    for src, dst in (("pod-1-1", "pod-2-2"), ("pod-2-1", "pod-3-1"), ("pod-3-1", "pod-1-1")):
        seen = udp_probe(lab.ns_path(src), lab.ns_path(dst), ip[dst])
        assert (seen["src"], seen["ttl"]) == (ip[src], 62), (cni, src, dst, seen)
        assert tcp_probe(lab.ns_path(src), lab.ns_path(dst), ip[dst])["src"] == ip[src]
    seen = udp_probe(lab.ns_path("pod-1-1"), lab.ns_path("pod-1-2"), ip["pod-1-2"])
    assert (seen["src"], seen["ttl"]) == (ip["pod-1-1"], same_node_ttl), (cni, seen)


def test_tcpdump_in_the_receiving_pod_sees_the_sender_pod_ip(lab, tmp_path):
    lab.up()
    pods = lab.pods()
    src_ip, dst_ip = pods["pod-1-1"]["status"]["podIP"], pods["pod-3-2"]["status"]["podIP"]
    pcap = tmp_path / "capture.pcap"
    stderr_log = tmp_path / "tcpdump.err"
    with open(stderr_log, "wb") as err:
        dump = subprocess.Popen(
            ["nsenter", f"--net={lab.ns_path('pod-3-2')}", "--",
             "tcpdump", "-n", "-Z", "root", "-U", "-c", "1", "-i", "eth0", "-w", str(pcap), "icmp"],
            stdout=subprocess.DEVNULL, stderr=err,
        )
    try:
        wait_until(lambda: b"listening on" in stderr_log.read_bytes() or dump.poll() is not None,
                   timeout=10, what="tcpdump to start")
        assert dump.poll() is None, stderr_log.read_text()
        assert_ping(lab, "pod-1-1", dst_ip)
        dump.wait(timeout=10)
    finally:
        if dump.poll() is None:
            dump.kill()
            dump.wait(timeout=10)
    assert dump.returncode == 0, stderr_log.read_text()
    read = run(["tcpdump", "-n", "-r", str(pcap)], timeout=20)
    assert read.returncode == 0, explain(read)
    lines = [line for line in read.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, read.stdout
    assert re.search(rf"IP {re.escape(src_ip)} > {re.escape(dst_ip)}: ICMP echo request", lines[0]), lines[0]


def test_nodes_route_to_each_others_pod_cidr_via_internal_ip(lab):
    """Nodes reach each other's INTERNAL-IP on the underlay, and each node routes to every other
    node's podCIDR via that node's INTERNAL-IP (host-gw)."""
    lab.up()
    nodes = lab.nodes()
    for name in nodes:
        routes = lab.in_ns(name, "ip", "-4", "route", "show")
        assert routes.returncode == 0, explain(routes)
        for other, node in nodes.items():
            if other == name:
                continue
            cidr, via = node["spec"]["podCIDR"], internal_ip(node)
            assert re.search(rf"^{re.escape(cidr)} via {re.escape(via)} dev eth0\b", routes.stdout, re.M), routes.stdout
            assert_ping(lab, name, via)
