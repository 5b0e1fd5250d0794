"""The endpoints of the reachability matrix: a socket pair per target Pod, served by a child.

Mirrors the e2e netexec endpoint (``agnhost netexec``) every Granular Check talks to: UDP 8081
and TCP 8083 in each target Pod's namespace (another pair when a workload already serves one
of those, as e2e's own test Pods never do), answering with the Pod's own name and recording
the client address it saw (what the NoSNAT check compares). Deviation: the sockets are opened
once in each namespace by podnet's namespace worker and served with epoll by one forked child
on the other core, which hands its records back through a pipe when told to stop.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import time

UDP_PORT = 8081
TCP_PORT = 8083
# When a workload's container already serves one of netexec's ports, the next pair is used.
PORT_PAIRS = ((UDP_PORT, TCP_PORT), (9081, 9083), (18081, 18083), (28081, 28083))


def free_ports(declared: set[int]) -> tuple[int, int]:
    """The first (UDP, TCP) pair no target Pod's container declares (in either protocol)."""
    for pair in PORT_PAIRS:
        if not declared & set(pair):
            return pair
    return PORT_PAIRS[-1]


def listen(udp_port: int = UDP_PORT, tcp_port: int = TCP_PORT) -> tuple[socket.socket, socket.socket]:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    udp.bind(("0.0.0.0", udp_port))
    udp.setblocking(False)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(("0.0.0.0", tcp_port))
    tcp.listen(4096)
    tcp.setblocking(False)
    return udp, tcp


class EndpointProcess:
    """The endpoints of every target Pod, served by a forked child on the other core.

    Each endpoint answers its own name and records the address each client came from; the
    child hands its records back through a pipe when told to stop.
    """

    def __init__(self, listeners: dict[str, tuple[socket.socket, socket.socket]]):
        self.results_r, results_w = os.pipe()
        stop_r, self.stop_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the child: serve until told to stop, report, exit
            status = 0
            try:
                os.close(self.results_r)
                os.close(self.stop_w)
                seen = _serve(listeners, stop_r)
                data = json.dumps([[k[0], k[1], k[2], v] for k, v in seen.items()]).encode()
                with os.fdopen(results_w, "wb") as out:
                    out.write(data)
            except BaseException:  # noqa: BLE001 - a child must never return into the caller
                status = 1
            finally:
                os._exit(status)
        os.close(results_w)
        os.close(stop_r)
        for udp, tcp in listeners.values():  # the child owns them now
            udp.close()
            tcp.close()

    def finish(self, timeout: float) -> dict[tuple[str, str, str], str]:
        os.write(self.stop_w, b"x")
        chunks = []
        deadline = time.monotonic() + timeout + 5
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.results_r], [], [], 0.5)
            if ready:
                chunk = os.read(self.results_r, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
        try:
            rows = json.loads(b"".join(chunks) or b"[]")
        except ValueError:
            rows = []
        return {(a, b, c): d for a, b, c, d in rows}

    def kill(self) -> None:
        """End the child (ours, by PID) if it is still there, and reap it."""
        for fd in (self.results_r, self.stop_w):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            if os.waitpid(self.pid, os.WNOHANG) == (0, 0):
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


def _serve(listeners, stop_fd: int) -> dict[tuple[str, str, str], str]:
    ep = select.epoll()
    roles: dict[int, tuple[str, str, socket.socket]] = {}
    for name, (udp, tcp) in listeners.items():
        roles[udp.fileno()] = ("udp", name, udp)
        roles[tcp.fileno()] = ("listen", name, tcp)
        ep.register(udp.fileno(), select.EPOLLIN)
        ep.register(tcp.fileno(), select.EPOLLIN)
    ep.register(stop_fd, select.EPOLLIN)
    seen: dict[tuple[str, str, str], str] = {}
    while True:
        for fd, _ in ep.poll(1.0):
            if fd == stop_fd:
                return seen
            role, name, sock = roles[fd]
            if role == "udp":
                while True:
                    try:
                        data, peer = sock.recvfrom(256)
                    except BlockingIOError:
                        break
                    seen.setdefault((data.decode(errors="replace").partition("|")[0], name, "udp"), peer[0])
                    try:
                        sock.sendto(name.encode() + b"|" + data, peer)  # "name|src|dst"
                    except OSError:
                        pass
            elif role == "listen":
                answer = name.encode()
                while True:
                    try:
                        conn, peer = sock.accept()
                    except BlockingIOError:
                        break
                    # The client is known by the address and port it came from.
                    seen.setdefault((f"{peer[0]}:{peer[1]}", name, "tcp"), peer[0])
                    try:
                        conn.send(answer)
                    except OSError:
                        pass
                    conn.close()
