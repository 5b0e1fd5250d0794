"""Labs with the same addresses side by side: not one packet crosses from one to another, and
one lab's ``down``, or its crash (kill -9) followed by ``podnet clean``, leaves every other lab
whole and passing its matrix.

Three labs of the default topology run at once (the same Pod, node, Internet and external
addresses in each). tcpdump on every interface of every namespace of the quiet labs
(``-i any``: an AF_PACKET socket per namespace) sees nothing while the busy lab runs its
reachability matrix and pings its underlay, Internet and external addresses, which a capture
in the busy lab's own underlay sees.

The labs use permanent neighbour entries (``--static-arp on``, as ``podnet class up`` does):
the one thing every namespace of the machine shares is the kernel's ARP table, whose 1,024
learnt entries (the root namespace's ``gc_thresh3``) many labs' matrices overflow; a lab's
matrix would then fail for a reason that is not a packet crossing over.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess

import pytest

from tests.support.captures import NsTcpdump, pcap_records
from tests.support.labs import Lab, probe_json
from tests.support.packets import assert_ping
from tests.support.processes import PODNET, REPO, explain, kill_pid, netns_inode, pids_in, podnet, wait_until

pytestmark = pytest.mark.root

# addresses every lab of the default topology has: node-2 and node-3 on the underlay, the
# emulated Internet's DNS and web hosts, the external client
SHARED_ADDRESSES = ["192.168.77.12", "192.168.77.13", "8.8.8.8", "93.184.215.14", "203.0.113.10"]


def _names() -> tuple[str, str, str]:
    prefix = "cls" + secrets.token_hex(3)
    return f"{prefix}-a", f"{prefix}-b", f"{prefix}-c"


class Foreground:
    """A lab in the foreground (``podnet up`` reading its stdin, kept open), so that killing
    its processes makes it stale, as a crashed terminal would."""

    def __init__(self, lab: Lab):
        self.lab = lab
        self.proc = subprocess.Popen([*PODNET, "up", "--name", lab.name, "--static-arp", "on"], cwd=REPO, stdin=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"podnet up --name {lab.name} exited with {self.proc.returncode}")
            pods = podnet("get", "pods", "--name", lab.name)
            return pods.returncode == 0 and pods.stdout.count("Running") == 6

        wait_until(ready, timeout=60, what=f"the foreground lab {lab.name}")
        lab.wait_for_api()

    def kill_9(self) -> list[int]:
        """SIGKILL the lab's owner, its API server and every process inside its namespaces."""
        with open(os.path.join(self.lab.run_dir, "apiserver", "process.json"), encoding="utf-8") as handle:
            server = json.load(handle)["pid"]
        inside = pids_in(self.lab.inodes())
        victims = [self.proc.pid, server, *sorted(inside)]
        for pid in victims:
            kill_pid(pid)
        self.proc.wait(timeout=10)
        wait_until(lambda: not pids_in(self.lab.inodes()), timeout=10, what=f"the processes of {self.lab.name} to die")
        return victims

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc.stdin:
            self.proc.stdin.close()


@pytest.fixture
def three_labs(make_lab):
    """Labs a and b detached, c in the foreground; all of the default topology."""
    a, b, c = (make_lab(name) for name in _names())
    a.up("--static-arp", "on")  # as class labs run: see the module's docstring
    b.up("--static-arp", "on")
    foreground = Foreground(c)
    try:
        yield a, b, foreground
    finally:
        foreground.close()


class Watch:
    """tcpdump -i any in every namespace of the given labs, until :meth:`stop`."""

    def __init__(self, tmp_path, labs: list[Lab]):
        self.dumps: dict[str, NsTcpdump] = {}
        try:
            for lab in labs:
                for ns in sorted(lab.namespaces()):
                    self.dumps[ns] = NsTcpdump(os.path.join("/run/netns", ns), "any", "", tmp_path / f"{ns}.pcap",
                                               count=100000, timeout=0.2)
        except BaseException:
            self.close()
            raise

    def pids(self) -> set[int]:
        return {dump.proc.pid for dump in self.dumps.values()}

    def stop(self) -> dict[str, int]:
        """Packets each namespace saw."""
        for dump in self.dumps.values():
            if not dump.done():
                dump.proc.send_signal(signal.SIGINT)  # all at once; each then ends at once
        try:
            return {ns: pcap_records(dump.finish()) for ns, dump in self.dumps.items()}
        finally:
            self.close()

    def close(self) -> None:
        for dump in self.dumps.values():
            dump.close()


