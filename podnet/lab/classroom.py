"""A class of labs: one lab per student, planned, brought up and taken down in parallel, and
every lab on the machine with its owner, age, size and health.

Mirrors what a training platform does with kind (``kind create cluster --name alice`` per
student, ``kind get clusters``) and containerlab's ``inspect --all``: each student's lab is a
complete podnet lab of its own, named ``<prefix>-<student>`` (``stu-01``, ``stu-alice``), with
the same addresses as every other one and nothing shared. Deviations: labs are brought up by
children forked from this process (the package is imported once, not thirty times), at most a
few at once; a class is the set of labs whose names carry its prefix (there is no roster
object); the owner is the user who ran ``sudo`` to bring the lab up, as its processes recorded
it in their environment (``SUDO_USER``), else their login uid, else the owner of the lab's
directory; memory held is the proportional set size (Pss) of the lab's processes, not the
kernel memory of its namespaces.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import select
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

from podnet.core.change import quiet
from podnet.core.errors import InputError, LabConflict
from podnet.core.model import RUNNING
from podnet.core.naming import LAB_NAME_MAX, UNDERLAY_NAME, check_dns1123_label, netns_name
from podnet.core.spec import ClusterSpec
from podnet.kernel import netns, state_file
from podnet.lab import apiserver
from podnet.lab.bringup import up as bring_up
from podnet.lab.signals import STOP_SIGNALS
from podnet.lab.teardown import stale_labs, teardown

MAX_STUDENTS = 60
DEFAULT_PREFIX = "stu"
RESERVED_PREFIXES = {"lab": "podnet lab start names its labs lab-NN"}
_NUMBER = re.compile(r"^[0-9]+$")
_UNSET_LOGINUID = 4294967295


@dataclass(frozen=True)
class Seat:
    """One student of a class and the lab that is theirs."""

    student: str
    lab: str


# -- planning: who is in the class, and what their labs are called -------------------------------

def check_prefix(prefix: object) -> str:
    """A class prefix: a DNS-1123 label that leaves room for ``-NN`` in a lab name."""
    value = check_dns1123_label("prefix", prefix, LAB_NAME_MAX - 3)
    if value in RESERVED_PREFIXES:
        raise InputError("prefix", value, f"is taken ({RESERVED_PREFIXES[value]}): pick another, e.g. {DEFAULT_PREFIX}")
    return value


def numbered_seats(prefix: str, count: object) -> list[Seat]:
    """``count`` students ``01``..``NN``: labs ``<prefix>-01``..``<prefix>-NN``."""
    text = str(count).strip()
    if not _NUMBER.match(text) or not 1 <= int(text) <= MAX_STUDENTS:
        raise InputError("students", count, f"must be a number of students from 1 to {MAX_STUDENTS}, "
                         "or a file with one student name per line")
    return [Seat(f"{i:02d}", f"{prefix}-{i:02d}") for i in range(1, int(text) + 1)]


def named_seats(prefix: str, source: str, lines: list[str]) -> list[Seat]:
    """One student per line (blank lines and ``#`` comments skipped); every name is checked
    before anything exists, and the first bad one is named with its line."""
    seats: list[Seat] = []
    seen: dict[str, int] = {}
    room = LAB_NAME_MAX - len(prefix) - 1
    for number, line in enumerate(lines, 1):
        name = line.strip()
        if not name or name.startswith("#"):
            continue
        where = f"{source}: line {number}"
        check_dns1123_label(where, name, room)
        if name in seen:
            raise InputError(where, name, f"is already the student of line {seen[name]}: every student once")
        seen[name] = number
        seats.append(Seat(name, f"{prefix}-{name}"))
    if not seats:
        raise InputError("students", source, "names no student (one name per line)")
    if len(seats) > MAX_STUDENTS:
        raise InputError("students", source, f"names {len(seats)} students: at most {MAX_STUDENTS}")
    return seats


def class_seats(prefix: str) -> list[Seat]:
    """The labs on this machine that belong to the class ``prefix`` (named ``<prefix>-...``)."""
    start = prefix + "-"
    return [Seat(name[len(start):], name) for name in state_file.list_labs() if name.startswith(start)]


def default_parallel(down: bool = False) -> int:
    """How many labs are brought up (one per core, at least two: more contend for the kernel's
    namespace and netlink locks and were slower when measured) or taken down (four per core:
    a teardown mostly waits for its processes to end) at once."""
    per_core, most = (4, 16) if down else (1, 8)
    return max(2, min(most, per_core * (os.cpu_count() or 1)))


# -- forked children, a bounded pool ------------------------------------------------------------

@dataclass
class _Child:
    index: int
    pid: int
    fd: int
    started: float
    data: bytes = b""


def _interrupt(_signum, _frame):
    raise KeyboardInterrupt


@dataclass
class ForkPool:
    """Run ``work(item)`` (a JSON-able dict back) in a child forked per item, at most ``limit``
    at once; each child is a process group of its own, so a Ctrl-C in the terminal reaches
    this process only, which then ends the children with one SIGTERM each (:meth:`stop`).
    ``interruptible=False`` children keep stop signals blocked (a teardown finishes)."""

    work: Callable[[object], dict]
    limit: int
    on_done: Callable[[int, dict], None] | None = None
    interruptible: bool = True
    results: dict[int, dict] = field(default_factory=dict)
    launched: set[int] = field(default_factory=set)
    _running: dict[int, _Child] = field(default_factory=dict)

    def run(self, items: list) -> list[dict]:
        pending = list(enumerate(items))
        while pending or self._running:
            while pending and len(self._running) < self.limit:
                self._start(*pending.pop(0))
            self._wait_some()
        return [self.results[i] for i in range(len(items))]

    def stop(self) -> None:
        """SIGTERM every child still running, and wait for each (they clean up after themselves)."""
        for child in self._running.values():
            try:
                os.kill(child.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        while self._running:
            self._wait_some()

    def _start(self, index: int, item: object) -> None:
        read_end, write_end = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        # no stop signal between the fork and the bookkeeping: every child is known to stop()
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            pid = os.fork()
            if pid == 0:
                os.close(read_end)
                for other in self._running.values():
                    os.close(other.fd)
                self._child(item, write_end)
            os.close(write_end)
            os.set_blocking(read_end, False)
            self._running[pid] = _Child(index, pid, read_end, time.monotonic())
            self.launched.add(index)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)

    def _child(self, item: object, write_end: int) -> None:
        result: dict = {"error": "the child ended before it reported"}
        code = 1
        try:
            os.setpgid(0, 0)
            if self.interruptible:
                signal.signal(signal.SIGINT, _interrupt)
                for sig in (signal.SIGTERM, signal.SIGHUP):
                    signal.signal(sig, _interrupt)
                signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
            else:
                signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
            result, code = self.work(item), 0
        except KeyboardInterrupt:
            result, code = {"error": "interrupted", "interrupted": True}, 130
        except BaseException as exc:  # reported to the parent, which prints it
            result = {"error": str(exc) or type(exc).__name__, "errorType": type(exc).__name__}
            code = int(getattr(exc, "exit_code", 1))
        finally:
            try:
                os.write(write_end, (json.dumps(result) + "\n").encode())
            finally:
                os._exit(code)

    def _wait_some(self) -> None:
        try:
            ready, _, _ = select.select([c.fd for c in self._running.values()], [], [], 0.05)
        except InterruptedError:
            ready = []
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)  # a reaped child is always recorded
        try:
            for child in list(self._running.values()):
                if child.fd in ready:
                    self._drain(child)
                try:
                    pid, status = os.waitpid(child.pid, os.WNOHANG)
                except ChildProcessError:
                    pid, status = child.pid, -1
                if pid:
                    self._finish(child, os.waitstatus_to_exitcode(status) if status >= 0 else -1)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)

    @staticmethod
    def _drain(child: _Child) -> None:
        while True:
            try:
                chunk = os.read(child.fd, 65536)
            except BlockingIOError:
                return
            if not chunk:
                return
            child.data += chunk

    def _finish(self, child: _Child, code: int) -> None:
        self._drain(child)
        os.close(child.fd)
        del self._running[child.pid]
        lines = child.data.decode(errors="replace").strip().splitlines()
        try:
            result = json.loads(lines[-1]) if lines else {}
        except ValueError:
            result = {}
        if not result:
            result = {"error": f"the child process exited with {code} before it reported"}
        result.update(seconds=round(time.monotonic() - child.started, 2), exit=code)
        self.results[child.index] = result
        if self.on_done:
            self.on_done(child.index, result)


# -- a class up and down ------------------------------------------------------------------------

def _up_one(spec: ClusterSpec, api: str | None) -> dict:
    lab = bring_up(spec, quiet, detached=True, api=api)
    try:
        pods = list(lab.state.pods.values())
        return {"status": "up", "nodes": len(lab.state.nodes), "pods": len(pods),
                "running": sum(1 for p in pods if p.phase == RUNNING)}
    finally:
        lab.close()


def _down_one(name: str) -> dict:
    existed = state_file.exists(name)
    report = teardown(name)
    return dict(report.to_json(), existed=existed, status="down" if existed else "not running")


def bring_up_class(plan: list[tuple[Seat, ClusterSpec]], api: str | None, limit: int,
                   on_done: Callable[[Seat, dict], None] | None = None) -> list[dict]:
    """Bring every planned lab up, ``limit`` at once; one result per seat, in order. A lab
    that failed is gone again (its bring-up removed what it made). Interrupted (Ctrl-C,
    SIGTERM), every lab this call started is taken down before the interrupt goes on."""
    pool = ForkPool(lambda item: _up_one(item[1], api), limit,
                    (lambda i, result: on_done(plan[i][0], result)) if on_done else None)
    try:
        results = pool.run(plan)
    except BaseException:
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)  # a second Ctrl-C waits for the cleanup
        try:
            pool.stop()
            started = [plan[i][0].lab for i in sorted(pool.launched) if not _refused(pool.results.get(i))]
            take_down([name for name in started if state_file.exists(name)], limit)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        raise
    # a child killed half-way (not by us) leaves its claim: remove it, it is this class's
    leftovers = [seat.lab for (seat, _), r in zip(plan, results) if "error" in r and not _refused(r)]
    take_down([name for name in leftovers if state_file.exists(name)], limit)
    return results


def _refused(result: dict | None) -> bool:
    """The lab's name or a namespace was someone else's: nothing of it is ours to remove."""
    return bool(result) and result.get("errorType") == LabConflict.__name__


def take_down(names: list[str], limit: int, on_done: Callable[[str, dict], None] | None = None) -> list[dict]:
    """Tear the labs ``names`` down, ``limit`` at once; Ctrl-C waits until they are gone."""
    if not names:
        return []
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        pool = ForkPool(_down_one, limit, (lambda i, r: on_done(names[i], r)) if on_done else None,
                        interruptible=False)
        return pool.run(list(names))
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


# -- every lab on the machine: owner, age, size, health -----------------------------------------

def lab_rows(names: list[str] | None = None, now: float | None = None) -> list[dict]:
    """One summary per lab (all labs of this run directory, or ``names``)."""
    names = state_file.list_labs() if names is None else names
    now = time.time() if now is None else now
    stale = set(stale_labs())
    raws = {name: state_file.load_raw(name) or {} for name in names}
    held = _processes_of(raws)
    return [_row(name, raws[name], name in stale, held.get(name, []), now) for name in names]


def _row(name: str, raw: dict, stale: bool, pids: list[int], now: float) -> dict:
    pods = raw.get("pods", [])
    running = sum(1 for p in pods if p.get("phase") == RUNNING)
    created = raw.get("created")
    created = created if isinstance(created, (int, float)) else now - state_file.age(name)
    gone = [ns for ns in _expected_namespaces(name, raw) if not netns.exists(ns)]
    return {
        "name": name, "owner": _owner(name, raw, pids), "status": raw.get("status", "unknown"),
        "health": _health(raw, stale, len(pods) - running, len(gone)), "created": created,
        "ageSeconds": round(max(now - created, 0.0), 1), "nodes": len(raw.get("nodes", [])), "pods": len(pods),
        "running": running, "namespacesGone": len(gone), "processes": len(pids),
        "memoryBytes": sum(_pss(pid) for pid in pids), "cni": raw.get("spec", {}).get("cni"),
        "detached": raw.get("detached", False), "stale": stale,
    }


def _health(raw: dict, stale: bool, not_running: int, gone: int) -> str:
    if stale:
        return "stale: its owner is gone (podnet clean removes it)"
    if raw.get("status") != "running":
        return "starting"
    problems = []
    if not_running:
        problems.append(f"{not_running} Pod{'s' if not_running > 1 else ''} not Running")
    if gone:
        problems.append(f"{gone} namespace{'s' if gone > 1 else ''} gone")
    return "degraded: " + ", ".join(problems) if problems else "Running"


def _expected_namespaces(name: str, raw: dict) -> list[str]:
    """What a running lab's state says exists: the underlay, every node, every Running Pod."""
    if raw.get("status") != "running":
        return []
    return ([netns_name(name, UNDERLAY_NAME)] + [netns_name(name, n["name"]) for n in raw.get("nodes", [])]
            + [netns_name(name, p["name"]) for p in raw.get("pods", []) if p.get("phase") == RUNNING])


def _processes_of(raws: dict[str, dict]) -> dict[str, list[int]]:
    """Each lab's processes: everything inside its namespaces, and its API server."""
    owner_of: dict[int, str] = {}
    for name, raw in raws.items():
        for ns in raw.get("namespaces", []):
            ino = netns.inode(ns)
            if ino is not None:
                owner_of[ino] = name
    held: dict[str, list[int]] = {}
    for pid, ino in netns.pids_in(owner_of).items():
        held.setdefault(owner_of[ino], []).append(pid)
    for name in raws:
        try:
            with open(os.path.join(apiserver.directory(name), "process.json"), encoding="utf-8") as handle:
                server = json.load(handle)
        except (OSError, ValueError):
            continue
        if isinstance(server, dict) and netns.is_same_process(server.get("pid"), server.get("start")):
            held.setdefault(name, []).insert(0, server["pid"])
    return held


def _pss(pid: int) -> int:
    """Proportional set size of one process in bytes (shared pages split among their users)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _owner(name: str, raw: dict, pids: list[int]) -> str:
    """Who brought the lab up: a recorded owner, else the ``SUDO_USER`` its processes inherited
    from ``podnet up``, else their login uid, else the owner of the lab's directory."""
    recorded = raw.get("owner")
    if isinstance(recorded, str) and recorded:
        return recorded
    for pid in pids:
        user = _sudo_user(pid) or _login_user(pid)
        if user:
            return user
    try:
        return _user_name(os.stat(state_file.LabPaths(name).root).st_uid)
    except OSError:
        return "unknown"


def _sudo_user(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            variables = handle.read().split(b"\0")
    except OSError:
        return None
    for entry in variables:
        if entry.startswith(b"SUDO_USER="):
            value = entry[len(b"SUDO_USER="):].decode(errors="replace")
            return value if value.isprintable() and 0 < len(value) <= 64 else None
    return None


def _login_user(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/loginuid", encoding="ascii") as handle:
            uid = int(handle.read().strip())
    except (OSError, ValueError):
        return None
    return None if uid in (_UNSET_LOGINUID, 0) else _user_name(uid)


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)
