"""The clients of the reachability matrix: every source asks every target for its name.

Mirrors the e2e Granular Checks' client side (``curl`` and ``nc -u`` from a test Pod or from
the node): over UDP each source socket sends "source|target" to every target and resends
until answered; over TCP at most TCP_WINDOW connections are in flight, each from a client
port of its own so the endpoint's record of (address, port) still names the pair after a
source NAT. Answers are checked for the target's own name. Deviation: one non-blocking socket
per source (UDP) or per pair (TCP), opened inside the source's namespace by the namespace
worker and driven with epoll from podnet's own process.
"""

from __future__ import annotations

import errno
import select
import socket
import struct
import time

from podnet.core.errors import KernelError
from podnet.probes.matrix_endpoints import TCP_PORT, UDP_PORT

TCP_WINDOW = 1500  # client connections in flight at once
# Once only pairs a NetworkPolicy should drop are left, an answer that was going to come would
# have come: wait this much longer, then count them dropped (a lab's round trip is well under 1 ms).
DENIED_GRACE = 0.5
RESEND_AFTER = 0.25
CLIENT_PORTS = (20000, 60000)  # TCP client ports, one per pair, clear of the endpoints' ports
_ABORT = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() resets instead of FIN/ACK


def udp_clients(lab, book, result, ips, timeout, progress) -> None:
    clients = _open_udp_clients(lab, book, result)
    by_fd = {sock.fileno(): src for src, sock in clients.items()}
    ep = select.epoll()
    for sock in clients.values():
        ep.register(sock.fileno(), select.EPOLLIN)
    pending = {k: 0.0 for k, p in result.pairs.items() if k[2] == "udp" and p.error is None}
    denied = {k for k in pending if not result.pairs[k].expected}
    total = len(pending)
    deadline = time.perf_counter() + timeout
    try:
        while pending and time.perf_counter() < deadline:
            if denied and pending.keys() <= denied:
                deadline = min(deadline, time.perf_counter() + DENIED_GRACE)
                denied = set()  # the grace starts once
            _udp_send_due(clients, result, ips, pending)
            for fd, _ in ep.poll(0.01):
                _udp_read(by_fd[fd], clients[by_fd[fd]], result, pending)
            if progress:
                progress("udp", total - len(pending), total)
    finally:
        ep.close()
        for sock in clients.values():
            sock.close()
    for key in pending:
        result.pairs[key].error = result.pairs[key].error or _silence(result.pairs[key], timeout)


def _open_udp_clients(lab, book, result) -> dict[str, socket.socket]:
    """One non-blocking UDP socket per source, opened inside its namespace."""
    def make() -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.setblocking(False)
        sock.bind(("0.0.0.0", 0))
        return sock

    clients = {}
    for src in result.sources:
        try:
            clients[src] = lab.worker.run_in(book.netns_of(src), make)
        except (OSError, KernelError) as exc:
            result.errors.append(f"{src} could not open a UDP client: {exc}")
            for key, pair in result.pairs.items():
                if key[0] == src and key[2] == "udp" and pair.error is None:
                    pair.error = f"client could not start: {exc}"
    return clients


def _udp_send_due(clients, result, ips, pending) -> None:
    """(Re)send every pair not answered and not sent in the last RESEND_AFTER seconds."""
    now = time.perf_counter()
    for key, last in list(pending.items()):
        if now - last < RESEND_AFTER:
            continue
        src, dst, _ = key
        try:
            clients[src].sendto(f"{src}|{dst}".encode(), (ips[dst], UDP_PORT))
            pending[key] = now
        except BlockingIOError:
            return
        except OSError as exc:
            result.pairs[key].error = f"send failed: {exc.strerror}"
            del pending[key]


def _udp_read(src: str, sock: socket.socket, result, pending) -> None:
    while True:
        try:
            data, _peer = sock.recvfrom(256)
        except BlockingIOError:
            return
        answer, _, asked = data.decode(errors="replace").partition("|")
        key = (src, asked.partition("|")[2], "udp")  # the target this client asked for
        if key in pending:
            pair = result.pairs[key]
            pair.answered, pair.answer, pair.name_ok = True, answer, answer == key[1]
            del pending[key]


