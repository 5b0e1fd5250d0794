"""A routed underlay (``up --underlay routed``): the nodes on two L2 segments, the two halves of
the underlay CIDR, joined by a router namespace that knows no Pod CIDR. host-gw cannot route
across (its next hop must be on a connected network) and says so; the VXLAN overlay can, its
outer packets being ordinary node-to-node UDP that the router forwards."""

from __future__ import annotations

import pytest

import ipaddress
import json
import os

from tests.support.captures import NsTcpdump, tshark_fields
from tests.support.labs import assert_refused, internal_ip, ip_json, probe_json
from tests.support.packets import ping_until, udp_probe
from tests.support.processes import explain, netns_inode, podnet

pytestmark = pytest.mark.root


SEGMENTS = ("192.168.77.0/25", "192.168.77.128/25")
ROUTER_IPS = ("192.168.77.1", "192.168.77.129")
# node -> (segment index, INTERNAL-IP): from .11 of each segment
NODES = {"node-1": (0, "192.168.77.11"), "node-2": (0, "192.168.77.12"),
         "node-3": (1, "192.168.77.139"), "node-4": (1, "192.168.77.140")}


def _segment_of(ip: str) -> int:
    return next(i for i, s in enumerate(SEGMENTS) if ipaddress.IPv4Address(ip) in ipaddress.IPv4Network(s))


def _podnet_routes(lab, node: str) -> set[tuple]:
    return {(r["dst"], r.get("gateway"), r["dev"]) for r in ip_json(lab, node, "-4", "route", "show")
            if r.get("protocol") == "77"}


def _cross_segment_pairs(lab, include_nodes: bool = True) -> set[tuple[str, str]]:
    """(source, target Pod) pairs whose nodes sit on different segments."""
    pods = lab.pods()
    segment = {n: NODES[n][0] for n in NODES}
    where = {p: segment[item["spec"]["nodeName"]] for p, item in pods.items()}
    sources = dict(where)
    if include_nodes:
        sources.update(segment)
    return {(s, t) for s, ss in sources.items() for t, ts in where.items() if s != t and ss != ts}


def _assert_unreachable_at_router(lab, src: str, dst: str, *args: str) -> dict:
    verdict = probe_json(lab, src, dst, *args, expect=1)
    assert verdict["status"] == "unreachable", verdict
    assert "last seen in router" in verdict["reason"], verdict["reason"]
    last = verdict["path"][-1]
    assert (last["name"], last["kind"], last["direction"]) == ("router", "router", "in"), verdict["path"]
    assert last["netns"] == lab.ns("router"), last
    assert not any(s["local"] for s in verdict["path"]), verdict["path"]
    return verdict


# -- 6. two segments, a router, and host-gw's limit -------------------------------------------------

