"""What the reachability matrix's workers share: the job, the shared memory, the reports.

Mirrors the e2e framework's hand-off to its netexec test Pods and back: which endpoint
serves which target, which client asks which pairs, and what each saw. Deviation: the job
is inherited through fork, the workers claim its units (one source, one expectation) one at
a time from a counter in memory mapped MAP_SHARED before the fork, results come back in that
memory (a byte per pair and protocol, a word per UDP pair), and only what needs text comes
back pickled.
"""

from __future__ import annotations

import ctypes
import mmap
import os
from array import array
from dataclasses import dataclass, field
from typing import Callable

from podnet.kernel.netns import netns_path

CLONE_NEWNET = 0x40000000
CLIENT_PORTS = (20000, 60000)  # TCP client ports, one per pair, clear of the endpoints' ports
OK, OTHER, FAILED = 1, 2, 3  # a pair's state byte; 0: no answer (yet)
_libc = ctypes.CDLL(None, use_errno=True)


@dataclass
class Job:
    """Everything a worker needs, inherited through fork (nothing is pickled going in)."""

    source_names: list[str]
    source_netns: list[str | None]
    target_netns: list[str | None]
    target_ips: list[str]
    target_names: list[bytes]
    src: object  # array('i'): each pair's source index
    dst: object  # array('i'): each pair's target index
    protocols: tuple[str, ...]
    ports: dict[str, int]
    expected: dict[str, bytearray]  # per protocol, one byte per pair: 1 allowed, 0 denied
    timeout: float
    workers: int = 2
    # where this run's client ports start: a new offset each run, as fresh ephemeral ports would
    # be, so no connection meets the conntrack entry of the run before (which could carry its
    # verdict, e.g. ESTABLISHED through a policy that was repaired since)
    port_offset: int = 0

    def client_port(self, k: int) -> int:
        """TCP pair ``k``'s client port: a port of its own, so the endpoint's record of
        (address, port) names the pair even after a source NAT that keeps ports."""
        return CLIENT_PORTS[0] + (k + self.port_offset) % (CLIENT_PORTS[1] - CLIENT_PORTS[0])

    def __post_init__(self) -> None:
        self.units = {proto: self._units(proto) for proto in self.protocols}

    def _units(self, proto: str) -> tuple[array, array]:
        """The pairs of ``proto`` in the order they run (denied pairs first, so their wait for
        silence overlaps the allowed pairs' work), cut into units of one source and one
        expectation: (order, bounds), unit u being order[bounds[u]:bounds[u + 1]]."""
        allowed, src = self.expected[proto], self.src
        if all(allowed):
            order = array("i", range(len(src)))
        else:
            order = array("i", [k for k in range(len(src)) if not allowed[k]])
            order.extend(k for k in range(len(src)) if allowed[k])
        bounds, last = array("i"), None
        for i, k in enumerate(order):
            if (src[k], allowed[k]) != last:
                bounds.append(i)
                last = (src[k], allowed[k])
        bounds.append(len(order))
        return order, bounds


class Shared:
    """Memory the workers write and the caller reads: made before fork (MAP_SHARED)."""

    def __init__(self, pairs: int, targets: int, workers: int):
        sizes = {"udp": pairs, "tcp": pairs, "seen": 4 * pairs, "failed": targets, "progress": 4 * 2 * workers,
                 "claimed": 4 * 2, "done": workers}
        self._map = mmap.mmap(-1, max(1, sum(sizes.values())))
        view, offset = memoryview(self._map), 0
        self._views = []
        for name, size in sizes.items():
            part = view[offset:offset + size]
            if name in ("seen", "progress", "claimed"):
                part = part.cast("I")
            setattr(self, name, part)
            self._views.append(part)
            offset += size
        self._views.append(view)
        self.state = {"udp": self.udp, "tcp": self.tcp}
        self._lock_r, self._lock_w = os.pipe()  # a one-byte token: whoever holds it may claim
        os.write(self._lock_w, b"t")

    def claim(self, proto: str, units: int) -> int | None:
        """The next unit of ``proto`` no worker has taken yet (None: all are taken). Units are
        claimed one at a time as a worker gets free, so both cores stay busy to the end."""
        os.read(self._lock_r, 1)
        try:
            number = self.claimed[proto == "tcp"]
            if number >= units:
                return None
            self.claimed[proto == "tcp"] = number + 1
            return number
        finally:
            os.write(self._lock_w, b"t")

    def close(self) -> None:
        for part in self._views:
            part.release()
        self._map.close()
        os.close(self._lock_r)
        os.close(self._lock_w)


@dataclass
class Report:
    """What a worker hands back besides the shared memory."""

    addresses: dict[int, str] = field(default_factory=dict)  # address id -> address
    errors: dict[tuple[str, int], str] = field(default_factory=dict)  # (protocol, pair) -> why
    answers: dict[tuple[str, int], str] = field(default_factory=dict)  # another workload's name
    tcp_seen: list[int] = field(default_factory=list)  # (target, address id, port) triples
    tcp_ports: dict[int, int] = field(default_factory=dict)  # pair -> client port, where not the planned one
    untried: list[int] = field(default_factory=list)  # TCP pairs not started before the deadline
    listen_errors: dict[int, str] = field(default_factory=dict)  # target -> why it could not listen
    problems: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # phase -> seconds, for benchmarks


class Namespaces:
    """Entering a namespace from a worker (single-threaded after fork: setns is its own)."""

    def __init__(self) -> None:
        self.home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)

    def run_in(self, name: str | None, func: Callable):
        if name is None:
            raise OSError("no network namespace (not Running?)")
        fd = os.open(netns_path(name), os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(fd)
        finally:
            os.close(fd)
        try:
            return func()
        finally:
            _setns(self.home)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")
