"""``podnet probe``: one probe, and every verdict it can give.

A probe is judged from where its packet was seen inside the lab's namespaces: reached (with
the source and destination as they arrived, the TTL and the path), reached but NATed,
unreachable, or an error when it could not run. A probe that cannot run must never be
reported as a pass, and bad input is refused before anything is touched.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import time

import pytest

from tests.support.captures import pcap_records
from tests.support.labs import assert_refused, masquerade_in_node, probe_cmd, probe_json
from tests.support.packets import random_port
from tests.support.processes import CMD_TIMEOUT, explain
from tests.support.snapshots import own_view, root_iptables_save

pytestmark = pytest.mark.root


NODE_IPS = {"node-1": "192.168.77.11", "node-2": "192.168.77.12", "node-3": "192.168.77.13"}


def collapse(path: list[dict]) -> list[str]:
    """The names of the namespaces a path went through, in order, each run of sightings in the
    same namespace counted once."""
    names: list[str] = []
    for seen in path:
        if not names or names[-1] != seen["name"]:
            names.append(seen["name"])
    return names


def assert_path(verdict: dict, names: list[str]) -> None:
    """The path starts with the sender's eth0 (out), ends with the receiver's eth0 (in), goes
    through exactly ``names`` in that order, only nodes in between, TTL never growing."""
    path = verdict["path"]
    assert path, verdict
    first, last = path[0], path[-1]
    assert (first["name"], first["iface"], first["direction"]) == (names[0], "eth0", "out"), path
    assert first["src"] == verdict["probe"]["source_ip"] and first["ttl"] == 64, first
    assert (last["name"], last["iface"], last["direction"], last["local"]) == (names[-1], "eth0", "in", True), path
    assert collapse(path) == names, [(s["name"], s["iface"], s["direction"]) for s in path]
    assert all(s["kind"] == "node" for s in path[1:-1]), path
    assert all(not s["local"] for s in path[:-1]), path
    ttls = [s["ttl"] for s in path]
    assert ttls == sorted(ttls, reverse=True), ttls
    assert last["ttl"] == verdict["ttl"]


def assert_rtt(verdict: dict) -> None:
    rtt = verdict["rtt_ms"]
    assert isinstance(rtt, (int, float)) and not isinstance(rtt, bool), verdict
    assert 0 < rtt < 1000, rtt


# -- reached, no NAT -------------------------------------------------------------------------------

@pytest.mark.parametrize("proto", ["icmp", "udp", "tcp"])
def test_cross_node_probe_reaches_the_pod_without_nat_two_routed_hops(lab, proto):
    lab.up()
    src_ip, dst_ip = lab.pod_ip("pod-1-1"), lab.pod_ip("pod-3-2")
    port = random_port()
    args = ["pod-1-1", "pod-3-2", "-p", proto] + (["--port", str(port)] if proto != "icmp" else [])
    v = probe_json(lab, *args)

    assert v["status"] == "reached", v
    assert v["probe"]["source_ip"] == src_ip and v["probe"]["destination"] == dst_ip, v["probe"]
    assert v["probe"]["target"] == "pod-3-2" and v["probe"]["proto"] == proto
    assert v["receiver"] == "pod-3-2" and v["receiver_iface"] == "eth0", v
    assert v["seen_src"] == src_ip, v
    assert v["seen_dst"] == dst_ip, v
    assert v["source_nat"] is False and v["destination_nat"] is False, v
    assert v["ttl"] == 62 and v["hops"] == 2, v
    assert v["ok"] is True and v["wrongTarget"] is False, v
    assert_rtt(v)
    if proto == "icmp":
        assert v["seen_sport"] is None and v["seen_dport"] is None
    else:
        assert v["probe"]["port"] == port
        assert v["seen_dport"] == port and v["seen_sport"] == v["probe"]["sport"], v
    assert_path(v, ["pod-1-1", "node-1", "node-3", "pod-3-2"])
    # routed by node-1 (leaves on its eth0 with TTL 63) and node-3 (TTL 62 towards the Pod)
    out1 = [s for s in v["path"] if s["name"] == "node-1" and s["iface"] == "eth0" and s["direction"] == "out"]
    in3 = [s for s in v["path"] if s["name"] == "node-3" and s["iface"] == "eth0" and s["direction"] == "in"]
    assert len(out1) == 1 and out1[0]["ttl"] == 63 and out1[0]["src"] == src_ip, v["path"]
    assert len(in3) == 1 and in3[0]["ttl"] == 63 and in3[0]["src"] == src_ip, v["path"]
    assert all(s["src"] == src_ip and s["dst"] == dst_ip for s in v["path"]), v["path"]


def test_probe_text_output_says_reached_without_nat(lab):
    lab.up()
    result = probe_cmd(lab, "pod-1-1", "pod-3-2")
    assert result.returncode == 0, explain(result)
    head = result.stdout.splitlines()[0]
    src_ip, dst_ip = lab.pod_ip("pod-1-1"), lab.pod_ip("pod-3-2")
    assert head.startswith(f"ICMP {src_ip} (pod-1-1 on node-1) -> {dst_ip} (pod-3-2 on node-3): reached pod-3-2"), head
    assert "TTL 62" in head and "no NAT" in head and "2 routed hops" in head, head
    seen = [line.split() for line in result.stdout.splitlines()[1:]]
    assert seen[0][:5] == ["seen", "in", "pod-1-1", "eth0", "out"], result.stdout
    assert seen[-1][:5] == ["seen", "in", "pod-3-2", "eth0", "in"], result.stdout


def test_same_node_probe_is_bridged_with_no_routed_hop(lab):
    lab.up()
    src_ip, dst_ip = lab.pod_ip("pod-1-1"), lab.pod_ip("pod-1-2")
    v = probe_json(lab, "pod-1-1", "pod-1-2", "-p", "udp", "--port", str(random_port()))
    assert v["status"] == "reached" and v["receiver"] == "pod-1-2", v
    assert v["seen_src"] == src_ip and v["seen_dst"] == dst_ip, v
    assert v["source_nat"] is False and v["destination_nat"] is False and v["ok"] is True, v
    assert v["ttl"] == 64 and v["hops"] == 0, v
    assert_rtt(v)
    assert_path(v, ["pod-1-1", "node-1", "pod-1-2"])
    # bridged by cni0: never on a node's uplink
    assert not any(s["iface"] == "eth0" for s in v["path"] if s["kind"] == "node"), v["path"]


def test_node_to_pod_probe_comes_from_the_nodes_address(lab):
    lab.up()
    node_ip = lab.node_ip("node-1")
    assert node_ip == NODE_IPS["node-1"]
    dst_ip = lab.pod_ip("pod-3-2")
    v = probe_json(lab, "node-1", "pod-3-2", "-p", "tcp", "--port", str(random_port()))
    assert v["status"] == "reached" and v["receiver"] == "pod-3-2", v
    assert v["probe"]["source_ip"] == node_ip and v["seen_src"] == node_ip, v
    assert v["seen_dst"] == dst_ip, v
    assert v["source_nat"] is False and v["destination_nat"] is False and v["ok"] is True, v
    assert v["ttl"] == 63 and v["hops"] == 1, v  # routed once, by node-3
    assert_rtt(v)
    assert_path(v, ["node-1", "node-3", "pod-3-2"])


# -- reached, but NATed -----------------------------------------------------------------------------

def test_masqueraded_pod_to_pod_path_is_reported_as_source_nat(lab):
    before = root_iptables_save()
    lab.up()
    src_ip, dst_ip = lab.pod_ip("pod-1-1"), lab.pod_ip("pod-3-1")
    node1 = lab.node_ip("node-1")
    assert node1 == NODE_IPS["node-1"]
    masquerade_in_node(lab, "node-1", "10.244.0.0/24", "10.244.2.0/24")

    port = random_port()
    for args in (["-p", "udp", "--port", str(port)], ["-p", "icmp"]):
        v = probe_json(lab, "pod-1-1", "pod-3-1", *args)
        assert v["status"] == "reached" and v["receiver"] == "pod-3-1", v
        assert v["probe"]["source_ip"] == src_ip, v["probe"]
        assert v["source_nat"] is True, v
        assert v["seen_src"] == node1, v
        assert v["seen_dst"] == dst_ip and v["destination_nat"] is False, v
        assert v["ok"] is False and v["wrongTarget"] is False, v
        if args[1] == "udp":
            assert v["seen_dport"] == port, v
        # the rewrite happened on node-1's uplink: inside node-1 the Pod's address, outside the node's
        inside = [s for s in v["path"] if s["name"] == "node-1" and s["iface"] != "eth0"]
        uplink = [s for s in v["path"] if s["name"] == "node-1" and s["iface"] == "eth0"]
        assert inside and all(s["src"] == src_ip for s in inside), v["path"]
        assert uplink and all(s["src"] == node1 for s in uplink), v["path"]

    # text: exit 0 (it was reached), but the summary says NAT
    result = probe_cmd(lab, "pod-1-1", "pod-3-1", "-p", "udp", "--port", str(port))
    assert result.returncode == 0, explain(result)
    head = result.stdout.splitlines()[0]
    assert "reached pod-3-1" in head and "source NAT" in head and node1 in head, head
    assert "no NAT" not in head, head

    # the rule only covers node-1 -> node-3: another path stays clean
    v = probe_json(lab, "pod-1-1", "pod-2-1")
    assert v["status"] == "reached" and v["source_nat"] is False and v["ok"] is True, v

    # the rule lives in node-1's namespace only
    inside = lab.in_ns("node-1", "iptables-save", "-t", "nat")
    assert "-A POSTROUTING -s 10.244.0.0/24 -d 10.244.2.0/24 -j MASQUERADE" in inside.stdout, explain(inside)
    assert root_iptables_save() == before, "the root namespace's iptables changed while the lab was up"
    down = lab.down()
    assert down.returncode == 0, explain(down)
    assert root_iptables_save() == before, "the root namespace's iptables changed"


# -- unreachable -------------------------------------------------------------------------------------

def test_probe_to_an_address_no_pod_has_is_unreachable(lab):
    lab.up()
    v = probe_json(lab, "pod-1-1", "10.244.99.9", expect=1)
    assert v["status"] == "unreachable", v
    assert v["receiver"] is None and v["seen_src"] is None and v["ttl"] is None, v
    assert v["ok"] is False, v
    assert "no namespace of the lab received it" in v["reason"], v["reason"]
    assert v["path"] and not any(s["local"] for s in v["path"]), v["path"]
    assert v["path"][0]["name"] == "pod-1-1" and v["path"][0]["direction"] == "out", v["path"]

    result = probe_cmd(lab, "pod-1-1", "10.244.99.9", "-p", "udp", "--port", "8081")
    assert result.returncode == 1, explain(result)
    assert "UNREACHABLE" in result.stdout.splitlines()[0], result.stdout
    assert "reached" not in result.stdout.splitlines()[0], result.stdout


def _root_capture_8888() -> subprocess.Popen:
    proc = subprocess.Popen(["tcpdump", "-i", "any", "-nn", "-U", "-c", "1", "-w", "-", "host", "8.8.8.8"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # tcpdump says "listening on ..." once its socket is open
    deadline = time.monotonic() + 10
    line = b""
    while time.monotonic() < deadline and b"listening on" not in line:
        ready, _, _ = select.select([proc.stderr], [], [], 0.2)
        if ready:
            chunk = os.read(proc.stderr.fileno(), 4096)
            if not chunk:
                break
            line += chunk
        elif proc.poll() is not None:
            break
    if b"listening on" not in line:
        proc.kill()
        proc.wait(timeout=10)
        raise AssertionError(f"tcpdump in the root namespace did not start: {line!r}")
    return proc


def test_probe_to_the_internet_reaches_the_emulated_host_masqueraded_and_never_leaves_the_lab(lab):
    lab.up()
    tcpdump = _root_capture_8888()
    try:
        started = time.monotonic()
        v = probe_json(lab, "pod-1-1", "8.8.8.8", "--timeout", "1")
        udp = probe_cmd(lab, "pod-1-1", "8.8.8.8", "-p", "udp", "--port", "53", "-o", "json")
        # give a leaked packet time to show up: 3 s from the first probe
        try:
            tcpdump.wait(timeout=max(0.1, 3 - (time.monotonic() - started)))
        except subprocess.TimeoutExpired:
            tcpdump.send_signal(signal.SIGINT)
        data, err = tcpdump.communicate(timeout=10)
    finally:
        if tcpdump.poll() is None:
            tcpdump.kill()
            tcpdump.communicate(timeout=10)
    assert pcap_records(data) == 0, f"a packet for 8.8.8.8 reached the machine's own interfaces: {err!r}"
    # "8.8.8.8" is a namespace of the lab; it sees node-1's address, never the Pod's (ip-masq-agent)
    assert v["status"] == "reached" and v["receiver"] == "internet", v
    assert v["source_nat"] is True and v["seen_src"] == lab.node_ip("node-1") and v["ok"] is False, v
    assert all(s["netns"].startswith(lab.name + "-") for s in v["path"]), v["path"]
    assert udp.returncode == 0, explain(udp)
    answer = json.loads(udp.stdout)
    assert answer["receiver"] == "internet" and answer["seen_src"] == lab.node_ip("node-1"), answer


# -- a probe that cannot run is an error, never a pass -------------------------------------------------

def test_probe_from_a_pending_pod_is_refused(lab):
    lab.up("--cni", "none")
    assert lab.pods()["pod-1-1"]["status"]["phase"] == "Pending"
    before = own_view()
    assert_refused(probe_cmd(lab, "pod-1-1", "node-2"), "source", "pod-1-1")
    assert_refused(probe_cmd(lab, "node-1", "pod-2-1"), "destination", "pod-2-1")
    assert_refused(probe_cmd(lab, "pod-1-1", "pod-2-1", "-o", "json"), "source", "pod-1-1")
    assert own_view() == before


@pytest.mark.parametrize("src, dst, field, value", [
    ("pod-9-9", "pod-1-1", "source", "pod-9-9"),
    ("node-7", "pod-1-1", "source", "node-7"),
    ("pod-1-1", "nosuch", "destination", "nosuch"),
    ("pod-1-1", "10.244.0.300", "destination", "10.244.0.300"),
])
def test_probe_with_an_unknown_name_is_refused(lab, src, dst, field, value):
    lab.up()
    before = own_view()
    assert_refused(probe_cmd(lab, src, dst, "-o", "json"), field, value)
    assert own_view() == before


def test_probe_whose_namespace_was_deleted_is_never_reached(lab):
    lab.up()
    deleted = lab.ns("pod-1-1")
    gone = subprocess.run(["ip", "netns", "del", deleted], capture_output=True, text=True, timeout=CMD_TIMEOUT)
    assert gone.returncode == 0, explain(gone)

    # from the deleted sender: a non-zero failure that names the missing namespace
    result = probe_cmd(lab, "pod-1-1", "pod-1-2", "-o", "json")
    assert result.returncode == 1, explain(result)
    assert '"reached"' not in result.stdout, explain(result)
    if result.stdout.strip():
        assert '"status": "error"' in result.stdout, explain(result)
    else:
        assert deleted in result.stderr and "does not exist" in result.stderr, explain(result)
        assert len(result.stderr.splitlines()) == 1, explain(result)

    # to the deleted receiver: status error, with the reason
    v = probe_json(lab, "pod-1-2", "pod-1-1", expect=1)
    assert v["status"] == "error", v
    assert v["receiver"] is None and v["ok"] is False, v
    assert deleted in v["reason"], v["reason"]
    text = probe_cmd(lab, "pod-1-2", "pod-1-1")
    assert text.returncode == 1, explain(text)
    assert "ERROR, the probe could not run" in text.stdout and "reached" not in text.stdout, explain(text)

    # the matrix cannot run either: a failure, not a pass
    matrix = probe_cmd(lab, "--all", "-o", "json")
    assert matrix.returncode == 1, explain(matrix)
    assert json.loads(matrix.stdout)["ok"] is False, explain(matrix)


# -- bad input -------------------------------------------------------------------------------------------

BAD_PROBES = [
    (["-p", "sctp"], ["protocol", "sctp"]),
    (["-p", "udp", "--port", "70000"], ["port", "70000"]),
    (["-p", "tcp", "--port", "0"], ["port", "0"]),
    (["-p", "udp", "--port", "abc"], ["port", "abc"]),
    (["-p", "udp"], ["port", "needs --port"]),
    (["-p", "tcp"], ["port", "needs --port"]),
    (["--timeout", "0"], ["timeout", "0"]),
    (["--timeout", "soon"], ["timeout", "soon"]),
]


@pytest.mark.parametrize("args, mentions", BAD_PROBES, ids=[" ".join(a) for a, _ in BAD_PROBES])
def test_bad_probe_input_is_refused_and_creates_nothing(lab, args, mentions):
    lab.up()
    before = own_view()
    namespaces = lab.namespaces()
    for output in ([], ["-o", "json"]):
        assert_refused(probe_cmd(lab, "pod-1-1", "pod-3-2", *args, *output), *mentions)
    assert own_view() == before
    assert lab.namespaces() == namespaces


def test_probe_needs_two_ends(lab):
    lab.up()
    assert_refused(probe_cmd(lab, "pod-1-1"), "probe", "pod-1-1")
    assert_refused(probe_cmd(lab), "probe")
