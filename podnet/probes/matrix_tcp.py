"""The TCP clients of the reachability matrix: a connection per pair, answered with a name.

Mirrors the e2e Granular Checks' TCP client (``curl`` to netexec's /hostname from a test Pod
or the node): each pair connects, reads the endpoint's name and is done. Deviation: the
connections are opened in batches per source (one ``setns`` into its namespace per batch),
each bound to a client port of its own so the endpoint's record of (address, port) still
names the pair after a source NAT; at most TCP_WINDOW allowed and ``denied_window()`` denied
connections are in flight per worker. A connection reset before any answer (the endpoint's
reset overtaking its answer, which a busy machine can do once in a long while) is tried once
more before it counts as failed.
"""

from __future__ import annotations

import errno
import select
import socket
import struct
import time
from collections import deque

from podnet.probes.matrix_clients import TCP_WINDOW, _Client, denied_window
from podnet.probes.matrix_job import OK, OTHER

_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() resets
TCP_ESTABLISHED = 1


def _connected(sock: socket.socket) -> bool:
    """The connection was made (the first byte of TCP_INFO is the socket's state)."""
    try:
        return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0] == TCP_ESTABLISHED
    except OSError:
        return False


class TcpClients(_Client):
    proto = "tcp"

    def __init__(self, worker):
        super().__init__(worker)
        self.queue: list[int] = []  # claimed pairs, and the pairs tried once more
        self.position = 0
        self.live: dict[int, tuple[int, socket.socket, float]] = {}  # fd -> (pair, socket, started)
        self.waiting = {1: deque(), 0: deque()}  # by expectation: (started, fd, socket), oldest first
        self.in_flight = {1: 0, 0: 0}
        self.windows = {1: TCP_WINDOW, 0: denied_window()}
        self.retried: set[int] = set()
        self.deadline = time.perf_counter() + 2 * self.job.timeout + len(self.order) / 5000  # room for a retry
        worker.fallback = self.on_event

    def step(self) -> float:
        now = time.perf_counter()
        started = 0
        while started < TCP_WINDOW:
            if self.position >= len(self.queue):
                pairs = self.claim()
                if not pairs:
                    break
                self.queue.extend(pairs)
                self.mine.extend(pairs)
            expected = self.allowed[self.queue[self.position]]
            room = self.windows[expected] - self.in_flight[expected]
            if room <= 0:
                break
            started += self._start_batch(room, now)
        self._expire(now)
        self.progress()
        return 0.0 if started else 0.005

    def finished(self) -> bool:
        if time.perf_counter() > self.deadline:
            self._abandon()
            return True
        return self.exhausted and self.position >= len(self.queue) and not self.live

    def _start_batch(self, room: int, now: float) -> int:
        """Connect the next pairs of one source and one expectation (at most ``room``)."""
        queue, src, allowed = self.queue, self.src, self.allowed
        first = queue[self.position]
        end = self.position
        while end < len(queue) and end - self.position < room and src[queue[end]] == src[first] \
                and allowed[queue[end]] == allowed[first]:
            end += 1
        batch, self.position = queue[self.position:end], end
        try:
            socks = self.worker.spaces.run_in(self.job.source_netns[src[first]], lambda: [
                socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_NONBLOCK) for _ in batch])
        except OSError as exc:
            for k in batch:
                self.fail(k, f"client could not start: {exc}")
            return len(batch)
        for k, sock in zip(batch, socks):
            self._connect(k, sock, now)
        return len(batch)

    def _connect(self, k: int, sock: socket.socket, now: float) -> None:
        # A port of its own per pair: a source NAT then has no reason to change it, so the
        # endpoint's record of (address, port) still names the pair.
        try:
            sock.bind(("0.0.0.0", self.job.client_port(k)))
        except OSError:
            sock.bind(("0.0.0.0", 0))
            self.worker.report.tcp_ports[k] = sock.getsockname()[1]
        code = sock.connect_ex(self.addresses[self.dst[k]])
        if code not in (0, errno.EINPROGRESS):
            sock.close()
            self.fail(k, f"connect failed: {errno.errorcode.get(code, code)}")
            return
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 0)  # no ACK of the answer
        except OSError:
            pass  # already reset: the read tells why
        fd, allowed = sock.fileno(), self.allowed[k]
        self.live[fd] = (k, sock, now)
        self.in_flight[allowed] += 1
        self.waiting[allowed].append((now, fd, sock))
        self.worker.ep.register(fd, select.EPOLLIN)  # the answer, a reset or an error

    def on_event(self, fd: int, _events: int) -> None:
        entry = self.live.pop(fd, None)
        if entry is None:
            return
        k, sock, started = entry
        code = 0
        try:
            data = sock.recv(256)
        except (BlockingIOError, InterruptedError):
            self.live[fd] = entry
            return
        except OSError as exc:
            data, code = b"", exc.errno or 0
        sock.close()  # after the endpoint's reset: nothing more is sent
        self.in_flight[self.allowed[k]] -= 1
        if data:
            if data == self.job.target_names[self.dst[k]]:
                self.state[k] = OK
            else:
                self.state[k] = OTHER
                self.worker.report.answers[("tcp", k)] = data.decode(errors="replace")
            self.settle(k, time.perf_counter() - started)
        elif code == errno.ECONNRESET and k not in self.retried:
            self.retried.add(k)
            self.queue.append(k)  # once more, on a new connection
        elif code == errno.ECONNRESET:
            self.fail(k, "connection reset without an answer (twice)")
        elif code:
            self.fail(k, f"connect failed: {errno.errorcode.get(code, code)}")
        else:
            self.fail(k, "connection closed without an answer")

    def _expire(self, now: float) -> None:
        """Give up an allowed connection after the timeout and a denied one after its grace:
        its state stays "no answer". An allowed connection that did connect but heard
        nothing (the answer and the reset both lost on a busy machine) is tried once more."""
        for allowed, limit in ((1, self.job.timeout), (0, self.grace())):
            waiting = self.waiting[allowed]
            while waiting and now - waiting[0][0] >= limit:
                _started, fd, sock = waiting.popleft()
                entry = self.live.get(fd)
                if entry is None or entry[1] is not sock:
                    continue  # done already (fds are reused)
                del self.live[fd]
                self.in_flight[allowed] -= 1
                k = entry[0]
                if allowed and k not in self.retried and _connected(sock):
                    self.retried.add(k)
                    self.queue.append(k)
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)  # its port is free again at once
                else:
                    self.settle(k)
                sock.close()

    def _abandon(self) -> None:
        """Past the deadline: what never started is named so; what waits is not answered."""
        self.worker.report.untried.extend(self.queue[self.position:])
        self.position = len(self.queue)
        for k, sock, _started in self.live.values():
            sock.close()
            self.settle(k)
        self.live.clear()
