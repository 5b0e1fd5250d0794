"""The VXLAN backend (flannel's ``vxlan``): a flannel.1 VTEP per node, Pod packets inside UDP
8472 between the nodes' INTERNAL-IPs, Pod MTU 1450; and switching a running lab between
host-gw and vxlan. From inside the Pods nothing differs from host-gw: same addresses, no NAT,
TTL 62."""

from __future__ import annotations

import ipaddress
import json
import secrets

import pytest

from tests.support.captures import finish_podnet_capture, start_podnet_capture, tshark_fields
from tests.support.labs import assert_refused, containerstatus, internal_ip, ip_json, probe_json
from tests.support.packets import Receiver, UDP_SERVER, ping_until, random_port, send_from, tcp_transfer, udp_probe
from tests.support.processes import explain, podnet

pytestmark = pytest.mark.root


VXLAN_DEV = "flannel.1"
VXLAN_PORT = 8472
OVERLAY_MTU = 1450
UNDERLAY_MTU = 1500

# Cross-node probes whose verdicts must not depend on the backend.
CROSS_NODE = [("pod-1-1", "pod-3-2"), ("pod-2-2", "pod-1-1"), ("pod-3-1", "pod-2-1")]
VERDICT_FIELDS = ("status", "receiver", "receiver_iface", "seen_src", "seen_dst", "source_nat",
                  "destination_nat", "hops", "ttl")


def _network_address(cidr: str) -> str:
    return str(ipaddress.IPv4Network(cidr).network_address)


def _running_pods(lab) -> dict[str, dict]:
    return {n: p for n, p in lab.pods().items() if containerstatus(p) == "Running"}


def _mtu(lab, obj: str, ifname: str) -> int:
    links = ip_json(lab, obj, "link", "show", "dev", ifname)
    assert len(links) == 1, links
    return links[0]["mtu"]


def _podnet_routes(lab, node: str) -> set[tuple]:
    """(dst, gateway, dev, onlink) of the routes podnet owns on a node (protocol 77)."""
    return {(r["dst"], r.get("gateway"), r["dev"], "onlink" in r.get("flags", []))
            for r in ip_json(lab, node, "-4", "route", "show") if r.get("protocol") == "77"}


def _has_link(lab, obj: str, ifname: str) -> bool:
    result = lab.in_ns(obj, "ip", "-j", "link", "show", "dev", ifname)
    if result.returncode != 0:
        assert "does not exist" in result.stderr, explain(result)
        return False
    return True


def _assert_matrix_passes(lab, pairs: int) -> dict:
    matrix = probe_json(lab, "--all", timeout=90)
    assert matrix["ok"] is True and matrix["failed"] == 0 and matrix["errors"] == [], matrix
    assert matrix["failures"] == [], matrix["failures"]
    assert matrix["pairs"] == pairs, matrix
    return matrix


