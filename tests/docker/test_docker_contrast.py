"""``--network-model docker``: the same machines with Docker's default bridge on each.

The contrast to the Kubernetes model, measured: container addresses repeat across hosts
(172.17.0.0/16 everywhere), so another host's container cannot be reached by its address;
a published port works, but through DNAT on the way in and MASQUERADE on the way out, so
the receiver sees the sending host's address. The NAT rules live in each host's namespace,
never the machine's own, and vanish with the lab.
"""

from __future__ import annotations

import pytest

import ipaddress
import os
import re

from tests.support.labs import internal_ip, probe_cmd, probe_json
from tests.support.processes import explain
from tests.support.snapshots import root_iptables_save

pytestmark = pytest.mark.root


DOCKER_NET = ipaddress.IPv4Network("172.17.0.0/16")
NODES = ["node-1", "node-2", "node-3"]
PODS = [f"pod-{n}-{j}" for n in (1, 2, 3) for j in (1, 2)]


def up_docker(lab):
    lab.up("--network-model", "docker")
    return lab.pods()


def test_container_addresses_overlap_across_hosts(lab):
    pods = up_docker(lab)
    nodes = lab.nodes()
    assert sorted(pods) == PODS
    assert {n: node["spec"]["podCIDR"] for n, node in nodes.items()} == {n: str(DOCKER_NET) for n in NODES}
    by_node: dict[str, list[str]] = {}
    for name, pod in pods.items():
        ip = pod["status"]["podIP"]
        assert ip and ipaddress.IPv4Address(ip) in DOCKER_NET, (name, ip)
        assert ip != "172.17.0.1", (name, ip)  # docker0's own address
        assert pod["status"]["phase"] == "Running", pod
        assert pod["status"]["hostIP"] == internal_ip(nodes[pod["spec"]["nodeName"]])
        by_node.setdefault(pod["spec"]["nodeName"], []).append(ip)
    # unique on each host, the same set on every host
    for node, ips in by_node.items():
        assert len(set(ips)) == len(ips), (node, ips)
    assert set(by_node["node-1"]) == set(by_node["node-2"]) == set(by_node["node-3"]), by_node
    assert pods["pod-1-2"]["status"]["podIP"] == pods["pod-2-2"]["status"]["podIP"]
    assert len({p["status"]["podIP"] for p in pods.values()}) < len(pods)


def test_another_hosts_container_is_not_reachable_by_its_address(lab):
    pods = up_docker(lab)
    addr = pods["pod-2-2"]["status"]["podIP"]
    assert addr == pods["pod-1-2"]["status"]["podIP"]
    v = probe_json(lab, "pod-1-1", "pod-2-2")
    assert v["status"] == "reached", v
    assert v["probe"]["target"] == "pod-2-2" and v["probe"]["destination"] == addr, v["probe"]
    assert v["wrongTarget"] is True, v
    assert v["receiver"] == "pod-1-2", v
    assert v["ok"] is False, v
    assert v["hops"] == 0 and v["seen_dst"] == addr, v
    # the packet never left node-1: node-2 and pod-2-2 never saw it
    assert {s["name"] for s in v["path"]} == {"pod-1-1", "node-1", "pod-1-2"}, v["path"]

    result = probe_cmd(lab, "pod-1-1", "pod-2-2")
    assert result.returncode == 0, explain(result)  # it was reached: just not the container named
    head = result.stdout.splitlines()[0] if result.stdout else ""
    assert "NOT pod-2-2" in head and "pod-1-2" in head, explain(result)


def test_published_port_works_through_nat_on_both_sides(lab):
    pods = up_docker(lab)
    host2 = lab.node_ip("node-2")
    host1 = lab.node_ip("node-1")
    assert (host1, host2) == ("192.168.77.11", "192.168.77.12")
    v = probe_json(lab, "pod-1-1", host2, "-p", "tcp", "--port", "8080")
    assert v["status"] == "reached", v
    assert v["receiver"] == "pod-2-1" and v["wrongTarget"] is False, v
    assert v["probe"]["source_ip"] == pods["pod-1-1"]["status"]["podIP"], v["probe"]
    assert v["source_nat"] is True and v["seen_src"] == host1, v
    assert v["destination_nat"] is True, v
    assert v["seen_dst"] == "172.17.0.2" == pods["pod-2-1"]["status"]["podIP"], v
    assert v["seen_dport"] == 80, v
    assert v["ok"] is False, v
    # the second container on node-2 is published on 8081
    v2 = probe_json(lab, "pod-1-1", host2, "-p", "tcp", "--port", "8081")
    assert v2["status"] == "reached" and v2["receiver"] == "pod-2-2", v2
    assert v2["seen_dst"] == pods["pod-2-2"]["status"]["podIP"] and v2["seen_dport"] == 80, v2
    result = probe_cmd(lab, "pod-1-1", host2, "-p", "tcp", "--port", "8080")
    assert result.returncode == 0, explain(result)
    head = result.stdout.splitlines()[0]
    assert "source NAT" in head and "destination NAT" in head and "172.17.0.2:80" in head, head


def test_nat_rules_live_in_each_host_and_vanish_with_the_lab(lab):
    root_before = root_iptables_save()
    pods = up_docker(lab)
    for node in NODES:
        nat = lab.in_ns(node, "iptables-save", "-t", "nat")
        assert nat.returncode == 0, explain(nat)
        assert "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE" in nat.stdout, nat.stdout
        dnats = re.findall(r"^-A DOCKER .*--dport (\d+) -j DNAT --to-destination (\S+)$", nat.stdout, re.M)
        here = sorted(p["status"]["podIP"] + ":80" for p in pods.values() if p["spec"]["nodeName"] == node)
        assert sorted(d for _port, d in dnats) == here, (node, nat.stdout)
        assert sorted(port for port, _d in dnats) == ["8080", "8081"], (node, nat.stdout)
    assert root_iptables_save() == root_before, "the lab changed the root namespace's iptables"

    down = lab.down()
    assert down.returncode == 0, explain(down)
    assert lab.namespaces() == set()
    assert not os.path.exists(lab.run_dir)
    assert root_iptables_save() == root_before


def test_matrix_on_the_docker_lab_fails_and_only_same_host_pairs_pass(lab):
    pods = up_docker(lab)
    host_of = {name: pod["spec"]["nodeName"] for name, pod in pods.items()} | {n: n for n in NODES}
    ip_of = {name: pod["status"]["podIP"] for name, pod in pods.items()}
    m = probe_json(lab, "--all", expect=1)
    assert m["ok"] is False and m["errors"] == [], m["errors"]
    every = {(s, t, p) for s in PODS + NODES for t in PODS if s != t for p in ("udp", "tcp")}
    assert m["pairs"] == len(every) == 96
    failed = {(f["source"], f["target"], f["proto"]) for f in m["failures"]}
    passed = every - failed
    same_host = {k for k in every if host_of[k[0]] == host_of[k[1]]}
    assert passed == same_host, sorted(passed ^ same_host)
    assert m["failed"] == 96 - 24
    for f in m["failures"]:
        # answered by the container on the sender's own host that has the target's address
        local = next(p for p in PODS if host_of[p] == host_of[f["source"]] and ip_of[p] == ip_of[f["target"]])
        assert f["answered"] is True and f["name_ok"] is False and f["answer"] == local, f
        assert f["ok"] is False, f
    result = probe_cmd(lab, "--all")
    assert result.returncode == 1, explain(result)
    assert re.search(r"^FAIL: 24/96 pairs passed", result.stdout, re.M), result.stdout
    assert "other" in result.stdout