def _busy(lab: Lab) -> None:
    """The matrix, then pings from a Pod and a node to addresses every lab has."""
    matrix = probe_json(lab, "--all")
    assert matrix["ok"] is True and matrix["pairs"] == 96 and matrix["failed"] == 0, matrix
    for address in SHARED_ADDRESSES:
        assert_ping(lab, "pod-1-1", address)
    assert_ping(lab, "node-1", "192.168.77.12")
    assert_ping(lab, "pod-1-1", lab.pod_ip("pod-3-2"))


def _fingerprint(lab: Lab, watch: Watch | None = None) -> dict:
    """The lab's namespaces by inode, the processes inside them (but a watch's tcpdumps), and
    its saved state."""
    with open(os.path.join(lab.run_dir, "state.json"), encoding="utf-8") as handle:
        state = handle.read()
    pids = pids_in(lab.inodes()) - (watch.pids() if watch else set())
    return {"netns": {n: netns_inode(n) for n in lab.namespaces()}, "pids": pids, "state": state}


def _passes_matrix(lab: Lab) -> None:
    matrix = probe_json(lab, "--all")
    assert matrix["ok"] is True and matrix["pairs"] == 96 and matrix["errors"] == [], matrix


def test_labs_with_the_same_addresses_never_see_each_others_packets(three_labs, tmp_path):
    a, b, c = three_labs
    labs = [a, b, c.lab]
    ips = [{name: pod["status"]["podIP"] for name, pod in lab.pods().items()} for lab in labs]
    assert ips[0] == ips[1] == ips[2] and ips[0]["pod-3-2"] == "10.244.2.3", ips
    assert a.node_ip("node-2") == b.node_ip("node-2") == c.lab.node_ip("node-2") == "192.168.77.12"

    quiet = Watch(tmp_path, [b, c.lab])
    busy = NsTcpdump(a.ns_path("underlay"), "any", "", tmp_path / "a-underlay.pcap", count=100000, timeout=0.2)
    try:
        _busy(a)
        seen_in_a = pcap_records(busy.finish())
    finally:
        busy.close()
        seen = quiet.stop()
    assert len(seen) == len(b.namespaces()) + len(c.lab.namespaces()) >= 26
    assert seen_in_a > 20, "the capture in the busy lab's underlay saw its own traffic"
    assert {ns: n for ns, n in seen.items() if n} == {}, "packets of lab a were seen in labs b and c"
    for lab in (b, c.lab):
        _passes_matrix(lab)


def test_down_or_kill_9_and_clean_of_one_lab_leave_the_others_whole(three_labs, tmp_path):
    a, b, c = three_labs
    before = _fingerprint(b)
    assert len(before["netns"]) == 13 and before["pids"], before
    watch = Watch(tmp_path, [b])
    try:
        result = a.down()
        assert result.returncode == 0, explain(result)
        assert a.namespaces() == set() and not os.path.exists(a.run_dir)
        assert _fingerprint(b, watch) == before

        doomed = c.lab.namespaces()
        killed = c.kill_9()
        assert len(killed) >= 5, killed  # the owner, the API server, node shells, the lab's servers
        listing = {row["name"]: row for row in json.loads(podnet("list", "-o", "json", check=True).stdout)}
        assert listing[c.lab.name]["stale"] is True and listing[c.lab.name]["health"].startswith("stale")
        assert listing[b.name]["stale"] is False and listing[b.name]["health"] == "Running"
        cleaned = podnet("clean", "-o", "json", timeout=120)
        assert cleaned.returncode == 0, explain(cleaned)
        reports = json.loads(cleaned.stdout)
        assert [r["lab"] for r in reports] == [c.lab.name], reports
        assert sorted(reports[0]["deletedNamespaces"]) == sorted(doomed)
        assert c.lab.namespaces() == set() and not os.path.exists(c.lab.run_dir)
    finally:
        seen = watch.stop()
    assert {ns: n for ns, n in seen.items() if n} == {}, "the other labs' teardowns reached lab b"
    assert _fingerprint(b) == before
    _passes_matrix(b)
    for address in SHARED_ADDRESSES:
        assert_ping(b, "pod-1-1", address)