def tcp_clients(lab, book, result, ips, timeout, progress) -> dict[tuple[str, str, str], tuple[str, int]]:
    """Each client connects and reads the endpoint's name; the endpoint knows the client by
    the address and port it came from. Returns each pair's client port."""
    run = _TcpRun(lab, book, result, ips)
    deadline = time.perf_counter() + timeout + len(run.queue) / 5000
    graced = not any(not result.pairs[k].expected for k in run.queue)
    try:
        while (run.position < len(run.queue) or run.clients) and time.perf_counter() < deadline:
            if not graced and run.position == len(run.queue) and all(not result.pairs[k].expected
                                                                     for k, _s in run.clients.values()):
                deadline, graced = min(deadline, time.perf_counter() + DENIED_GRACE), True
            if run.position < len(run.queue) and len(run.clients) < TCP_WINDOW:
                run.start_batch()
                continue
            for fd, events in run.ep.poll(0.01):
                run.on_event(fd, events)
            if progress:
                progress("tcp", run.done, len(run.queue))
    finally:
        for _key, sock in run.clients.values():
            sock.close()
        run.ep.close()
    for key in run.queue[run.position:]:
        result.pairs[key].error = "not tried before the deadline"
    for key, _sock in run.clients.values():
        result.pairs[key].error = _silence(result.pairs[key], timeout)
    return run.ports


class _TcpRun:
    """The TCP half of the matrix: at most TCP_WINDOW connections in flight, opened in batches
    per source (one trip into its namespace), each answered with the endpoint's name."""

    def __init__(self, lab, book, result, ips):
        self.lab, self.book, self.result, self.ips = lab, book, result, ips
        self.queue = [k for k, p in result.pairs.items() if k[2] == "tcp" and p.error is None]
        self.order = {key: i for i, key in enumerate(self.queue)}
        self.ports: dict[tuple[str, str, str], tuple[str, int]] = {}
        self.clients: dict[int, tuple[tuple[str, str, str], socket.socket]] = {}
        self.ep = select.epoll()
        self.position = self.done = 0

    def start_batch(self) -> None:
        src = self.queue[self.position][0]
        batch = []
        while (self.position < len(self.queue) and self.queue[self.position][0] == src
               and len(self.clients) + len(batch) < TCP_WINDOW):
            batch.append(self.queue[self.position])
            self.position += 1
        try:
            socks = self.lab.worker.run_in(self.book.netns_of(src), lambda n=len(batch): [socket.socket() for _ in range(n)])
        except (OSError, KernelError) as exc:
            for key in batch:
                self.result.pairs[key].error = f"client could not start: {exc}"
            self.done += len(batch)
            return
        for key, sock in zip(batch, socks):
            self._connect(key, sock)

    def _connect(self, key, sock: socket.socket) -> None:
        sock.setblocking(False)
        # A port of its own per pair: a source NAT then has no reason to change it, so the
        # endpoint's record of (address, port) still names the pair.
        try:
            sock.bind(("0.0.0.0", CLIENT_PORTS[0] + self.order[key] % (CLIENT_PORTS[1] - CLIENT_PORTS[0])))
        except OSError:
            sock.bind(("0.0.0.0", 0))
        code = sock.connect_ex((self.ips[key[1]], TCP_PORT))
        if code not in (0, errno.EINPROGRESS):
            self.result.pairs[key].error = f"connect failed: {errno.errorcode.get(code, code)}"
            sock.close()
            self.done += 1
            return
        self.clients[sock.fileno()] = (key, sock)
        self.ep.register(sock.fileno(), select.EPOLLOUT)

    def on_event(self, fd: int, events: int) -> None:
        key, sock = self.clients[fd]
        pair = self.result.pairs[key]
        if events & select.EPOLLOUT:
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if not err:
                self.ports[key] = sock.getsockname()
                self.ep.modify(fd, select.EPOLLIN)
                return
            pair.error = f"connect failed: {errno.errorcode.get(err, err)}"
        else:
            try:
                data = sock.recv(256)
            except BlockingIOError:
                return
            except OSError as exc:
                data = b""
                pair.error = f"connection failed: {exc.strerror}"
            pair.answered = bool(data)
            pair.answer = data.decode(errors="replace") or None
            pair.name_ok = pair.answer == key[1]
            if not data and pair.error is None:
                pair.error = "connection closed without an answer"
        self.ep.unregister(fd)
        del self.clients[fd]
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _ABORT)  # RST: no FIN dance
        sock.close()
        self.done += 1


def _silence(pair, timeout: float) -> str:
    if not pair.expected:
        return f"no answer (a NetworkPolicy drops it: {pair.why})"
    return f"no answer within {timeout:g}s"
