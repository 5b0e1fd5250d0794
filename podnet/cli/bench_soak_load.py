"""The soak benchmark's moving parts: client load through ClusterIPs, the convergence windows
that judge its failures, and samples of memory and open descriptors.

Mirrors what a Service's clients meet while its endpoints churn (the e2e "Services should
work after the endpoints change" idea, run continuously): client Pods send real TCP and UDP
requests to ClusterIPs (:class:`podnet.probes.client.Client`, from the client Pod's own
network namespace, so the node's kube-proxy rules DNAT them) and every answer must name a
Pod that was a backend of that Service, and must have seen the client's own Pod IP (no SNAT).
Deviation: the clients are threads of the benchmark's process, not programs inside the Pods.

A failure is *inside the convergence window* when the request was in flight at some moment
between the start of a churn batch (the API removes the victims, the kubelet tears their
sandboxes down) and the end of that batch (kube-proxy has rewritten every node's rules) and
a victim of that batch was a backend of the Service asked. Any other failure is outside it.
"""

from __future__ import annotations

import bisect
import itertools
import json
import os
import threading
import time
from dataclasses import dataclass, field

from podnet.cli.bench_measure import leftover_namespaces, mem_available_kb
from podnet.kernel import netns, state_file
from podnet.kernel.netns import NETNS_RUN_DIR
from podnet.lab import apiserver
from podnet.probes.client import Client

PROTOCOLS = ("tcp", "udp")
SERVICE_PORT = 80
REQUEST_BYTES = 64
MAX_RECORDS = 200_000  # failures and not-yet-known answers kept for judging (the rest: counted)


@dataclass(frozen=True)
class Caller:
    """A client Pod: its name, network namespace, Kubernetes namespace and IP."""
    pod: str
    netns: str
    namespace: str
    ip: str


@dataclass(frozen=True)
class Target:
    """One Service of the soak: which backend group it selects, and its ClusterIP."""
    service: str
    group: int
    cluster_ip: str


@dataclass(frozen=True)
class Window:
    """One churn batch: when it started and ended (monotonic seconds), which groups lost a Pod."""
    start: float
    end: float
    groups: frozenset[int]


@dataclass
class Tally:
    sent: int = 0
    answered: int = 0
    failed: int = 0
    wrong: int = 0  # answered, but not by a backend of the Service (or with the source rewritten)


@dataclass
class Records:
    """What a request thread keeps for judging after the run (bounded by MAX_RECORDS)."""
    failures: list[tuple[float, float, int, str]] = field(default_factory=list)  # start, end, group, why
    unknown: list[tuple[float, float, int, str]] = field(default_factory=list)  # start, end, group, pod
    dropped: int = 0  # records not kept: judged as outside the window


@dataclass(frozen=True)
class _ClientSide:
    """What :class:`~podnet.probes.client.Client` uses of a lab: its state and a namespace worker."""
    state: object
    worker: netns.NetnsWorker


