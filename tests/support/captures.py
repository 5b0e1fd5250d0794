"""Captures in any namespace of a test lab: tcpdump under ``nsenter``, ``podnet capture`` in the
background, and reading pcaps back (record counts, tshark fields).
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time

from tests.support.labs import Lab
from tests.support.processes import PODNET, REPO, explain, netns_inode, pids_in, run


def pcap_records(data: bytes) -> int:
    """How many packet records a classic pcap stream holds (header only: 0)."""
    import struct

    if len(data) < 24:
        return 0
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise AssertionError(f"not a pcap stream: {data[:16]!r}")
    count, offset = 0, 24
    while offset + 16 <= len(data):
        incl_len = struct.unpack(endian + "I", data[offset + 8:offset + 12])[0]
        offset += 16 + incl_len
        count += 1
    return count


class NsTcpdump:
    """tcpdump inside any namespace of ours (``nsenter --net=PATH``), for namespaces podnet
    capture does not take (the routed underlay's router). Writes the pcap to ``path`` itself
    (tcpdump writes to stdout) once tcpdump has exited."""

    def __init__(self, ns_path: str, iface: str, bpf: str, path, count: int, timeout: float = 15.0):
        self.path = path
        self.timeout = timeout
        self.proc = subprocess.Popen(
            ["nsenter", f"--net={ns_path}", "--", "tcpdump", "-i", iface, "-nn", "-U", "-s", "262144",
             "-c", str(count), "-w", "-", "--", *bpf.split()],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        err = b""
        deadline = time.monotonic() + 10
        while b"listening on" not in err:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.proc.stderr], [], [], max(left, 0))
            chunk = os.read(self.proc.stderr.fileno(), 4096) if ready else b""
            if not chunk:
                self.proc.kill()
                out, rest = self.proc.communicate(timeout=10)
                raise AssertionError(f"tcpdump did not start in {ns_path}: {(err + rest).decode(errors='replace')}")
            err += chunk
        self.stderr = err

    def done(self) -> bool:
        return self.proc.poll() is not None

    def finish(self) -> bytes:
        """Wait for tcpdump's packet count (or the timeout, then stop it); the pcap bytes."""
        try:
            out, err = self.proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGINT)
            out, err = self.proc.communicate(timeout=10)
        with open(self.path, "wb") as handle:
            handle.write(out)
        return out

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate(timeout=10)


def tshark_fields(pcap_path, *fields: str, decode_vxlan: bool = True) -> list[list[str]]:
    """One row per packet of ``fields`` (tshark -T fields); a field with several values (an
    outer and an inner IP header) is a comma-separated string."""
    argv = ["tshark", "-r", str(pcap_path)]
    if decode_vxlan:
        argv += ["-d", "udp.port==8472,vxlan"]  # flannel's Linux port, not IANA's 4789
    argv += ["-T", "fields", "-E", "separator=/t"]
    for field in fields:
        argv += ["-e", field]
    result = run(argv, timeout=30)
    assert result.returncode == 0, explain(result)
    return [line.split("\t") for line in result.stdout.splitlines() if line.strip()]


def start_podnet_capture(lab: Lab, target: str, *args: str) -> subprocess.Popen:
    """``podnet capture --name LAB TARGET ARGS`` in the background; returns once its tcpdump
    runs inside the target's namespace."""
    proc = subprocess.Popen([*PODNET, "capture", "--name", lab.name, target, *args], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    inode = netns_inode(lab.ns(target))

    def tcpdump_running() -> bool:
        for pid in pids_in({inode}):
            try:
                with open(f"/proc/{pid}/comm", encoding="utf-8") as handle:
                    if handle.read().strip() == "tcpdump":
                        return True
            except OSError:
                pass
        return False

    deadline = time.monotonic() + 15
    while not tcpdump_running():
        if proc.poll() is not None or time.monotonic() > deadline:
            if proc.poll() is None:
                proc.kill()
            out, err = proc.communicate(timeout=15)
            raise AssertionError(f"capture did not start tcpdump in {target}: exit {proc.returncode}\n{out}\n{err}")
        time.sleep(0.05)
    time.sleep(0.3)  # tcpdump opens its socket right after it starts
    return proc


def finish_podnet_capture(proc: subprocess.Popen) -> subprocess.CompletedProcess:
    """Collect a background capture that has exited (or stop it: SIGINT, as a person would)."""
    try:
        proc.wait(timeout=1)  # one that reached its count is printing its last lines
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate(timeout=15)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