def test_routed_underlay_two_segments_router_and_host_gw_warnings(lab):
    up = lab.up("--underlay", "routed", "--nodes", "4")
    nodes = lab.nodes()
    assert set(nodes) == set(NODES)
    for name, (segment, ip) in NODES.items():
        assert internal_ip(nodes[name]) == ip, (name, nodes[name]["status"])
        addrs = [(a["local"], a["prefixlen"]) for e in ip_json(lab, name, "-4", "addr", "show", "dev", "eth0")
                 for a in e["addr_info"]]
        assert addrs == [(ip, 25)], (name, addrs)
        defaults = [r for r in ip_json(lab, name, "-4", "route", "show") if r["dst"] == "default"]
        assert [(r.get("gateway"), r["dev"]) for r in defaults] == [(ROUTER_IPS[segment], "eth0")], (name, defaults)

    # the router: a namespace of the lab with a leg (.1, .129) on each segment, forwarding on
    assert lab.ns("router") in lab.namespaces()
    router_addrs = sorted((a["local"], a["prefixlen"]) for e in ip_json(lab, "router", "-4", "addr", "show")
                          for a in e["addr_info"] if a["local"] != "127.0.0.1")
    assert router_addrs == [(ROUTER_IPS[0], 25), (ROUTER_IPS[1], 25)], router_addrs
    forwarding = lab.in_ns("router", "cat", "/proc/sys/net/ipv4/ip_forward")
    assert forwarding.returncode == 0 and forwarding.stdout.strip() == "1", explain(forwarding)
    router_routes = {r["dst"] for r in ip_json(lab, "router", "-4", "route", "show")}
    # it knows no Pod CIDR: the segments, its uplink to the Internet, and no way out for private ranges
    assert router_routes == set(SEGMENTS) | {"default", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}, router_routes

    # up warned, node by node, about every podCIDR host-gw cannot reach
    warnings = [line for line in up.stdout.splitlines() if line.startswith("warning:")]
    expected = set()
    for name, (segment, _ip) in NODES.items():
        for other, (other_segment, other_ip) in NODES.items():
            if other_segment != segment:
                expected.add(f"warning: {name} cannot route {nodes[other]['spec']['podCIDR']} via {other_ip} ({other}): "
                             f"the next hop is not on a connected network of {name}")
    assert len(warnings) == len(expected) == 8, up.stdout
    assert {w.split(" (host-gw", 1)[0] for w in warnings} == expected, warnings
    assert all("podnet routing vxlan" in w for w in warnings), warnings
    assert "routed underlay" in up.stdout, up.stdout

    described = lab.describe("node", "node-1")
    events = [line for line in described.splitlines() if "NextHopNotConnected" in line]
    assert len(events) == 2, described
    assert any("Warning" in e and "10.244.2.0/24 via 192.168.77.139 (node-3)" in e for e in events), events
    assert all("not on a connected network" in e for e in events), events
    assert lab.describe("node", "node-3").count("NextHopNotConnected") == 2  # and the other way round

    # host-gw routes only within a segment
    for name, (segment, _ip) in NODES.items():
        want = {(nodes[o]["spec"]["podCIDR"], oip, "eth0") for o, (oseg, oip) in NODES.items()
                if o != name and oseg == segment}
        assert _podnet_routes(lab, name) == want, name

    # same segment: reached, no NAT, two routed hops
    same = probe_json(lab, "pod-1-1", "pod-2-1")
    assert same["status"] == "reached" and same["receiver"] == "pod-2-1", same
    assert same["source_nat"] is False and same["destination_nat"] is False and same["ttl"] == 62, same
    same = probe_json(lab, "pod-3-2", "pod-4-1", "-p", "udp", "--port", "9000")
    assert same["status"] == "reached" and same["source_nat"] is False and same["ttl"] == 62, same

    # across: dies at the router (exit 1), over ICMP and TCP, Pod or node as the source
    _assert_unreachable_at_router(lab, "pod-1-1", "pod-3-1")
    _assert_unreachable_at_router(lab, "pod-4-2", "pod-2-2", "-p", "tcp", "--port", "9000")
    _assert_unreachable_at_router(lab, "node-1", "pod-3-1", "-p", "udp", "--port", "9000")

    # the matrix fails on exactly the cross-segment pairs
    matrix = probe_json(lab, "--all", expect=1, timeout=90)
    assert matrix["ok"] is False and matrix["errors"] == [], matrix["errors"]
    assert matrix["pairs"] == (8 * 7 + 4 * 8) * 2, matrix["pairs"]
    failed = {(f["source"], f["target"]) for f in matrix["failures"]}
    assert failed == _cross_segment_pairs(lab), sorted(failed ^ _cross_segment_pairs(lab))
    assert matrix["failed"] == 2 * len(failed) == 96, matrix["failed"]


# -- 7. the overlay crosses the router ------------------------------------------------------------