def _assert_vxlan_plumbing(lab) -> None:
    """flannel.1 on every node as flannel's vxlan backend makes it, with a route, a permanent
    neighbour and a forwarding entry for every other node; Pods at MTU 1450."""
    nodes = lab.nodes()
    assert len(nodes) >= 2
    for name, node in nodes.items():
        vtep = node["podnet"]["vtep"]
        cidr = node["spec"]["podCIDR"]
        assert vtep is not None and vtep["device"] == VXLAN_DEV, node["podnet"]
        assert vtep["address"] == _network_address(cidr), (name, vtep, cidr)
        assert node["podnet"]["routing"] == "vxlan"

        links = ip_json(lab, name, "-d", "link", "show", "dev", VXLAN_DEV)
        assert len(links) == 1, links
        link = links[0]
        info = link["linkinfo"]
        data = info["info_data"]
        assert info["info_kind"] == "vxlan", link
        assert data["id"] == 1 and data["port"] == VXLAN_PORT and data["learning"] is False, data
        assert data["local"] == internal_ip(node), (name, data)
        assert data.get("link") == "eth0", data
        assert link["mtu"] == OVERLAY_MTU, link
        assert link["address"] == vtep["mac"], (name, link["address"], vtep)
        assert "UP" in link["flags"], link
        text = lab.in_ns(name, "ip", "-d", "link", "show", "dev", VXLAN_DEV)
        assert text.returncode == 0, explain(text)
        for words in ("vxlan id 1 ", f"local {internal_ip(node)} ", f"dstport {VXLAN_PORT} ", "nolearning",
                      f"mtu {OVERLAY_MTU} "):
            assert words in text.stdout, (words, text.stdout)

        addrs = [(a["local"], a["prefixlen"]) for entry in ip_json(lab, name, "-4", "addr", "show", "dev", VXLAN_DEV)
                 for a in entry["addr_info"]]
        assert addrs == [(_network_address(cidr), 32)], (name, addrs)

        others = {n: o for n, o in nodes.items() if n != name}
        want_routes = {(o["spec"]["podCIDR"], o["podnet"]["vtep"]["address"], VXLAN_DEV, True) for o in others.values()}
        assert _podnet_routes(lab, name) == want_routes, name

        neighbours = {(e["dst"], e["lladdr"], tuple(e["state"]))
                      for e in ip_json(lab, name, "neigh", "show", "dev", VXLAN_DEV)}
        assert neighbours == {(o["podnet"]["vtep"]["address"], o["podnet"]["vtep"]["mac"], ("PERMANENT",))
                              for o in others.values()}, (name, neighbours)

        fdb = lab.in_ns(name, "bridge", "-j", "fdb", "show", "dev", VXLAN_DEV)
        assert fdb.returncode == 0, explain(fdb)
        entries = {(e["mac"], e.get("dst"), e.get("state")) for e in json.loads(fdb.stdout or "[]")
                   if e["mac"] != "00:00:00:00:00:00"}
        assert entries == {(o["podnet"]["vtep"]["mac"], internal_ip(o), "permanent") for o in others.values()}, (name, entries)

    pods = _running_pods(lab)
    assert pods
    for pod in pods:
        assert _mtu(lab, pod, "eth0") == OVERLAY_MTU, pod


def _assert_host_gw_plumbing(lab) -> None:
    nodes = lab.nodes()
    for name, node in nodes.items():
        assert node["podnet"]["routing"] == "host-gw" and node["podnet"]["vtep"] is None, node["podnet"]
        assert not _has_link(lab, name, VXLAN_DEV), f"{VXLAN_DEV} is still on {name}"
        want = {(o["spec"]["podCIDR"], internal_ip(o), "eth0", False) for n, o in nodes.items() if n != name}
        assert _podnet_routes(lab, name) == want, name


def _assert_pod_mtu_everywhere(lab, mtu: int) -> None:
    """Every Running Pod's eth0, its host-side veth, and each node's cni0 at ``mtu``; the node
    CNI configs give new Pods the same MTU."""
    for pod, item in _running_pods(lab).items():
        assert _mtu(lab, pod, "eth0") == mtu, pod
        assert _mtu(lab, item["spec"]["nodeName"], item["podnet"]["hostVeth"]) == mtu, pod
    for name, node in lab.nodes().items():
        assert _mtu(lab, name, "cni0") == mtu, name
        assert _mtu(lab, name, "eth0") == UNDERLAY_MTU, name  # the underlay itself never changes
        with open(node["podnet"]["cniConfig"], encoding="utf-8") as handle:
            conflist = json.load(handle)
        assert [p.get("mtu") for p in conflist["plugins"] if p["type"] == "bridge"] == [mtu], conflist


# -- 1. the plumbing ---------------------------------------------------------------------------

def test_vxlan_up_builds_flannel_vteps_routes_neighbours_and_fdb(lab):
    lab.up("--routing", "vxlan")
    _assert_vxlan_plumbing(lab)

    wide = podnet("get", "nodes", "-o", "wide", "--name", lab.name, check=True).stdout
    for name, node in lab.nodes().items():
        row = next(line for line in wide.splitlines() if line.split()[0] == name)
        assert "vxlan" in row.split(), row
        assert f"{node['podnet']['vtep']['address']} {node['podnet']['vtep']['mac']}" in row, row


# -- 2. the same verdicts as host-gw -------------------------------------------------------------

