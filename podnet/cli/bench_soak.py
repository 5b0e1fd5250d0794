"""``podnet bench --soak SECONDS``: Services under continuous endpoint churn and continuous requests.

Mirrors a Service soak test of a real cluster. A lab of NODES x PODS_PER_NODE Pods (10x10 by
default, ``--cni builtin``) runs a client Deployment (a Pod per node, at most a fifth of the
Pods) and backend Deployments ``web-0`` .. ``web-9`` (echo servers on 8080/TCP and UDP);
``--soak-services`` ClusterIP Services (port 80, TCP and UDP) select one backend Deployment
each, round robin, through the lab's real kube-proxy iptables rules. For SECONDS seconds:

* churn: every ``--soak-churn-ms`` ms one backend Pod falls due for deletion (as ``podnet
  delete pod``: its Deployment replaces it under a new name and IP). While the lab converges
  on one batch, the Pods falling due wait and go together in the next one, as kube-proxy
  coalesces changes (``minSyncPeriod``); a batch takes at most a third of a Deployment's Pods,
  so no Service runs dry. Pods due and Pods deleted are both reported;
* load: 16 client threads send one request at a time from the client Pods' namespaces to
  the ClusterIPs (TCP and UDP in turn, at most REQUEST_RATE = 200 a second in all, 1 s each),
  and check each answer for a Pod that was behind that Service, the whole payload echoed
  and the client Pod's own source address; every 5 s the lab's API server lists every Pod.

The convergence window of a batch is measured: from the moment its Pods are deleted (the
kubelet removes their sandboxes first) until ``delete`` returns, after kube-proxy's
``iptables-restore`` has removed their endpoints on every node (one node's nat table is read
back after each batch to prove it). A failed request is allowed only if it was in flight
during the window of a batch that took a backend of its Service, and a window may last at
most WINDOW_BOUND_S = 60 s. A wrong answer is never allowed. Memory: the RSS of podnet's
processes (this one, those in the lab's namespaces, the lab's API server) may grow by at most
RSS_BOUND_MB = 64 MB and MemAvailable fall by at most MEM_AVAILABLE_BOUND_MB = 1024 MB from
the middle to the end (the first half is warm-up: caches, the API server's watch history,
conntrack tables fill to a steady state; MemAvailable is system-wide, so it is judged only
when no other lab's namespaces came or went meanwhile);
open descriptors may grow by at most FD_BOUND = 64 and the lab's namespaces not at all from
start to end. Anything else (a failure outside a window, a window over its bound, a stale
rule, growth over a bound, an API error, anything left behind) makes the bench exit 1.
Deviation: a real kubelet keeps a terminating Pod serving through its grace period while
kube-proxy removes its endpoint; podnet's removes the sandbox first, so the window is real.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from podnet.cli.bench_kubectl import measure_lists
from podnet.cli.bench_measure import (
    interrupt_on_termination, leftover_namespaces, refuse_existing, restore_signals, size_label, teardown_quietly,
)
from podnet.cli.bench_soak_load import (  # noqa: F401 - format_soak is this module's too
    Caller, Load, Target, Window, fd_total, format_soak, judge, others_steady, problems, rss_total, sample,
    window_share,
)
from podnet.core.addressing import parse_int
from podnet.core.errors import (
    EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, InputError, KernelError, LabConflict, PodnetError,
)
from podnet.core.model import RUNNING
from podnet.core.naming import check_lab_name, netns_name
from podnet.core.spec import MAX_NODES, ClusterSpec
from podnet.core.topology import spec_from_sources
from podnet.k8s.workloads.manifests import parse_documents
from podnet.kernel import iptables, state_file
from podnet.lab import apiserver
from podnet.lab.bringup import up
from podnet.lab.teardown import teardown

SOAK_LAB = "soak"
DEFAULT_SERVICES = 100
DEFAULT_CHURN_MS = 100
MAX_SOAK_S = 86_400
MAX_SERVICES = 5000
CHURN_MS_RANGE = (10, 60_000)
MAX_PODS_PER_NODE = 100  # kubelet's default maxPods (110) holds them and CoreDNS
MAX_GROUPS = 10
CNI_CHOICES = ("builtin", "bridge")
REQUEST_RATE = 200.0
REQUEST_TIMEOUT_S = 1.0
CLIENT_THREADS = 16
PROGRESS_EVERY_S = 5.0
WINDOW_BOUND_S = 60.0
RSS_BOUND_MB = 64.0
MEM_AVAILABLE_BOUND_MB = 1024.0
FD_BOUND = 64
SEED = 14

Progress = Callable[[str], None]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--soak", default="0", metavar="SECONDS",
                        help="also soak a lab for SECONDS: ClusterIP Services under endpoint churn and continuous "
                             "requests; failures only inside the convergence window, no memory or descriptor growth "
                             "(default 0: off)")
    parser.add_argument("--soak-services", default=str(DEFAULT_SERVICES), metavar="N",
                        help=f"ClusterIP Services in the soak (default {DEFAULT_SERVICES})")
    parser.add_argument("--soak-churn-ms", default=str(DEFAULT_CHURN_MS), metavar="MS",
                        help=f"delete a backend Pod every MS milliseconds during the soak (default {DEFAULT_CHURN_MS})")


def _whole(field: str, value: object, low: int, high: int) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not text.isascii() or not text.isdigit():
        raise InputError(field, value, f"must be a whole number from {low} to {high}")
    return parse_int(field, text, low, high)


def parse_soak(args: argparse.Namespace) -> tuple[int, int, int] | None:
    """``(seconds, services, churn_ms)``, or None when the soak is off; InputError for a bad value."""
    seconds = _whole("soak", args.soak, 0, MAX_SOAK_S)
    services = _whole("soak-services", args.soak_services, 1, MAX_SERVICES)
    churn_ms = _whole("soak-churn-ms", args.soak_churn_ms, *CHURN_MS_RANGE)
    return None if seconds == 0 else (seconds, services, churn_ms)


# --- the lab's workloads (pure) ---------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    nodes: int
    per_node: int
    clients: int
    groups: tuple[int, ...]  # replicas of web-0, web-1, ...
    services: int


def plan(nodes: int, per_node: int, services: int) -> Plan:
    label = size_label(nodes, per_node)
    if not (1 <= nodes <= MAX_NODES and 1 <= per_node <= MAX_PODS_PER_NODE):
        raise InputError("sizes", label, f"a soak runs on 1 to {MAX_NODES} nodes of 1 to {MAX_PODS_PER_NODE} Pods")
    total = nodes * per_node
    clients = max(1, min(nodes, total // 5))
    backends = total - clients
    if backends < 2:
        raise InputError("sizes", label, "a soak needs at least 3 Pods (a client and two backends)")
    count = max(1, min(MAX_GROUPS, services, backends // 2))
    groups = tuple(backends // count + (1 if g < backends % count else 0) for g in range(count))
    return Plan(nodes, per_node, clients, groups, services)


def _deployment(name: str, replicas: int, labels: dict[str, str], ports: list[dict]) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "echo", "ports": ports}]}}}}


def workload_docs(layout: Plan) -> list[dict]:
    ports = [{"containerPort": 8080, "protocol": "TCP"}, {"containerPort": 8080, "protocol": "UDP"}]
    docs = [_deployment("client", layout.clients, {"app": "soak-client"}, [])]
    docs += [_deployment(f"web-{g}", replicas, {"app": "soak-web", "group": str(g)}, ports)
             for g, replicas in enumerate(layout.groups)]
    return docs


def service_docs(layout: Plan) -> list[dict]:
    ports = [{"name": "tcp", "port": 80, "targetPort": 8080, "protocol": "TCP"},
             {"name": "udp", "port": 80, "targetPort": 8080, "protocol": "UDP"}]
    return [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"soak-{i}"},
             "spec": {"selector": {"app": "soak-web", "group": str(i % len(layout.groups))}, "ports": ports}}
            for i in range(layout.services)]


def soak_spec(layout: Plan, cni: str, lab: str) -> ClusterSpec:
    if cni not in CNI_CHOICES:
        raise InputError("cni", cni, "must be " + " or ".join(CNI_CHOICES))
    return spec_from_sources(None, {"name": lab, "node_count": layout.nodes, "pods_per_node": 0, "cni": cni,
                                    "workloads": workload_docs(layout)})


def _group(owner: str | None) -> int | None:
    prefix = "default/web-"
    return int(owner[len(prefix):]) if owner and owner.startswith(prefix) else None


# --- churn --------------------------------------------------------------------------------------


class Churn:
    """Deletes backend Pods on schedule, in batches when the lab is slower than the schedule,
    and records each batch's convergence window."""

    def __init__(self, lab, layout: Plan, churn_ms: int, known: dict[int, set[str]]):
        self.lab, self.churn_s, self.known = lab, churn_ms / 1000.0, known
        self.caps = {g: max(1, replicas // 3) for g, replicas in enumerate(layout.groups)}
        self.rng = random.Random(SEED)
        self.windows: list[Window] = []
        self.deleted = self.rule_checks = self.stale_rules = 0
        self._turn = 0

    def run(self, started: float, seconds: float, at_middle: Callable[[], None]) -> None:
        deadline, middle = started + seconds, started + seconds / 2
        middle_done = False
        while (now := time.monotonic()) < deadline:
            if not middle_done and now >= middle:
                at_middle()
                middle_done = True
            due = int((now - started) / self.churn_s) - self.deleted
            if due <= 0:
                wake = started + (self.deleted + 1) * self.churn_s
                time.sleep(max(0.0, min(wake, deadline, middle if not middle_done else deadline) - now))
                continue
            self.batch(due)
        if not middle_done:
            at_middle()

    def _pick(self, count: int) -> list[str]:
        """Up to ``count`` Running backends, one Deployment after another, at most its cap each."""
        pods = self.lab.state.pods.values()
        pools = {g: sorted(p.name for p in pods if _group(p.owner) == g and p.phase == RUNNING) for g in self.caps}
        taken = {g: 0 for g in self.caps}
        victims: list[str] = []
        groups = len(self.caps)
        for _ in range(sum(self.caps.values())):
            group = self._turn % groups
            self._turn += 1
            if taken[group] < self.caps[group] and len(pools[group]) > 1:
                victims.append(pools[group].pop(self.rng.randrange(len(pools[group]))))
                taken[group] += 1
            if len(victims) >= count:
                break
        return victims

    def batch(self, count: int) -> None:
        victims = self._pick(count)
        if not victims:
            return
        state = self.lab.state
        ips = {state.pods[name].ip for name in victims}
        groups = frozenset(_group(state.pods[name].owner) for name in victims)
        started = time.monotonic()
        result = self.lab.delete("pod", victims, "default")
        self.windows.append(Window(started, time.monotonic(), groups))
        self.deleted += len(victims)
        for name in result.created_pods:
            group = _group(self.lab.state.pods[name].owner) if name in self.lab.state.pods else None
            if group is not None:
                self.known[group].add(name)
        self._check_rules(ips)

    def _check_rules(self, ips: set[str | None]) -> None:
        """Read one node's nat table back (a different node each batch): no DNAT to a deleted
        Pod's address may remain, unless a current Pod holds that address again."""
        state = self.lab.state
        nodes = sorted(state.nodes)
        node = nodes[len(self.windows) % len(nodes)]
        text = iptables.save(netns_name(state.name, node), "nat")
        held = {p.ip for p in state.pods.values()}
        self.rule_checks += 1
        self.stale_rules += sum(1 for ip in ips if ip and ip not in held and f"--to-destination {ip}:" in text)


# --- the run --------------------------------------------------------------------------------------


def run_soak(seconds: int, services: int, churn_ms: int, progress: Progress | None, sizes: tuple[int, int] = (10, 10),
             cni: str = "builtin", *, lab: str = SOAK_LAB) -> dict[str, Any]:
    """Bring the soak's lab up, soak it for ``seconds``, tear it down; one JSON-able row.
    Everything is validated before anything is made; whatever happens (Ctrl-C, SIGTERM, an
    error), the lab is torn down before this returns or raises."""
    _whole("soak", seconds, 1, MAX_SOAK_S)
    _whole("soak-churn-ms", churn_ms, *CHURN_MS_RANGE)
    layout = plan(sizes[0], sizes[1], _whole("soak-services", services, 1, MAX_SERVICES))
    spec = soak_spec(layout, cni, lab)
    if os.geteuid() != 0:
        raise KernelError("podnet bench --soak needs root to create network namespaces (run it with sudo)")
    say = progress or (lambda _text: None)
    label = size_label(*sizes)
    refuse_existing(lab)
    previous = interrupt_on_termination()
    handle = None
    try:
        say(f"soak {label}: up ...")
        started = time.perf_counter()
        handle = up(spec, api=apiserver.DEFAULT_LISTEN)
        up_s = time.perf_counter() - started
        row = _soak(handle, layout, seconds, churn_ms, lambda text: say(f"soak {label}: {text}"))
        row.update(cluster=label, cni=cni, up_s=up_s)
        say(f"soak {label}: down ...")
        handle.close()
        report = teardown(lab)
    except LabConflict:
        raise  # refused before anything was made: not ours to delete
    except BaseException:
        teardown_quietly(lab, handle)
        raise
    finally:
        restore_signals(previous)
    row.update(deleted_namespaces=len(report.deleted), leftover_names=leftover_namespaces(lab),
               state_left=state_file.exists(lab))
    row["leftovers"] = len(row["leftover_names"])
    row["problems"] = problems(row)
    row["ok"] = not row["problems"]
    say(f"soak {label}: down, {row['deleted_namespaces']} namespaces deleted, {row['leftovers']} left")
    return row


def _soak(lab, layout: Plan, seconds: int, churn_ms: int, say: Progress) -> dict[str, Any]:
    started = time.perf_counter()
    lab.apply(parse_documents(service_docs(layout), "soak"))
    apply_s = time.perf_counter() - started
    measure_lists(lab.state.name, rounds=1)  # wakes the (socket-activated) API server: its memory is watched
    state = lab.state
    callers = [Caller(p.name, netns_name(state.name, p.name), p.namespace, p.ip or "")
               for p in sorted(state.pods.values(), key=lambda p: p.name) if p.owner == "default/client"]
    targets = [Target(s.name, i % len(layout.groups), s.cluster_ip)
               for i, s in enumerate(state.services[f"default/soak-{n}"] for n in range(layout.services))]
    known = {g: {p.name for p in state.pods.values() if _group(p.owner) == g} for g in range(len(layout.groups))}
    say(f"{layout.services} Services applied in {apply_s:.2f} s; {len(callers)} clients, "
        f"{sum(layout.groups)} backends in {len(layout.groups)} Deployments; soaking {seconds} s")
    load = Load(lab, callers, targets, known, REQUEST_RATE, int(seconds * REQUEST_RATE) + 1, REQUEST_TIMEOUT_S,
                CLIENT_THREADS)
    churn = Churn(lab, layout, churn_ms, known)
    begun = time.monotonic()
    samples: dict[str, dict] = {}
    done = threading.Event()
    api = {"lists": 0, "failed": 0, "list_ms_max": 0.0}
    reporter = threading.Thread(target=_report_every, args=(done, load, churn, api, begun, seconds, say), daemon=True)
    def now() -> dict:  # start and end are taken with no request in flight, the middle under load
        return sample(state.name, list(lab.state.namespaces), begun)

    samples["start"] = now()
    load.start()
    try:
        reporter.start()
        churn.run(begun, seconds, lambda: samples.setdefault("middle", now()))
        elapsed = time.monotonic() - begun
    finally:
        stopped = load.finish(REQUEST_TIMEOUT_S + 5.0)
        done.set()
        if reporter.is_alive():
            reporter.join(35.0)  # its API request has a 30 s timeout
    samples["end"] = now()
    row = _summary(layout, seconds, churn_ms, (begun, elapsed), apply_s, load, churn,
                   judge(load.records, churn.windows, known), samples, stopped)
    row.update(api_lists=api["lists"], api_lists_failed=api["failed"], api_list_ms_max=api["list_ms_max"])
    return row


def _report_every(done: threading.Event, load: Load, churn: Churn, api: dict[str, float], begun: float, seconds: int,
                  say: Progress) -> None:
    """Every PROGRESS_EVERY_S: ask the lab's API server for every Pod (as ``kubectl get pods -A``
    would: a client watching keeps it serving while the state churns), then one progress line."""
    while not done.wait(PROGRESS_EVERY_S):
        try:
            listed = measure_lists(churn.lab.state.name, rounds=1)["api_list_ms"]
            api["lists"] += 1
            api["list_ms_max"] = max(api["list_ms_max"], listed)
        except Exception:  # noqa: BLE001 - counted and reported; the soak goes on
            api["failed"] += 1
        total = load.totals()
        last = churn.windows[-1] if churn.windows else None
        say(f"{time.monotonic() - begun:.0f}/{seconds} s: {total.sent} requests, {total.answered} answered, "
            f"{total.failed} failed; {churn.deleted} Pods deleted in {len(churn.windows)} batches"
            + (f", last window {(last.end - last.start) * 1000:.0f} ms" if last else ""))


def _summary(layout: Plan, seconds: int, churn_ms: int, run: tuple[float, float], apply_s: float, load: Load,
             churn: Churn, verdict: dict[str, int], samples: dict[str, dict], stopped: bool) -> dict[str, Any]:
    begun, elapsed = run
    total = load.totals()
    windows = [(w.end - w.start) * 1000.0 for w in churn.windows]
    start, middle, end = samples["start"], samples["middle"], samples["end"]
    return {
        "nodes": layout.nodes, "pods_per_node": layout.per_node, "services": layout.services,
        "clients": layout.clients, "backends": sum(layout.groups), "deployments": len(layout.groups),
        "soak_s": seconds, "elapsed_s": elapsed, "svc_apply_s": apply_s, "churn_ms": churn_ms,
        "requests_sent": total.sent, "requests_answered": total.answered, "requests_failed": total.failed,
        "wrong_answers": total.wrong + verdict["wrong_backend"],
        "failed_in_window": verdict["inside"], "failed_outside_window": verdict["outside"],
        "by_protocol": {p: vars(t) for p, t in load.tallies.items()},
        "request_rate_limit": REQUEST_RATE, "request_timeout_s": REQUEST_TIMEOUT_S,
        "pods_deleted": churn.deleted, "pods_due": int(elapsed * 1000 // churn_ms), "batches": len(churn.windows),
        "churn_every_ms": elapsed * 1000 / churn.deleted if churn.deleted else 0.0,
        "window_ms_median": statistics.median(windows) if windows else 0.0,
        "window_ms_max": max(windows, default=0.0), "window_bound_ms": WINDOW_BOUND_S * 1000,
        "windows_over_bound": sum(1 for w in windows if w > WINDOW_BOUND_S * 1000),
        "window_share": window_share(churn.windows, begun, begun + elapsed),
        "rule_checks": churn.rule_checks, "stale_rules": churn.stale_rules,
        "samples": samples,
        "rss_growth_mb": rss_total(end) - rss_total(middle), "rss_bound_mb": RSS_BOUND_MB,
        "mem_available_drop_mb": middle["mem_available_mb"] - end["mem_available_mb"],
        "mem_available_bound_mb": MEM_AVAILABLE_BOUND_MB, "mem_available_judged": others_steady(middle, end),
        "fd_growth": fd_total(end) - fd_total(start), "fd_bound": FD_BOUND,
        "namespace_growth": end["lab_namespaces"] - start["lab_namespaces"],
        "clients_stopped": stopped,
    }


# --- on its own: python -m podnet.cli.bench_soak --soak SECONDS ---------------------------------


def _size(text: object) -> tuple[int, int]:
    nodes, sep, per_node = str(text).lower().partition("x")
    if not sep or not (nodes.isascii() and nodes.isdigit() and per_node.isascii() and per_node.isdigit()):
        raise InputError("size", text, "use NODESxPODS_PER_NODE like 10x10")
    return int(nodes), int(per_node)


def main(argv: list[str] | None = None) -> int:
    """The soak alone (``podnet bench --soak`` runs the same): exit 0 when it passed, 1 when it
    did not, 2 for bad input, 130 when interrupted (the lab is torn down either way)."""
    parser = argparse.ArgumentParser(prog="python -m podnet.cli.bench_soak", description="podnet's soak benchmark")
    add_arguments(parser)
    parser.add_argument("--size", default="10x10", help="NODESxPODS_PER_NODE (default 10x10)")
    parser.add_argument("--cni", default="builtin", help="builtin or bridge")
    parser.add_argument("--name", default=SOAK_LAB, help=f"the lab's name (default {SOAK_LAB})")
    parser.add_argument("-o", "--output", default="table", choices=("table", "json"))
    args = parser.parse_args(argv)
    try:
        asked = parse_soak(args)
        if asked is None:
            raise InputError("soak", args.soak, "give the seconds to soak, from 1")
        sizes, lab = _size(args.size), check_lab_name(args.name)
        soak_spec(plan(*sizes, asked[1]), args.cni, lab)
    except InputError as exc:
        print(f"podnet bench: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        row = run_soak(*asked, lambda text: print(text, file=sys.stderr, flush=True), sizes, args.cni, lab=lab)
    except KeyboardInterrupt:
        left = leftover_namespaces(lab)
        print(f"podnet bench: soak interrupted; {len(left)} '{lab}-*' namespaces left behind", file=sys.stderr)
        return EXIT_INTERRUPTED
    except PodnetError as exc:
        print(f"podnet bench: {exc}", file=sys.stderr)
        return exc.exit_code
    print(format_soak(row) if args.output == "table" else json.dumps(row, indent=2))
    return EXIT_OK if row["ok"] else EXIT_FAILED


if __name__ == "__main__":
    raise SystemExit(main())
