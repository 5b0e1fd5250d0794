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
import resource
import select
import socket
import struct
import time
from collections import deque

from podnet.core.errors import KernelError

TCP_WINDOW = 1500  # client connections in flight at once
# A pair a NetworkPolicy should drop is given up this long after its first datagram or SYN: an
# answer that was going to come would have come (a lab's round trip is well under 1 ms). Those
# pairs start first, so their wait overlaps the allowed pairs' work.
DENIED_GRACE = 0.5
# Once every allowed pair has been answered, a denied pair waits three times the slowest of
# those answers instead, and at least this long (a small lab answers in well under 10 ms).
MIN_GRACE = 0.15
RESEND_AFTER = 0.25
CLIENT_PORTS = (20000, 60000)  # TCP client ports, one per pair, clear of the endpoints' ports
_ABORT = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() resets instead of FIN/ACK


class _Grace:
    """When to give up the pairs a policy should drop: DENIED_GRACE after each was first sent,
    or sooner once every allowed pair is done (three times the slowest allowed answer, at least
    MIN_GRACE): a denied pair that leaks answers as fast as the allowed ones do."""

    def __init__(self, allowed: int):
        self.allowed_left, self.slowest = allowed, 0.0
        self.waiting: deque = deque()  # (first sent, token), oldest first

    def sent(self, token) -> None:
        self.waiting.append((time.perf_counter(), token))

    def allowed_done(self, latency: float | None) -> None:
        self.allowed_left -= 1
        if latency is not None:
            self.slowest = max(self.slowest, latency)

    def expired(self) -> list:
        now = time.perf_counter()
        grace = DENIED_GRACE if self.allowed_left > 0 else min(DENIED_GRACE, max(MIN_GRACE, 3 * self.slowest))
        out = []
        while self.waiting and now - self.waiting[0][0] >= grace:
            out.append(self.waiting.popleft()[1])
        return out


def udp_clients(lab, book, result, ips, timeout, progress) -> None:
    clients = _open_udp_clients(lab, book, result)
    by_fd = {sock.fileno(): src for src, sock in clients.items()}
    ep = select.epoll()
    for sock in clients.values():
        ep.register(sock.fileno(), select.EPOLLIN)
    # Pairs a policy should drop go first and are given up DENIED_GRACE after their first
    # datagram, while the allowed pairs are still being answered.
    order = sorted((k for k, p in result.pairs.items() if k[2] == "udp" and p.error is None),
                   key=lambda k: result.pairs[k].expected)
    pending = {k: 0.0 for k in order}
    first: dict = {}  # the first send of each allowed pair
    grace = _Grace(sum(1 for k in order if result.pairs[k].expected))
    total = len(pending)
    deadline = time.perf_counter() + timeout
    try:
        while pending and time.perf_counter() < deadline:
            _udp_send_due(clients, result, ips, pending, grace, first)
            for fd, _ in ep.poll(0.01):
                _udp_read(by_fd[fd], clients[by_fd[fd]], result, pending, grace, first)
            for key in grace.expired():
                pending.pop(key, None)  # dropped, as the policies say (the error is set below)
            if progress:
                progress("udp", total - len(pending), total)
    finally:
        ep.close()
        for sock in clients.values():
            sock.close()
    for key, pair in result.pairs.items():
        if key[2] == "udp" and not pair.answered and pair.error is None:
            pair.error = _silence(pair, timeout)


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


def _udp_send_due(clients, result, ips, pending, grace: _Grace, first: dict) -> None:
    """(Re)send every pair not answered and not sent in the last RESEND_AFTER seconds; the
    first send of a pair a policy should drop starts its grace."""
    now = time.perf_counter()
    for key, last in list(pending.items()):
        if now - last < RESEND_AFTER:
            continue
        src, dst, _ = key
        try:
            clients[src].sendto(f"{src}|{dst}".encode(), (ips[dst], result.ports["udp"]))
            if not last:
                if result.pairs[key].expected:
                    first[key] = now
                else:
                    grace.sent(key)
            pending[key] = now
        except BlockingIOError:
            return
        except OSError as exc:
            result.pairs[key].error = f"send failed: {exc.strerror}"
            del pending[key]
            if result.pairs[key].expected:
                grace.allowed_done(None)


def _udp_read(src: str, sock: socket.socket, result, pending, grace: _Grace, first: dict) -> None:
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
            if pair.expected:
                grace.allowed_done(time.perf_counter() - first[key])


