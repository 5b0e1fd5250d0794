"""What a receiving Pod sees: small servers started inside a namespace that report the
first datagram or connection (source address, TTL, payload), and the clients that send them.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import subprocess
import sys
import time
from typing import Callable

from tests.support.labs import Lab, containerstatus
from tests.support.processes import explain, run


UDP_SERVER = r"""
import json, socket, sys
port, timeout = int(sys.argv[1]), float(sys.argv[2])
IP_RECVTTL = getattr(socket, "IP_RECVTTL", 12)
IP_TTL = getattr(socket, "IP_TTL", 2)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
s.bind(("0.0.0.0", port))
s.settimeout(timeout)
print("ready", flush=True)
data, ancdata, _flags, addr = s.recvmsg(4096, socket.CMSG_SPACE(4))
ttl = None
for level, kind, value in ancdata:
    if level == socket.IPPROTO_IP and kind == IP_TTL:
        ttl = int.from_bytes(value[:4], sys.byteorder)
print(json.dumps({"src": addr[0], "sport": addr[1], "ttl": ttl, "data": data.decode()}), flush=True)
"""


UDP_CLIENT = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(sys.argv[3].encode(), (sys.argv[1], int(sys.argv[2])))
"""


TCP_SERVER = r"""
import json, socket, sys
port, timeout = int(sys.argv[1]), float(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", port))
s.listen(1)
s.settimeout(timeout)
print("ready", flush=True)
conn, addr = s.accept()
conn.settimeout(timeout)
data = conn.recv(4096)
local = conn.getsockname()
conn.sendall(b"ok")
conn.close()
print(json.dumps({"src": addr[0], "sport": addr[1], "dst": local[0], "data": data.decode()}), flush=True)
"""


TCP_CLIENT = r"""
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
c.sendall(sys.argv[3].encode())
reply = c.recv(16)
c.close()
print(reply.decode())
"""


def random_port() -> int:
    return 20000 + secrets.randbelow(30000)


