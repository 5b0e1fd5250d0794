"""The clients of the reachability matrix: every source asks every target for its name.

Mirrors the e2e Granular Checks' client side (``curl`` and ``nc -u`` from a test Pod or from
the node): over UDP each source's socket sends the pair's number to every target and resends
until answered; over TCP a connection per pair, each from a client port of its own so the
endpoint's record of (address, port) still names the pair after a source NAT. Answers are
checked for the target's own name. Deviation: the sockets are opened by a worker process that
enters each source's namespace once per batch, and driven by the worker's epoll beside the
endpoints it serves. A TCP client turns delayed ACKs on once connected (TCP_QUICKACK 0), so
the endpoint's reset, not an ACK, is the only packet after its answer.
"""

from __future__ import annotations

import resource
import socket
import time
from array import array
from collections import deque

from podnet.probes.matrix_endpoints import big_receive_buffer
from podnet.probes.matrix_job import FAILED, OK, OTHER

TCP_WINDOW = 512  # a worker's allowed client connections in flight at once
# A pair a NetworkPolicy should drop is given up this long after its first datagram or SYN: an
# answer that was going to come would have come (a lab's round trip is well under 1 ms). Those
# pairs start first, so their wait overlaps the allowed pairs' work.
DENIED_GRACE = 0.5
# Once every allowed pair has been answered, a denied pair waits three times the slowest of
# those answers instead, and at least this long (a small lab answers in well under 10 ms).
MIN_GRACE = 0.15
RESEND_AFTER = 0.25
CHUNK = 128  # UDP requests sent between two looks at the answers (and the endpoints)


class _Client:
    """What the UDP and TCP halves share: their worker, the pairs' state, the grace, and the
    units (one source, one expectation) they claim one at a time while they last."""

    proto = ""

    def __init__(self, worker):
        self.worker, self.job = worker, worker.job
        self.state = worker.shared.state[self.proto]
        self.allowed = self.job.expected[self.proto]
        self.src, self.dst = self.job.src, self.job.dst
        self.order, self.bounds = self.job.units[self.proto]
        self.mine = array("i")  # the pairs this worker took, in the order it took them
        self.allowed_left = self.denied_left = 0
        self.exhausted = False  # every unit is taken (by this worker or another)
        self.slowest = 0.0
        self.addresses = [(ip, self.job.ports[self.proto]) for ip in self.job.target_ips]

    def claim(self) -> list[int]:
        """The pairs of the next free unit (empty once none is left), without those whose
        endpoint could not listen."""
        while not self.exhausted:
            unit = self.worker.shared.claim(self.proto, len(self.bounds) - 1)
            if unit is None:
                self.exhausted = True
                break
            failed, dst = self.worker.shared.failed, self.dst
            pairs = [k for k in self.order[self.bounds[unit]:self.bounds[unit + 1]] if not failed[dst[k]]]
            if pairs:
                if self.allowed[pairs[0]]:
                    self.allowed_left += len(pairs)
                else:
                    self.denied_left += len(pairs)
                return pairs
        return []

    def grace(self) -> float:
        """How long a denied pair waits: DENIED_GRACE, or once every allowed pair is done
        three times the slowest allowed answer (at least MIN_GRACE)."""
        if self.allowed_left > 0 or not self.exhausted:
            return DENIED_GRACE
        return min(DENIED_GRACE, max(MIN_GRACE, 3 * self.slowest))

    def settle(self, k: int, latency: float | None = None) -> None:
        """Pair ``k`` is done (answered, failed or given up)."""
        if self.allowed[k]:
            self.allowed_left -= 1
            if latency is not None and latency > self.slowest:
                self.slowest = latency
        else:
            self.denied_left -= 1

    def fail(self, k: int, why: str) -> None:
        self.state[k] = FAILED
        self.worker.report.errors[(self.proto, k)] = why
        self.settle(k)

    def progress(self) -> None:
        self.worker.shared.progress[2 * self.worker.w + (self.proto == "tcp")] = \
            len(self.mine) - self.allowed_left - self.denied_left