def tcp_clients(lab, book, result, ips, timeout, progress) -> dict[tuple[str, str, str], tuple[str, int]]:
    """Each client connects and reads the endpoint's name; the endpoint knows the client by
    the address and port it came from. Returns each pair's client port."""
    run = _TcpRun(lab, book, result, ips)
    deadline = time.perf_counter() + timeout + len(run.queue) / 5000
    try:
        while (run.position < len(run.queue) or run.clients) and time.perf_counter() < deadline:
            if run.can_start():
                run.start_batch()
                continue
            for fd, events in run.ep.poll(0.01):
                run.on_event(fd, events)
            run.give_up_denied(timeout)
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
    """The TCP half of the matrix: connections opened in batches per source (one trip into its
    namespace), each answered with the endpoint's name. Pairs a policy should drop start first
    and are given up DENIED_GRACE after their SYN; at most TCP_WINDOW allowed connections and
    ``denied_window`` denied ones are in flight at once."""

    def __init__(self, lab, book, result, ips):
        self.lab, self.book, self.result, self.ips = lab, book, result, ips
        tcp = [k for k, p in result.pairs.items() if k[2] == "tcp" and p.error is None]
        self.order = {key: i for i, key in enumerate(tcp)}  # client ports stay as they were
        self.queue = sorted(tcp, key=lambda k: result.pairs[k].expected)
        self.ports: dict[tuple[str, str, str], tuple[str, int]] = {}
        self.clients: dict[int, tuple[tuple[str, str, str], socket.socket]] = {}
        self.in_flight = {True: 0, False: 0}  # by expectation
        self.windows = {True: TCP_WINDOW, False: denied_window()}
        self.grace = _Grace(sum(1 for k in tcp if result.pairs[k].expected))
        self.since: dict = {}  # when each allowed connection started
        self.ep = select.epoll()
        self.position = self.done = 0

    def can_start(self) -> bool:
        if self.position >= len(self.queue):
            return False
        expected = self.result.pairs[self.queue[self.position]].expected
        return self.in_flight[expected] < self.windows[expected]

    def start_batch(self) -> None:
        first = self.queue[self.position]
        src, expected = first[0], self.result.pairs[first].expected
        room = self.windows[expected] - self.in_flight[expected]
        batch = []
        while (self.position < len(self.queue) and len(batch) < room and self.queue[self.position][0] == src
               and self.result.pairs[self.queue[self.position]].expected == expected):
            batch.append(self.queue[self.position])
            self.position += 1
        try:
            socks = self.lab.worker.run_in(self.book.netns_of(src), lambda n=len(batch): [socket.socket() for _ in range(n)])
        except (OSError, KernelError) as exc:
            for key in batch:
                self.result.pairs[key].error = f"client could not start: {exc}"
                if expected:
                    self.grace.allowed_done(None)
            self.done += len(batch)
            return
        for key, sock in zip(batch, socks):
            self._connect(key, sock)

    def give_up_denied(self, timeout: float) -> None:
        """A denied pair with no answer when its grace is over is dropped, as expected."""
        for fd, sock in self.grace.expired():
            if fd in self.clients and self.clients[fd][1] is sock:  # still waiting (fds are reused)
                key = self.clients[fd][0]
                self.result.pairs[key].error = _silence(self.result.pairs[key], timeout)
                self._finish(fd)

    def _connect(self, key, sock: socket.socket) -> None:
        sock.setblocking(False)
        # A port of its own per pair: a source NAT then has no reason to change it, so the
        # endpoint's record of (address, port) still names the pair.
        try:
            sock.bind(("0.0.0.0", CLIENT_PORTS[0] + self.order[key] % (CLIENT_PORTS[1] - CLIENT_PORTS[0])))
        except OSError:
            sock.bind(("0.0.0.0", 0))
        code = sock.connect_ex((self.ips[key[1]], self.result.ports["tcp"]))
        expected = self.result.pairs[key].expected
        if code not in (0, errno.EINPROGRESS):
            self.result.pairs[key].error = f"connect failed: {errno.errorcode.get(code, code)}"
            sock.close()
            self.done += 1
            if expected:
                self.grace.allowed_done(None)
            return
        self.clients[sock.fileno()] = (key, sock)
        self.in_flight[expected] += 1
        if expected:
            self.since[key] = time.perf_counter()
        else:
            self.grace.sent((sock.fileno(), sock))
        self.ep.register(sock.fileno(), select.EPOLLOUT)

    def on_event(self, fd: int, events: int) -> None:
        if fd not in self.clients:
            return  # given up earlier in this round of events
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
        self._finish(fd)

    def _finish(self, fd: int) -> None:
        key, sock = self.clients.pop(fd)
        pair = self.result.pairs[key]
        self.in_flight[pair.expected] -= 1
        if pair.expected:
            started = self.since.pop(key)
            self.grace.allowed_done(time.perf_counter() - started if pair.answered else None)
        self.ep.unregister(fd)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _ABORT)  # RST: no FIN dance
        sock.close()
        self.done += 1


def denied_window() -> int:
    """How many denied connections may wait at once: what the open-files limit leaves after
    the allowed window and the endpoints (the soft limit is raised to the hard one first;
    it is this process's own limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        wanted = 1 << 16 if hard == resource.RLIM_INFINITY else min(hard, 1 << 16)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            pass
    return max(256, min(8000, soft - TCP_WINDOW - 2048))


def _silence(pair, timeout: float) -> str:
    if not pair.expected:
        return f"no answer (a NetworkPolicy drops it: {pair.why})"
    return f"no answer within {timeout:g}s"
