"""``podnet capture``: tcpdump inside a node's or Pod's namespace, a pcap that standard tools
read, and a summary told in the lab's own names. The pcap is a new file of mode 0600: never
an existing file, never through a symlink."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import time

import pytest

from tests.support.labs import assert_refused
from tests.support.processes import PODNET, REPO, explain, netns_inode, pids_in, podnet, run
from tests.support.snapshots import own_view

pytestmark = pytest.mark.root


CAPTURE_WAIT = 20


def start_capture(lab, *args: str) -> subprocess.Popen:
    """``podnet capture`` in the background; returns once its tcpdump runs in the target's namespace."""
    target = args[0]
    proc = subprocess.Popen([*PODNET, "capture", "--name", lab.name, *args], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    inode = netns_inode(lab.ns(target))
    deadline = time.monotonic() + 15
    while not any(_comm(pid) == "tcpdump" for pid in pids_in({inode})):
        if proc.poll() is not None or time.monotonic() > deadline:
            out, err = stop(proc)
            raise AssertionError(f"capture did not start tcpdump in {target}: exit {proc.returncode}\n{out}\n{err}")
        time.sleep(0.05)
    time.sleep(0.3)  # tcpdump opens its socket right after it starts
    return proc


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def stop(proc: subprocess.Popen) -> tuple[str, str]:
    """Interrupt our capture (it stops its own tcpdump on SIGINT) and collect its output."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        return proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate(timeout=15)


def ping_until_done(lab, proc: subprocess.Popen, src: str, dst_ip: str) -> tuple[str, str]:
    """Ping (one echo at a time) until the capture has its packets and exits."""
    deadline = time.monotonic() + CAPTURE_WAIT
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            pinged = lab.exec(src, "ping", "-c", "1", "-W", "1", dst_ip, timeout=20)
            assert pinged.returncode == 0, explain(pinged)
            try:
                proc.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                pass
        assert proc.poll() is not None, "the capture did not stop after its packets"
        return proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            stop(proc)


def test_capture_writes_a_pcap_that_tcpdump_and_tshark_read(lab, tmp_path):
    lab.up()
    src_ip, dst_ip = lab.pod_ip("pod-1-1"), lab.pod_ip("pod-3-2")
    pcap = tmp_path / "x.pcap"
    proc = start_capture(lab, "pod-3-2", "-f", "icmp", "-c", "2", "--duration", "8", "-w", str(pcap))
    out, err = ping_until_done(lab, proc, "pod-1-1", dst_ip)
    assert proc.returncode == 0, f"capture exited {proc.returncode}\n{out}\n{err}"

    info = os.lstat(pcap)
    assert stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600, oct(info.st_mode)
    assert info.st_size > 24

    read = run(["tcpdump", "-nn", "-r", str(pcap)])
    assert read.returncode == 0, explain(read)
    assert f"IP {src_ip} > {dst_ip}: ICMP echo request" in read.stdout, read.stdout
    fields = run(["tshark", "-r", str(pcap), "-T", "fields", "-e", "ip.src", "-e", "ip.dst", "-e", "ip.ttl",
                  "-e", "icmp.type"])
    assert fields.returncode == 0, explain(fields)
    rows = [line.split("\t") for line in fields.stdout.splitlines() if line.strip()]
    assert len(rows) == 2, fields.stdout
    assert [src_ip, dst_ip, "62", "8"] in rows, rows  # the request, routed twice
    assert all(r[0] in (src_ip, dst_ip) and r[1] in (src_ip, dst_ip) for r in rows), rows

    lines = out.splitlines()
    request = [line for line in lines if f"{src_ip} (pod-1-1 on node-1) -> {dst_ip} (pod-3-2 on node-3)" in line]
    assert request, out
    assert "TTL 62" in request[0] and "no NAT" in request[0], request[0]
    assert lines[-1] == f"2 IPv4 packet(s) captured in pod-3-2; pcap saved to {pcap}", out


def test_capture_json_lists_packets_with_names(lab):
    lab.up()
    src_ip, dst_ip = lab.pod_ip("pod-1-1"), lab.pod_ip("pod-3-2")
    proc = start_capture(lab, "pod-3-2", "-f", "icmp", "-c", "2", "--duration", "8", "-o", "json")
    out, err = ping_until_done(lab, proc, "pod-1-1", dst_ip)
    assert proc.returncode == 0, f"capture exited {proc.returncode}\n{out}\n{err}"
    data = json.loads(out)
    assert data["target"] == "pod-3-2" and data["netns"] == lab.ns("pod-3-2") and data["pcap"] is None, data
    packets = data["packets"]
    assert len(packets) == 2, packets
    for packet in packets:
        assert packet["proto"] == "ICMP", packet
        assert {packet["src"], packet["dst"]} == {src_ip, dst_ip}, packet
        labels = {src_ip: "pod-1-1 on node-1", dst_ip: "pod-3-2 on node-3"}
        assert packet["src_label"] == labels[packet["src"]] and packet["dst_label"] == labels[packet["dst"]], packet
    request = [p for p in packets if p["src"] == src_ip]
    assert request and request[0]["ttl"] == 62 and "no NAT" in request[0]["note"], packets


def test_ctrl_c_stops_a_capture_and_keeps_what_it_caught(lab, tmp_path):
    """Ctrl-C before the count is reached ends the capture as it ends tcpdump: exit 0, the
    packets so far summarised and saved, tcpdump gone from the Pod's namespace."""
    lab.up()
    src_ip, dst_ip = lab.pod_ip("pod-1-1"), lab.pod_ip("pod-3-2")
    pcap = tmp_path / "stopped.pcap"
    proc = start_capture(lab, "pod-3-2", "-f", "icmp", "-c", "100", "--duration", "60", "-w", str(pcap))
    pinged = lab.exec("pod-1-1", "ping", "-c", "5", "-i", "0.3", "-W", "1", dst_ip, timeout=20)
    assert pinged.returncode == 0, explain(pinged)
    out, err = stop(proc)
    assert proc.returncode == 0, f"capture exited {proc.returncode}\n{out}\n{err}"
    read = run(["tcpdump", "-nn", "-r", str(pcap)])
    assert read.returncode == 0, explain(read)
    caught = len(read.stdout.splitlines())
    assert 2 <= caught <= 10, read.stdout  # the first echo may come before tcpdump's socket is open
    assert out.splitlines()[-1] == f"{caught} IPv4 packet(s) captured in pod-3-2; pcap saved to {pcap}", out
    assert any(f"{src_ip} (pod-1-1 on node-1) -> {dst_ip}" in line for line in out.splitlines()), out
    assert not any(_comm(pid) == "tcpdump" for pid in pids_in({netns_inode(lab.ns("pod-3-2"))}))


def test_capture_on_a_node_names_a_masqueraded_source(lab):
    """Capturing on node-3 behind a MASQUERADE in node-1: the summary says the source is node-1's."""
    lab.up()
    dst_ip = lab.pod_ip("pod-3-2")
    added = lab.in_ns("node-1", "iptables", "-w", "5", "-t", "nat", "-A", "POSTROUTING", "-s", "10.244.0.0/24",
                      "-d", "10.244.2.0/24", "-j", "MASQUERADE")
    assert added.returncode == 0, explain(added)
    proc = start_capture(lab, "node-3", "-i", "eth0", "-f", "icmp[icmptype] == icmp-echo", "-c", "1",
                         "--duration", "8", "-o", "json")
    out, err = ping_until_done(lab, proc, "pod-1-1", dst_ip)
    assert proc.returncode == 0, f"capture exited {proc.returncode}\n{out}\n{err}"
    (packet,) = json.loads(out)["packets"]
    assert packet["src"] == "192.168.77.11" and packet["src_label"] == "node node-1", packet
    assert packet["dst"] == dst_ip and packet["dst_label"] == "pod-3-2 on node-3", packet
    assert packet["ttl"] == 63 and "node-1" in packet["note"] and "masqueraded" in packet["note"], packet


# -- the output file ----------------------------------------------------------------------------------

def _refused_capture(lab, path) -> None:
    before = own_view()
    result = podnet("capture", "--name", lab.name, "pod-3-2", "-c", "1", "--duration", "1", "-w", str(path))
    assert_refused(result, "output file", str(path))
    assert own_view() == before
    assert not any(_comm(pid) == "tcpdump" for pid in pids_in({netns_inode(lab.ns("pod-3-2"))}))


def test_capture_refuses_an_existing_file(lab, tmp_path):
    lab.up()
    path = tmp_path / "exists.pcap"
    path.write_bytes(b"keep me")
    os.chmod(path, 0o644)
    _refused_capture(lab, path)
    assert path.read_bytes() == b"keep me"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644


@pytest.mark.parametrize("target_exists", [False, True], ids=["dangling", "to-a-file"])
def test_capture_refuses_a_symlink(lab, tmp_path, target_exists):
    lab.up()
    target = tmp_path / "target.pcap"
    if target_exists:
        target.write_bytes(b"original")
    link = tmp_path / "link.pcap"
    os.symlink(target, link)
    _refused_capture(lab, link)
    assert os.path.islink(link) and os.readlink(link) == str(target)
    if target_exists:
        assert target.read_bytes() == b"original"
    else:
        assert not os.path.lexists(target), "capture created the symlink's target"


def test_capture_refuses_a_missing_directory(lab, tmp_path):
    lab.up()
    path = tmp_path / "missing" / "x.pcap"
    _refused_capture(lab, path)
    assert not os.path.exists(tmp_path / "missing")


# -- bad input ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, mentions", [
    (["nosuch"], ["target", "nosuch"]),
    (["pod-3-2", "-c", "0"], ["count", "0"]),
    (["pod-3-2", "-c", "many"], ["count", "many"]),
    (["pod-3-2", "--duration", "0"], ["duration", "0"]),
    (["pod-3-2", "--filter=-w /tmp/podnet-test-evil.pcap"], ["filter", "-w /tmp/podnet-test-evil.pcap"]),
    (["pod-3-2", "--filter=-X"], ["filter", "-X"]),
    (["pod-3-2", "-i", "not an interface"], ["interface"]),
], ids=["unknown-target", "count-0", "count-word", "duration-0", "filter-option-w", "filter-option-X", "interface"])
def test_capture_refuses_bad_input(lab, args, mentions, tmp_path):
    lab.up()
    before = own_view()
    out = tmp_path / "never.pcap"
    result = podnet("capture", "--name", lab.name, *args, "--duration" if "--duration" not in args else "-c",
                    "1", "-w", str(out))
    assert_refused(result, *mentions)
    assert own_view() == before
    assert not os.path.lexists(out)
    assert not os.path.lexists("/tmp/podnet-test-evil.pcap")


def test_capture_refuses_a_pending_pod(lab):
    lab.up("--cni", "none")
    assert_refused(podnet("capture", "--name", lab.name, "pod-1-1", "--duration", "1"), "target", "pod-1-1")


def test_sigterm_ends_a_capture_and_its_tcpdump(lab):
    """A capture ended by SIGTERM (a closed terminal, a supervisor) takes its tcpdump with it."""
    lab.up()
    proc = start_capture(lab, "pod-3-2", "-f", "icmp", "-c", "100", "--duration", "60")
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 130 and err.strip() == "podnet: terminated", (proc.returncode, out, err)
    assert not any(_comm(pid) == "tcpdump" for pid in pids_in({netns_inode(lab.ns("pod-3-2"))}))