class UdpClients(_Client):
    """One socket per source; each pair's request is its number, resent until answered."""

    proto = "udp"

    def __init__(self, worker):
        super().__init__(worker)
        self.sockets: dict[int, socket.socket] = {}
        self.sent_at = array("d")
        self.cursor = self.check = 0
        self.retry: deque = deque()  # (resent at, position), oldest first
        self.last_denied = 0.0
        # where each pair is in ``mine``: only needed for the latency that sets the grace
        self.position: dict[int, int] | None = {} if 0 in self.allowed else None

    def _take(self) -> None:
        """Claim units until one has pairs this worker can send (its source's socket opened)."""
        while not self.exhausted:
            pairs = self.claim()
            if pairs and self._socket(self.src[pairs[0]], pairs):
                if self.position is not None:
                    self.position.update((k, len(self.mine) + j) for j, k in enumerate(pairs))
                self.mine.extend(pairs)
                self.sent_at.frombytes(bytes(8 * len(pairs)))
                return

    def _socket(self, s: int, pairs: list[int]) -> bool:
        if s in self.sockets:
            return True

        def make() -> socket.socket:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK)
            big_receive_buffer(sock)
            sock.bind(("0.0.0.0", 0))
            return sock

        try:
            sock = self.sockets[s] = self.worker.spaces.run_in(self.job.source_netns[s], make)
        except OSError as exc:
            self.worker.report.problems.append(f"{self.job.source_names[s]} could not open a UDP client: {exc}")
            for k in pairs:
                self.fail(k, f"client could not start: {exc}")
            return False
        self.worker.watch(sock, lambda _fd: self._answers(s, sock))
        return True

    def step(self) -> float:
        now = time.perf_counter()
        if self.cursor == len(self.mine):
            self._take()
        if self.cursor < len(self.mine):
            self._send_new(now)
        self._resend(now)
        self.progress()
        return 0.0 if self.cursor < len(self.mine) or not self.exhausted else 0.005

    def finished(self) -> bool:
        if self.cursor < len(self.mine) or not self.exhausted:
            return False
        now = time.perf_counter()
        if self.allowed_left > 0 and self.mine and now - self.sent_at[-1] < self.job.timeout:
            return False
        return self.denied_left <= 0 or now - self.last_denied >= self.grace()

    def _send_new(self, now: float) -> None:
        mine, sockets, addresses, src, dst, sent_at = self.mine, self.sockets, self.addresses, self.src, self.dst, self.sent_at
        j, end = self.cursor, min(self.cursor + CHUNK, len(mine))
        if not self.allowed[mine[j]]:
            self.last_denied = now
        while j < end:
            k = mine[j]
            try:
                sockets[src[k]].sendto(b"%d" % k, addresses[dst[k]])
            except BlockingIOError:
                break  # the socket's send queue is full: the rest next round
            except OSError as exc:
                self.fail(k, f"send failed: {exc.strerror}")
            sent_at[j] = now
            j += 1
        self.cursor = j

    def _resend(self, now: float) -> None:
        """Each pair once RESEND_AFTER after its first send if still unanswered, then again
        each RESEND_AFTER; an allowed pair until its timeout, a denied one for its grace."""
        limit, sent_at = now - RESEND_AFTER, self.sent_at
        while self.check < self.cursor and sent_at[self.check] <= limit:
            self.check += 1
            self._resend_one(self.check - 1, now)
        while self.retry and self.retry[0][0] <= limit:
            self._resend_one(self.retry.popleft()[1], now)

    def _resend_one(self, j: int, now: float) -> None:
        k = self.mine[j]
        if self.state[k] or now - self.sent_at[j] >= (self.job.timeout if self.allowed[k] else DENIED_GRACE):
            return
        try:
            self.sockets[self.src[k]].sendto(b"%d" % k, self.addresses[self.dst[k]])
        except OSError:
            pass  # a full queue or a passing error: the next round tries again
        self.retry.append((now, j))

    def _answers(self, s: int, sock: socket.socket) -> None:
        state, src, dst, names, pairs = self.state, self.src, self.dst, self.job.target_names, len(self.src)
        while True:
            try:
                data = sock.recv(256)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue  # an ICMP error queued on the socket: the pair's own resend tells
            name, _, asked = data.rpartition(b"|")
            try:
                k = int(asked)
            except ValueError:
                continue
            if not 0 <= k < pairs or src[k] != s or state[k]:
                continue  # not ours, or a second answer to a resent request
            if name == names[dst[k]]:
                state[k] = OK
            else:
                state[k] = OTHER
                self.worker.report.answers[("udp", k)] = name.decode(errors="replace")
            j = self.position.get(k) if self.position is not None else None
            self.settle(k, time.perf_counter() - self.sent_at[j] if j is not None else None)


def denied_window() -> int:
    """How many denied connections may wait at once: what the open-files limit leaves after
    the allowed window and the endpoints."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY:
        soft = 1 << 16
    return max(256, min(8000, soft // 2 - TCP_WINDOW - 2048))