def test_routed_underlay_vxlan_crosses_the_router(lab, tmp_path):
    lab.up("--underlay", "routed", "--nodes", "4")
    _assert_unreachable_at_router(lab, "pod-1-1", "pod-3-1")

    switched = podnet("routing", "vxlan", "--name", lab.name, "-o", "json", timeout=90)
    assert switched.returncode == 0, explain(switched)
    counts = json.loads(switched.stdout)
    assert (counts["before"], counts["after"]) == ("host-gw", "vxlan"), counts
    # 4 nodes: 3 overlay routes each replace 1 same-segment host-gw route each; 8 Pods and
    # CoreDNS (eth0 + veth each) and 4 cni0
    assert (counts["routesAdded"], counts["routesRemoved"], counts["interfaces"]) == (12, 4, 22), counts

    nodes, pods = lab.nodes(), lab.pods()
    for name in NODES:
        vtep = nodes[name]["podnet"]["vtep"]
        assert vtep is not None, nodes[name]["podnet"]
        link = ip_json(lab, name, "-d", "link", "show", "dev", "flannel.1")[0]
        assert link["linkinfo"]["info_data"]["local"] == internal_ip(nodes[name]), link
        want = {(nodes[o]["spec"]["podCIDR"], nodes[o]["podnet"]["vtep"]["address"], "flannel.1")
                for o in NODES if o != name}
        assert _podnet_routes(lab, name) == want, name

    # across the router now: reached, source preserved, no NAT
    verdict = probe_json(lab, "pod-1-1", "pod-3-1")
    assert verdict["status"] == "reached" and verdict["receiver"] == "pod-3-1", verdict
    assert verdict["seen_src"] == pods["pod-1-1"]["status"]["podIP"], verdict
    assert verdict["source_nat"] is False and verdict["destination_nat"] is False and verdict["ttl"] == 62, verdict
    assert ("node-1", "flannel.1", "out") in {(s["name"], s["iface"], s["direction"]) for s in verdict["path"]}
    verdict = probe_json(lab, "pod-4-2", "pod-2-2", "-p", "tcp", "--port", "9000")
    assert verdict["status"] == "reached" and verdict["source_nat"] is False, verdict
    seen = udp_probe(lab.ns_path("pod-3-2"), lab.ns_path("pod-1-2"), pods["pod-1-2"]["status"]["podIP"])
    assert seen["src"] == pods["pod-3-2"]["status"]["podIP"] and seen["ttl"] == 62, seen

    matrix = probe_json(lab, "--all", timeout=90)
    assert matrix["ok"] is True and matrix["failed"] == 0 and matrix["pairs"] == 176, matrix

    # the outer packets are what the router forwards: in on the node-1 segment, out on node-3's
    n1, n3 = internal_ip(nodes["node-1"]), internal_ip(nodes["node-3"])
    p11, p31 = pods["pod-1-1"]["status"]["podIP"], pods["pod-3-1"]["status"]["podIP"]
    bpf = f"udp port 8472 and src host {n1} and dst host {n3}"
    legs = [NsTcpdump(lab.ns_path("router"), leg, bpf, tmp_path / f"router-{leg}.pcap", count=1)
            for leg in ("eth0", "eth1")]
    try:
        ping_until(lab, "pod-1-1", p31, lambda: all(t.done() for t in legs))
        for t in legs:
            t.finish()
    finally:
        for t in legs:
            t.close()
    fields = ("ip.src", "ip.dst", "ip.ttl", "udp.dstport", "vxlan.vni", "icmp.type")
    rows = {leg: tshark_fields(tmp_path / f"router-{leg}.pcap", *fields) for leg in ("eth0", "eth1")}
    for leg, ttl in (("eth0", "64"), ("eth1", "63")):
        assert len(rows[leg]) == 1, rows
        src, dst, ttls, dport, vni, icmp = rows[leg][0]
        assert src.split(",") == [n1, p11] and dst.split(",") == [n3, p31], (leg, rows[leg])
        assert dport == "8472" and vni == "1" and icmp == "8", (leg, rows[leg])
        # the router decrements the outer TTL only: the inner packet is payload to it
        assert ttls.split(",") == [ttl, "63"], (leg, rows[leg])

    # and back to host-gw: across the router fails again
    back = podnet("routing", "host-gw", "--name", lab.name, "-o", "json", timeout=90)
    assert back.returncode == 0, explain(back)
    _assert_unreachable_at_router(lab, "pod-1-1", "pod-3-1")
    same = probe_json(lab, "pod-1-1", "pod-2-1")
    assert same["status"] == "reached" and same["source_nat"] is False, same


def test_routed_underlay_with_vxlan_from_the_start_has_no_warnings(lab):
    up = lab.up("--underlay", "routed", "--routing", "vxlan")
    assert "warning" not in up.stdout + up.stderr, up.stdout
    assert "NextHopNotConnected" not in lab.describe("node", "node-1")
    nodes = lab.nodes()
    assert [_segment_of(internal_ip(nodes[n])) for n in ("node-1", "node-2", "node-3")] == [0, 0, 1]
    matrix = probe_json(lab, "--all", timeout=90)
    assert matrix["ok"] is True and matrix["pairs"] == 96, matrix


# -- 8. down, and bad input -------------------------------------------------------------------------

def test_routed_underlay_down_removes_the_router_and_bad_input_is_refused(make_lab):
    lab = make_lab()
    lab.up("--underlay", "routed")
    router = lab.ns("router")
    assert netns_inode(router) is not None
    down = lab.down("-o", "json")
    assert down.returncode == 0, explain(down)
    report = json.loads(down.stdout)
    assert router in report["deletedNamespaces"] and report["alreadyGone"] == [], report
    assert netns_inode(router) is None
    assert lab.namespaces() == set()
    assert not os.path.exists(lab.run_dir)

    ring = make_lab()
    refused = podnet("up", "-d", "--name", ring.name, "--underlay", "ring", timeout=60)
    assert_refused(refused, "underlay", "ring", "l2", "routed")
    small = make_lab()
    refused = podnet("up", "-d", "--name", small.name, "--underlay", "routed", "--underlay-cidr", "192.168.77.0/27",
                     timeout=60)
    assert_refused(refused, "underlay-cidr", "192.168.77.0/27")
    for refused_lab in (ring, small):
        assert refused_lab.namespaces() == set()
        assert not os.path.exists(refused_lab.run_dir)