def test_vxlan_probes_match_host_gw(make_lab):
    vx, hg = make_lab(), make_lab()
    vx.up("--routing", "vxlan")
    hg.up()
    _assert_matrix_passes(vx, pairs=96)
    pods = vx.pods()
    assert {n: p["status"]["podIP"] for n, p in pods.items()} == {n: p["status"]["podIP"] for n, p in hg.pods().items()}

    for src, dst in CROSS_NODE:
        src_node, dst_node = pods[src]["spec"]["nodeName"], pods[dst]["spec"]["nodeName"]
        assert src_node != dst_node
        for proto in ("icmp", "udp", "tcp"):
            args = [src, dst, "-p", proto] + (["--port", "9000"] if proto != "icmp" else [])
            over, native = probe_json(vx, *args), probe_json(hg, *args)
            assert over["status"] == "reached", over
            assert over["source_nat"] is False and over["destination_nat"] is False, over
            assert over["ttl"] == 62 and over["hops"] == 2, over
            assert over["seen_src"] == pods[src]["status"]["podIP"], over
            assert {f: over[f] for f in VERDICT_FIELDS} == {f: native[f] for f in VERDICT_FIELDS}, (src, dst, proto)
            # ... yet the packet really went through the overlay in one lab and not in the other
            over_ifaces = {(s["name"], s["iface"]) for s in over["path"] if s["kind"] == "node"}
            native_ifaces = {(s["name"], s["iface"]) for s in native["path"] if s["kind"] == "node"}
            assert {(src_node, VXLAN_DEV), (dst_node, VXLAN_DEV)} <= over_ifaces, over["path"]
            assert not any(iface == "eth0" for _n, iface in over_ifaces), over["path"]
            assert {(src_node, "eth0"), (dst_node, "eth0")} <= native_ifaces, native["path"]

    # a node to a Pod on another node: no NAT either way (flannel's node sources from its VTEP)
    over = probe_json(vx, "node-1", "pod-3-2", "-p", "udp", "--port", "9000")
    native = probe_json(hg, "node-1", "pod-3-2", "-p", "udp", "--port", "9000")
    for field in ("status", "receiver", "source_nat", "destination_nat", "hops", "ttl"):
        assert over[field] == native[field], (field, over, native)
    assert over["status"] == "reached" and over["ttl"] == 63 and over["source_nat"] is False, over
    assert over["seen_src"] == vx.nodes()["node-1"]["podnet"]["vtep"]["address"], over


# -- 3. what a capture shows ----------------------------------------------------------------------

def _pod_side_capture(lab, tmp_path, label: str) -> list[dict]:
    """A capture inside pod-3-2 of one echo request from pod-1-1."""
    pcap = tmp_path / f"{label}-pod-3-2.pcap"
    proc = start_podnet_capture(lab, "pod-3-2", "-f", "icmp[icmptype] == icmp-echo", "-c", "1",
                                "--duration", "20", "-o", "json", "-w", str(pcap))
    try:
        ping_until(lab, "pod-1-1", lab.pod_ip("pod-3-2"), lambda: proc.poll() is not None)
    finally:
        done = finish_podnet_capture(proc)
    assert done.returncode == 0, explain(done)
    packets = json.loads(done.stdout)["packets"]
    assert len(packets) == 1, packets
    return packets