class Load:
    """Request threads: each sends one request at a time, round robin over every (client,
    Service, protocol), at most ``rate`` requests per second in all, until stopped or
    ``limit`` requests have been sent."""

    def __init__(self, lab, callers: list[Caller], targets: list[Target], known: dict[int, set[str]],
                 rate: float, limit: int, timeout: float, threads: int):
        self._worker = netns.NetnsWorker()  # its own: the clients never queue behind the kubelet's work
        self._client = Client(_ClientSide(lab.state, self._worker))
        self.callers, self.targets, self.known = callers, targets, known
        self.rate, self.limit, self.timeout = rate, limit, timeout
        self.tallies = {p: Tally() for p in PROTOCOLS}
        self.records = Records()
        self.stop = threading.Event()
        self._next = itertools.count()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(threads,), name=f"soak-client-{i}", daemon=True)
                         for i in range(threads)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def finish(self, timeout: float) -> bool:
        """Stop and wait (at most ``timeout`` s); True when every thread has ended."""
        self.stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        ended = not any(t.is_alive() for t in self._threads)
        if ended:
            self._worker.close()
        return ended

    def totals(self) -> Tally:
        total = Tally()
        for tally in self.tallies.values():
            total.sent += tally.sent
            total.answered += tally.answered
            total.failed += tally.failed
            total.wrong += tally.wrong
        return total

    def _run(self, threads: int) -> None:
        interval = threads / self.rate
        due = time.monotonic()
        while not self.stop.is_set():
            number = next(self._next)
            if number >= self.limit:
                return
            pair, protocol = divmod(number, len(PROTOCOLS))
            caller = self.callers[pair % len(self.callers)]
            target = self.targets[(pair // len(self.callers)) % len(self.targets)]
            self._one(caller, target, PROTOCOLS[protocol])
            due += interval
            pause = due - time.monotonic()
            if pause > 0:
                self.stop.wait(pause)
            else:
                due = time.monotonic()  # behind: no burst to catch up

    def _one(self, caller: Caller, target: Target, protocol: str) -> None:
        tally = self.tallies[protocol]
        started = time.monotonic()
        try:
            exchange = self._client.exchange(caller.pod, caller.netns, caller.namespace, target.cluster_ip,
                                             SERVICE_PORT, protocol, 1, REQUEST_BYTES, self.timeout)
            answer = exchange.answers[0] if exchange.answers else None
        except Exception:  # noqa: BLE001 - e.g. the client's namespace is gone: a failed request
            answer = None
        ended = time.monotonic()
        with self._lock:
            tally.sent += 1
            if answer is None or answer.status != "ok":
                tally.failed += 1
                why = answer.status if answer is not None else "no request"
                self._keep(self.records.failures, (started, ended, target.group, why))
                return
            tally.answered += 1
            if answer.echoed is not True or not (answer.client or "").startswith(caller.ip + ":"):
                tally.wrong += 1  # the payload did not come back whole, or the source was rewritten
            elif answer.pod not in self.known[target.group]:
                self._keep(self.records.unknown, (started, ended, target.group, answer.pod or ""))

    def _keep(self, where: list, record: tuple) -> None:
        if len(where) < MAX_RECORDS:
            where.append(record)
        else:
            self.records.dropped += 1


def judge(records: Records, windows: list[Window], known: dict[int, set[str]]) -> dict[str, int]:
    """Failed requests inside and outside the convergence windows, and wrong answers. An
    answer from a Pod not yet known when it came (a replacement made during its batch) is
    checked against every backend the group ever had; one from a Pod never behind the Service
    is a wrong answer, which no window excuses (a deleted backend cannot answer at all)."""
    starts = [w.start for w in windows]
    inside = sum(1 for started, ended, group, _why in records.failures
                 if _in_window(started, ended, group, windows, starts))
    return {"inside": inside, "outside": len(records.failures) - inside + records.dropped,
            "wrong_backend": sum(1 for _s, _e, group, pod in records.unknown if pod not in known[group])}


def window_share(windows: list[Window], begun: float, ended: float) -> float:
    """The part of the soak during which some batch was converging (0..1)."""
    return sum(w.end - w.start for w in windows) / (ended - begun) if ended > begun else 0.0


def _in_window(started: float, ended: float, group: int, windows: list[Window], starts: list[float]) -> bool:
    """Did [started, ended] meet a window of a batch that took a Pod of ``group``? Batches run
    one after another, so windows are sorted by start and by end alike."""
    index = bisect.bisect_right(starts, ended) - 1
    while index >= 0 and windows[index].end >= started:
        if group in windows[index].groups:
            return True
        index -= 1
    return False


# --- stopping ---------------------------------------------------------------------------------


# --- memory and descriptors -------------------------------------------------------------------


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def apiserver_pid(lab: str) -> int | None:
    """The lab's API server process, from the file :mod:`podnet.lab.apiserver` writes (and
    only while that PID is still the process it started)."""
    try:
        with open(os.path.join(apiserver.directory(lab), "process.json"), encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not netns.is_same_process(data.get("pid"), data.get("start")):
        return None
    return data["pid"]


def sample(lab: str, namespaces: list[str], started: float) -> dict[str, float]:
    """RSS and open descriptors of this process, of the processes inside the lab's namespaces
    (the Pods' servers, CoreDNS) and of the lab's API server; and MemAvailable."""
    inodes = {ino for ino in (netns.inode(ns) for ns in namespaces) if ino is not None}
    inside = sorted(netns.pids_in(inodes))
    server = apiserver_pid(lab)
    me = os.getpid()
    return {
        "at_s": round(time.monotonic() - started, 1),
        "self_rss_mb": _rss_kb(me) / 1024.0,
        "self_fds": _fds(me),
        "lab_processes": len(inside),
        "lab_rss_mb": sum(_rss_kb(pid) for pid in inside) / 1024.0,
        "lab_fds": sum(_fds(pid) for pid in inside),
        "apiserver_rss_mb": _rss_kb(server) / 1024.0 if server else 0.0,
        "apiserver_fds": _fds(server) if server else 0,
        "mem_available_mb": mem_available_kb() / 1024.0,
        "lab_namespaces": len(leftover_namespaces(lab)),  # /run/netns/<lab>-*
        "machine_namespaces": _all_namespaces(),  # everyone's: other labs coming and going move MemAvailable
    }


def _all_namespaces() -> int:
    try:
        return len(os.listdir(NETNS_RUN_DIR))
    except OSError:
        return 0


def others_steady(middle: dict, end: dict) -> bool:
    """Whether the namespaces of everything else on the machine stayed as many from the middle
    to the end: only then is the fall of MemAvailable (system-wide) taken as the lab's."""
    return middle["machine_namespaces"] - middle["lab_namespaces"] == end["machine_namespaces"] - end["lab_namespaces"]


def rss_total(s: dict) -> float:
    return s["self_rss_mb"] + s["lab_rss_mb"] + s["apiserver_rss_mb"]


def fd_total(s: dict) -> int:
    return s["self_fds"] + s["lab_fds"] + s["apiserver_fds"]


# --- verdict and report -----------------------------------------------------------------------


def problems(row: dict) -> list[str]:
    """Why the soak failed (empty: it passed)."""
    found = []
    if not row["requests_sent"] or not row["requests_answered"]:
        found.append(f"{row['requests_sent']} requests sent, {row['requests_answered']} answered")
    if row["failed_outside_window"]:
        found.append(f"{row['failed_outside_window']} requests failed outside the convergence window")
    if row["windows_over_bound"]:
        found.append(f"{row['windows_over_bound']} convergence windows longer than {row['window_bound_ms'] / 1000:g} s")
    if row["stale_rules"]:
        found.append(f"{row['stale_rules']} deleted Pods still had DNAT rules after their batch")
    if row["rss_growth_mb"] > row["rss_bound_mb"]:
        found.append(f"RSS grew {row['rss_growth_mb']:.1f} MB from the middle to the end "
                     f"(bound {row['rss_bound_mb']:g})")
    if row["mem_available_judged"] and row["mem_available_drop_mb"] > row["mem_available_bound_mb"]:
        found.append(f"MemAvailable fell {row['mem_available_drop_mb']:.1f} MB from the middle to the end "
                     f"(bound {row['mem_available_bound_mb']:g})")
    if row["wrong_answers"]:
        found.append(f"{row['wrong_answers']} answers came from a Pod not behind the Service, or with the payload "
                     "cut or the source rewritten")
    if row["namespace_growth"]:
        found.append(f"the lab's namespaces in /run/netns went from {row['samples']['start']['lab_namespaces']} to "
                     f"{row['samples']['end']['lab_namespaces']}")
    if row["fd_growth"] > row["fd_bound"]:
        found.append(f"open descriptors grew by {row['fd_growth']} (bound {row['fd_bound']})")
    if row.get("api_lists_failed"):
        found.append(f"the lab's API server failed {row['api_lists_failed']} of "
                     f"{row['api_lists'] + row['api_lists_failed']} Pod lists")
    if not row["clients_stopped"]:
        found.append("a client thread did not stop")
    if row.get("leftovers") or row.get("state_left"):
        found.append(f"teardown left {', '.join(row.get('leftover_names') or [state_file.RUN_DIR])} behind")
    return found


def _aligned(lines: list[list[str]]) -> list[str]:
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                      for i, (cell, w) in enumerate(zip(line, widths))).rstrip() for line in lines]


def _request_lines(row: dict) -> list[str]:
    lines = [["requests", "sent", "answered", "failed", "in window", "outside window", "wrong answers"]]
    for protocol, tally in row["by_protocol"].items():
        lines.append([protocol.upper(), str(tally["sent"]), str(tally["answered"]), str(tally["failed"]), "", "", ""])
    lines.append(["all", str(row["requests_sent"]), str(row["requests_answered"]), str(row["requests_failed"]),
                  str(row["failed_in_window"]), str(row["failed_outside_window"]), str(row["wrong_answers"])])
    return _aligned(lines)


def _resource_lines(row: dict) -> list[str]:
    s = [row["samples"][k] for k in ("start", "middle", "end")]

    def cells(name: str, values: list[float], digits: int) -> list[str]:
        return [name] + [f"{v:.{digits}f}" for v in values]

    lines = [["resources", f"start {s[0]['at_s']:.0f} s", f"middle {s[1]['at_s']:.0f} s", f"end {s[2]['at_s']:.0f} s",
              "growth", "bound"],
             cells("RSS of podnet's processes MB", [rss_total(x) for x in s], 1)
             + [f"{row['rss_growth_mb']:+.1f} middle->end", f"{row['rss_bound_mb']:g}"],
             cells("  this process", [x["self_rss_mb"] for x in s], 1) + ["", ""],
             cells(f"  lab processes ({s[2]['lab_processes']})", [x["lab_rss_mb"] for x in s], 1) + ["", ""],
             cells("  API server", [x["apiserver_rss_mb"] for x in s], 1) + ["", ""],
             cells("MemAvailable MB", [x["mem_available_mb"] for x in s], 0)
             + [f"{-row['mem_available_drop_mb']:+.0f} middle->end" + _unjudged(row),
                f"-{row['mem_available_bound_mb']:g}"],
             cells("open descriptors", [fd_total(x) for x in s], 0) + [f"{row['fd_growth']:+d} start->end",
                                                                       str(row["fd_bound"])],
             cells("  this process", [x["self_fds"] for x in s], 0) + ["", ""],
             cells("  lab processes", [x["lab_fds"] for x in s], 0) + ["", ""],
             cells("  API server", [x["apiserver_fds"] for x in s], 0) + ["", ""],
             cells("lab namespaces in /run/netns", [x["lab_namespaces"] for x in s], 0)
             + [f"{row['namespace_growth']:+d} start->end", "0"]]
    return _aligned(lines)


def _unjudged(row: dict) -> str:
    if row["mem_available_judged"]:
        return ""
    counts = [row["samples"][k]["machine_namespaces"] - row["samples"][k]["lab_namespaces"] for k in ("middle", "end")]
    return f" (not judged: other labs' namespaces {counts[0]} -> {counts[1]})"


def format_soak(row: dict) -> str:
    """The soak as people read it: requests, churn and its windows, resources, the verdict."""
    head = (f"soak {row['cluster']} (cni {row['cni']}): {row['soak_s']} s ({row['elapsed_s']:.1f} s run), "
            f"{row['services']} ClusterIP Services over {row['backends']} backend Pods in {row['deployments']} "
            f"Deployments, {row['clients']} client Pods; up {row['up_s']:.2f} s, Services applied in "
            f"{row['svc_apply_s']:.2f} s")
    churn = (f"churn: {row['pods_deleted']} Pods deleted of {row['pods_due']} due "
             f"(one every {row['churn_ms']} ms asked, "
             f"one every {row['churn_every_ms']:.0f} ms done) in {row['batches']} batches")
    window = (f"convergence window (Pods deleted -> their endpoints gone from every node's rules): median "
              f"{row['window_ms_median']:.0f} ms, max {row['window_ms_max']:.0f} ms, "
              f"bound {row['window_bound_ms']:.0f} ms, {row['windows_over_bound']} over; batches converging "
              f"{row['window_share'] * 100:.0f}% of the time; nat rules read back after {row['rule_checks']} batches: "
              f"{row['stale_rules']} stale")
    load = (f"requests: at most {row['request_rate_limit']:.0f}/s, {row['request_timeout_s']:g} s each; a failure is "
            "allowed only while a batch that took a backend of its Service converges")
    verdict = "result: PASS" if row["ok"] else "result: FAIL: " + "; ".join(row["problems"])
    api = (f"API server: {row['api_lists']} Pod lists answered during the soak (one every 5 s, slowest "
           f"{row['api_list_ms_max']:.0f} ms), {row['api_lists_failed']} failed")
    teardown = f"down: {row['deleted_namespaces']} namespaces deleted, {row['leftovers']} left behind"
    return "\n".join([head, load, *_request_lines(row), churn, window, api, *_resource_lines(row), teardown, verdict])