class Receiver:
    """A server running inside a namespace that reports the first datagram or connection."""

    def __init__(self, ns_path: str, code: str, port: int, timeout: float = 15.0):
        self.port = port
        self.buffer = b""
        self.proc = subprocess.Popen(
            ["nsenter", f"--net={ns_path}", "--", sys.executable, "-c", code, str(port), str(timeout)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        line = self._read_line(10.0)
        if line != "ready":
            self.close()
            raise AssertionError(f"receiver in {ns_path} did not start: {line!r} {self.proc.stderr.read()!r}")

    def _read_line(self, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    return None
                self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode().strip()

    def result(self, timeout: float) -> dict | None:
        line = self._read_line(timeout)
        return json.loads(line) if line else None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        for stream in (self.proc.stdout, self.proc.stderr):
            stream.close()

    def __enter__(self) -> "Receiver":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def send_from(src_ns_path: str, code: str, dst_ip: str, port: int, payload: str) -> subprocess.CompletedProcess:
    return run(["nsenter", f"--net={src_ns_path}", "--", sys.executable, "-c", code, dst_ip, str(port), payload],
               timeout=20)


def udp_probe(src_ns_path: str, dst_ns_path: str, dst_ip: str) -> dict:
    """Send UDP from one namespace to ``dst_ip``; return what a server in ``dst_ns_path`` saw:
    {"src": source address, "ttl": IP TTL of the received datagram, ...}."""
    port = random_port()
    payload = secrets.token_hex(4)
    with Receiver(dst_ns_path, UDP_SERVER, port) as receiver:
        for _attempt in range(3):  # the first datagram may wait on ARP; it is queued, not lost
            sent = send_from(src_ns_path, UDP_CLIENT, dst_ip, port, payload)
            assert sent.returncode == 0, explain(sent)
            got = receiver.result(3.0)
            if got is not None:
                assert got["data"] == payload
                return got
    raise AssertionError(f"no UDP datagram from {src_ns_path} reached {dst_ip}:{port} in {dst_ns_path}")


def tcp_probe(src_ns_path: str, dst_ns_path: str, dst_ip: str) -> dict:
    """Connect over TCP; return what the accepting server saw: {"src": peer address, ...}."""
    port = random_port()
    payload = secrets.token_hex(4)
    with Receiver(dst_ns_path, TCP_SERVER, port) as receiver:
        sent = send_from(src_ns_path, TCP_CLIENT, dst_ip, port, payload)
        assert sent.returncode == 0 and sent.stdout.strip() == "ok", explain(sent)
        got = receiver.result(10.0)
        assert got is not None, f"the TCP server in {dst_ns_path} reported nothing"
        assert got["data"] == payload
        return got


def ping(lab: Lab, src: str, dst_ip: str) -> subprocess.CompletedProcess:
    return lab.in_ns(src, "ping", "-c", "1", "-W", "2", dst_ip, timeout=20)


def assert_ping(lab: Lab, src: str, dst_ip: str) -> None:
    result = ping(lab, src, dst_ip)
    assert result.returncode == 0 and " 1 received" in result.stdout, explain(result)


TCP_BULK_SERVER = r"""
import hashlib, json, socket, sys
port, timeout = int(sys.argv[1]), float(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", port))
s.listen(1)
s.settimeout(timeout)
print("ready", flush=True)
conn, addr = s.accept()
conn.settimeout(timeout)
chunks = []
while True:
    chunk = conn.recv(65536)
    if not chunk:
        break
    chunks.append(chunk)
data = b"".join(chunks)
conn.sendall(hashlib.sha256(data).hexdigest().encode())
conn.close()
print(json.dumps({"src": addr[0], "size": len(data), "recvs": len(chunks), "data": data.decode()}), flush=True)
"""


TCP_BULK_CLIENT = r"""
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
c.sendall(sys.argv[3].encode())
c.shutdown(socket.SHUT_WR)
reply = b""
while True:
    chunk = c.recv(256)
    if not chunk:
        break
    reply += chunk
c.close()
print(reply.decode())
"""


def tcp_transfer(src_ns_path: str, dst_ns_path: str, dst_ip: str, payload: str) -> dict:
    """Send ``payload`` over one TCP connection (the client half-closes when done); the server
    reads to EOF and answers the SHA-256 of what it got. Returns what the server saw:
    {"src": peer address, "size": bytes, "data": the payload as received, ...}."""
    import hashlib

    port = random_port()
    with Receiver(dst_ns_path, TCP_BULK_SERVER, port) as receiver:
        sent = send_from(src_ns_path, TCP_BULK_CLIENT, dst_ip, port, payload)
        assert sent.returncode == 0, explain(sent)
        assert sent.stdout.strip() == hashlib.sha256(payload.encode()).hexdigest(), (
            "the server's digest of what it received differs from the payload's\n" + explain(sent))
        got = receiver.result(10.0)
        assert got is not None, f"the TCP server in {dst_ns_path} reported nothing"
        return got


def ping_until(lab: Lab, src: str, dst_ip: str, done: Callable[[], bool], timeout: float = 20.0) -> int:
    """Ping once at a time from ``src`` until ``done()``; every ping must succeed. Returns how
    many pings were sent."""
    deadline = time.monotonic() + timeout
    sent = 0
    while not done():
        assert time.monotonic() < deadline, f"still waiting after {timeout}s of pings from {src} to {dst_ip}"
        result = lab.in_ns(src, "ping", "-c", "1", "-W", "2", dst_ip, timeout=20)
        assert result.returncode == 0 and " 1 received" in result.stdout, explain(result)
        sent += 1
        end = time.monotonic() + 0.5
        while not done() and time.monotonic() < end:
            time.sleep(0.02)
    return sent


def assert_cross_node_reachability(lab: Lab) -> None:
    """From the first Running Pod of each node, UDP reaches a Running Pod of every other node with
    the source Pod IP intact (no NAT) and TTL 62 (routed by both nodes)."""
    pods = lab.pods()
    by_node: dict[str, list[str]] = {}
    for name, pod in pods.items():
        if containerstatus(pod) == "Running":
            by_node.setdefault(pod["spec"]["nodeName"], []).append(name)
    assert len(by_node) >= 2, f"need Running Pods on two nodes: {by_node}"
    nodes = sorted(by_node)
    for i, src_node in enumerate(nodes):
        dst_node = nodes[(i + 1) % len(nodes)]
        src, dst = by_node[src_node][0], by_node[dst_node][-1]
        seen = udp_probe(lab.ns_path(src), lab.ns_path(dst), pods[dst]["status"]["podIP"])
        assert seen["src"] == pods[src]["status"]["podIP"], (src, dst, seen)
        assert seen["ttl"] == 62, (src, dst, seen)