def test_vxlan_capture_shows_outer_udp_and_untouched_inner_packet(make_lab, tmp_path):
    vx, hg = make_lab(), make_lab()
    vx.up("--routing", "vxlan")
    hg.up()
    nodes, pods = vx.nodes(), vx.pods()
    n1, n3 = internal_ip(nodes["node-1"]), internal_ip(nodes["node-3"])
    p11, p32 = pods["pod-1-1"]["status"]["podIP"], pods["pod-3-2"]["status"]["podIP"]
    mac1, mac3 = nodes["node-1"]["podnet"]["vtep"]["mac"], nodes["node-3"]["podnet"]["vtep"]["mac"]

    pcap = tmp_path / "node-1-eth0.pcap"
    proc = start_podnet_capture(vx, "node-1", "-i", "eth0", "-f", f"udp port {VXLAN_PORT}", "-c", "2",
                                "--duration", "20", "-o", "json", "-w", str(pcap))
    try:
        ping_until(vx, "pod-1-1", p32, lambda: proc.poll() is not None)
    finally:
        done = finish_podnet_capture(proc)
    assert done.returncode == 0, explain(done)
    packets = json.loads(done.stdout)["packets"]
    assert [(p["proto"], p["src"], p["dst"], p["dport"]) for p in packets] == [
        ("VXLAN", n1, n3, VXLAN_PORT), ("VXLAN", n3, n1, VXLAN_PORT)], packets
    assert packets[0]["src_label"] == "node node-1" and packets[0]["dst_label"] == "node node-3", packets[0]
    assert f"VNI 1 carrying {p11} (pod-1-1 on node-1) -> {p32} (pod-3-2 on node-3)" in packets[0]["note"], packets[0]
    assert "inner addresses unchanged" in packets[0]["note"], packets[0]
    assert f"carrying {p32} (pod-3-2 on node-3) -> {p11} (pod-1-1 on node-1)" in packets[1]["note"], packets[1]

    # the same pcap through tshark: outer node-to-node UDP, inner Pod-to-Pod ICMP
    rows = tshark_fields(pcap, "ip.src", "ip.dst", "udp.dstport", "vxlan.vni", "eth.src", "eth.dst", "icmp.type",
                         "ip.ttl")
    assert len(rows) == 2, rows
    request, reply = rows
    assert request[0].split(",") == [n1, p11] and request[1].split(",") == [n3, p32], request
    assert request[2] == str(VXLAN_PORT) and request[3] == "1" and request[6] == "8", request
    # the inner frame goes from node-1's VTEP MAC to node-3's (what fdb/neighbour tables say)
    assert request[4].split(",")[1:] == [mac1] and request[5].split(",")[1:] == [mac3], request
    assert request[7].split(",") == ["64", "63"], request  # outer from node-1 itself; inner routed once
    assert reply[0].split(",") == [n3, p32] and reply[1].split(",") == [n1, p11] and reply[6] == "0", reply

    # inside the receiving Pod: exactly what host-gw shows
    over, native = _pod_side_capture(vx, tmp_path, "vxlan"), _pod_side_capture(hg, tmp_path, "host-gw")
    for packet in over + native:
        packet.pop("time")
    assert over == native, (over, native)
    assert over[0]["proto"] == "ICMP" and over[0]["src"] == p11 and over[0]["dst"] == p32, over
    assert over[0]["ttl"] == 62 and "no NAT" in over[0]["note"], over
    assert tshark_fields(tmp_path / "vxlan-pod-3-2.pcap", "ip.src", "ip.dst", "ip.ttl", "udp.port") == [
        [p11, p32, "62", ""]]


# -- 4. packets larger than the overlay MTU -----------------------------------------------------

def test_vxlan_carries_2000_byte_payloads(lab):
    lab.up("--routing", "vxlan")
    src, dst = "pod-1-1", "pod-3-2"
    src_ip, dst_ip = lab.pod_ip(src), lab.pod_ip(dst)

    payload = secrets.token_hex(1000)
    assert len(payload) == 2000
    seen = udp_probe(lab.ns_path(src), lab.ns_path(dst), dst_ip)  # sanity: the small path first
    assert seen["src"] == src_ip and seen["ttl"] == 62, seen
    port = random_port()
    with Receiver(lab.ns_path(dst), UDP_SERVER, port) as receiver:
        got = None
        for _attempt in range(3):
            sent = send_from(lab.ns_path(src), "import socket, sys\n"
                             "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                             "n = s.sendto(sys.argv[3].encode(), (sys.argv[1], int(sys.argv[2])))\n"
                             "assert n == len(sys.argv[3]), n\n", dst_ip, port, payload)
            assert sent.returncode == 0, explain(sent)
            got = receiver.result(3.0)
            if got is not None:
                break
    assert got is not None, "the 2000-byte datagram never arrived"
    assert len(got["data"]) == 2000 and got["data"] == payload
    assert got["src"] == src_ip and got["ttl"] == 62, {k: v for k, v in got.items() if k != "data"}

    tcp_payload = secrets.token_hex(1000)
    seen = tcp_transfer(lab.ns_path(src), lab.ns_path(dst), dst_ip, tcp_payload)
    assert seen["size"] == 2000 and seen["data"] == tcp_payload, {k: v for k, v in seen.items() if k != "data"}
    assert seen["src"] == src_ip, seen

    pinged = lab.in_ns(src, "ping", "-c", "1", "-W", "2", "-s", "2000", dst_ip, timeout=20)
    assert pinged.returncode == 0 and " 1 received" in pinged.stdout and "2008 bytes from" in pinged.stdout, explain(pinged)
    # the largest unfragmented packet a Pod may send fills the overlay MTU exactly and crosses...
    fits = lab.in_ns(src, "ping", "-c", "1", "-W", "2", "-M", "do", "-s", str(OVERLAY_MTU - 28), dst_ip, timeout=20)
    assert fits.returncode == 0 and " 1 received" in fits.stdout, explain(fits)
    # ... and one byte more is refused in the Pod itself, not lost in the tunnel
    too_big = lab.in_ns(src, "ping", "-c", "1", "-W", "2", "-M", "do", "-s", str(OVERLAY_MTU - 27), dst_ip, timeout=20)
    assert too_big.returncode != 0 and f"mtu={OVERLAY_MTU}" in too_big.stdout + too_big.stderr, explain(too_big)


