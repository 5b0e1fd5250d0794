"""The processes that run the reachability matrix: one per core, each both endpoint and client.

Mirrors the e2e Granular Checks' test Pods: a netexec endpoint in every target Pod and a
client in every source, all talking at once. Deviation: the sockets of every namespace are
opened by (at most) two forked worker processes that enter each namespace once with
``setns`` and drive everything with epoll. Each worker serves the endpoints of half the
targets and runs the clients of whichever sources it claims next while any are left, so
both cores carry the kernel's packet work (which runs in the context of whoever sends) to
the end. Results go into shared memory (one byte per pair and protocol, one word per UDP
pair for the address the endpoint saw); what needs text (errors, wrong answers) and the TCP
endpoints' records come back pickled through a pipe.
"""

from __future__ import annotations

import gc
import os
import pickle
import resource
import select
import signal
import time
from typing import Callable

from podnet.probes.matrix_clients import UdpClients
from podnet.probes.matrix_endpoints import Endpoints
from podnet.probes.matrix_job import Job, Namespaces, Report, Shared
from podnet.probes.matrix_tcp import TcpClients

class Worker:
    """One worker's event loop: its endpoints, then its clients protocol by protocol, then
    its endpoints again until every worker's clients are done."""

    def __init__(self, job: Job, w: int, shared: Shared, report: Report, spaces: Namespaces):
        self.job, self.w, self.shared, self.report, self.spaces = job, w, shared, report, spaces
        self.ep = select.epoll()
        self.handlers: dict[int, Callable[[int], None]] = {}
        self.fallback: Callable[[int, int], None] = lambda _fd, _events: None
        self.addresses: dict[str, int] = {}
        self.endpoints = Endpoints(self)

    def address_id(self, address: str) -> int:
        """A small number for an address (unique across workers, never 0)."""
        number = self.addresses.get(address)
        if number is None:
            number = self.addresses[address] = self.w + self.job.workers * len(self.addresses) + 1
        return number

    def watch(self, sock, handler: Callable[[int], None]) -> None:
        self.handlers[sock.fileno()] = handler
        self.ep.register(sock.fileno(), select.EPOLLIN)

    def listen(self) -> None:
        self.endpoints.open()

    def run(self) -> None:
        for proto in self.job.protocols:
            started = time.perf_counter()
            client = UdpClients(self) if proto == "udp" else TcpClients(self)
            while not client.finished():
                self.poll(client.step())
            self.shared.progress[2 * self.w + (proto == "tcp")] = len(client.mine)
            self.report.timings[proto] = time.perf_counter() - started
        self.shared.done[self.w] = 1
        started = time.perf_counter()
        deadline = time.monotonic() + self.job.timeout * 3 + 30 + len(self.job.src) / 2000
        while not all(self.shared.done) and time.monotonic() < deadline:
            self.poll(0.005)  # the other workers' clients still need these endpoints
        self.report.timings["serving"] = time.perf_counter() - started
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self.report.timings.update(user=usage.ru_utime, system=usage.ru_stime)
        self.report.addresses = {number: address for address, number in self.addresses.items()}

    def poll(self, timeout: float) -> None:
        handlers, fallback = self.handlers, self.fallback
        for fd, events in self.ep.poll(timeout):
            handler = handlers.get(fd)
            if handler is not None:
                handler(fd)
            else:
                fallback(fd, events)


def worker_count() -> int:
    try:
        return max(1, min(2, len(os.sched_getaffinity(0))))
    except OSError:
        return 1


def run(job: Job, progress: Callable[[int, int], None] | None = None) -> tuple[Shared, list[Report]]:
    """Fork the workers, start them together once every endpoint listens, and collect."""
    shared = Shared(len(job.src), len(job.target_ips), job.workers)
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    children: list[tuple[int, int]] = []
    try:
        for w in range(job.workers):
            out_r, out_w = os.pipe()
            pid = os.fork()
            if pid == 0:
                _child(job, w, shared, ready_w, go_r, out_w)
            os.close(out_w)
            children.append((pid, out_r))
        os.close(ready_w)
        os.close(go_r)
        ready_w = go_r = -1
        _await_ready(ready_r, job.workers, job.timeout + 30)
        try:
            os.write(go_w, b"g" * job.workers)
        except BrokenPipeError:
            pass  # every worker is gone already: their reports say why
        return shared, _collect(job, shared, children, progress)
    finally:
        for fd in (ready_r, ready_w, go_r, go_w):
            if fd >= 0:
                os.close(fd)
        for pid, out_r in children:
            _end(pid, out_r)


def _await_ready(fd: int, count: int, limit: float) -> None:
    got, deadline = 0, time.monotonic() + limit
    poller = select.poll()  # not select(): a big lab's process holds descriptors past 1024
    poller.register(fd, select.POLLIN)
    while got < count and time.monotonic() < deadline:
        if poller.poll(500):
            chunk = os.read(fd, count)
            if not chunk:
                return  # a worker died before it listened; its report says why
            got += len(chunk)


def _collect(job: Job, shared: Shared, children, progress) -> list[Report]:
    """Read every worker's report (EOF ends one), updating progress as the pairs finish."""
    buffers = {out_r: [] for _pid, out_r in children}
    open_fds = set(buffers)
    total = len(job.src) * len(job.protocols)
    deadline = time.monotonic() + job.timeout * 3 + 30 + total / 2000
    poller = select.poll()
    for fd in open_fds:
        poller.register(fd, select.POLLIN)
    while open_fds and time.monotonic() < deadline:
        for fd, _events in poller.poll(100):
            chunk = os.read(fd, 1 << 20)
            if chunk:
                buffers[fd].append(chunk)
            else:
                open_fds.discard(fd)
                poller.unregister(fd)
        if progress:
            progress(sum(shared.progress), total)
    reports = []
    for w, (_pid, out_r) in enumerate(children):
        try:
            report = pickle.loads(b"".join(buffers[out_r]))
        except Exception:  # noqa: BLE001 - a worker that died or was cut off mid-report
            report = Report(problems=[f"matrix worker {w} did not report (it died or ran past the deadline)"])
        reports.append(report)
    return reports


def _end(pid: int, out_r: int) -> None:
    """Close our end and reap the worker (ours, by PID), killing it if it is still there."""
    try:
        os.close(out_r)
    except OSError:
        pass
    try:
        if os.waitpid(pid, os.WNOHANG) == (0, 0):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _child(job: Job, w: int, shared: Shared, ready_w: int, go_r: int, out_w: int) -> None:
    """A worker's whole life: it never returns into the caller."""
    status = 0
    report = Report()
    try:
        gc.disable()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        worker = Worker(job, w, shared, report, Namespaces())
        worker.listen()
        os.write(ready_w, b"r")
        if os.read(go_r, 1):
            worker.run()
    except BaseException as exc:  # noqa: BLE001 - a child must never return into the caller
        status = 1
        report.problems.append(f"matrix worker {w} failed: {type(exc).__name__}: {exc}")
    finally:
        try:
            data = pickle.dumps(report, protocol=pickle.HIGHEST_PROTOCOL)
            view = memoryview(data)
            while view:
                view = view[os.write(out_w, view):]
        finally:
            os._exit(status)