# -- 5. switching a running lab ------------------------------------------------------------------

def _switch(lab, mode: str) -> dict:
    result = podnet("routing", mode, "--name", lab.name, "-o", "json", timeout=90)
    assert result.returncode == 0, explain(result)
    return json.loads(result.stdout)


def test_switch_running_lab_between_host_gw_and_vxlan(lab):
    lab.up()
    _assert_host_gw_plumbing(lab)
    ips = {n: p["status"]["podIP"] for n, p in lab.pods().items()}

    counts = _switch(lab, "vxlan")
    assert (counts["lab"], counts["before"], counts["after"]) == (lab.name, "host-gw", "vxlan"), counts
    # 3 nodes: each swaps 2 host-gw routes for 2 overlay routes; 7 Pods' eth0 + 7 veths (6 and
    # CoreDNS) + 3 cni0
    assert (counts["routesAdded"], counts["routesRemoved"], counts["interfaces"]) == (6, 6, 17), counts
    _assert_vxlan_plumbing(lab)
    _assert_pod_mtu_everywhere(lab, OVERLAY_MTU)
    assert {n: p["status"]["podIP"] for n, p in lab.pods().items()} == ips  # the same Pods, in place
    _assert_matrix_passes(lab, pairs=96)
    seen = udp_probe(lab.ns_path("pod-1-1"), lab.ns_path("pod-3-2"), ips["pod-3-2"])
    assert seen["src"] == ips["pod-1-1"] and seen["ttl"] == 62, seen

    counts = _switch(lab, "host-gw")
    assert (counts["before"], counts["after"]) == ("vxlan", "host-gw"), counts
    assert counts["routesAdded"] == 6 and counts["interfaces"] == 17, counts
    _assert_host_gw_plumbing(lab)
    _assert_pod_mtu_everywhere(lab, UNDERLAY_MTU)
    _assert_matrix_passes(lab, pairs=96)
    seen = udp_probe(lab.ns_path("pod-1-1"), lab.ns_path("pod-3-2"), ips["pod-3-2"])
    assert seen["src"] == ips["pod-1-1"] and seen["ttl"] == 62, seen

    # a mode that does not exist: refused, and the lab is left as it was
    refused = podnet("routing", "geneve", "--name", lab.name)
    assert_refused(refused, "routing", "geneve", "host-gw", "vxlan")
    refused = podnet("routing", "--name", lab.name)
    assert_refused(refused, "mode")
    assert {n["podnet"]["routing"] for n in lab.nodes().values()} == {"host-gw"}
    _assert_host_gw_plumbing(lab)


def test_switch_back_to_host_gw_counts_the_overlay_routes_it_removed(lab):
    lab.up("--routing", "vxlan")
    overlay = {n: _podnet_routes(lab, n) for n in lab.nodes()}
    assert sum(len(r) for r in overlay.values()) == 6, overlay
    counts = _switch(lab, "host-gw")
    _assert_host_gw_plumbing(lab)  # they are indeed all gone ...
    assert counts["routesRemoved"] == 6, counts  # ... and the report should say so
