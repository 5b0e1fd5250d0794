"""Speed and size benchmark: how long a lab takes to come up and go down, and what it costs.

Mirrors nothing in Kubernetes. It measures podnet's own bring-up and teardown the way one
would time a cluster's "time to all Pods Running": for each size (NODES x PODS_PER_NODE) a
lab named ``bench`` is brought up with :func:`podnet.controller.up` (which returns once
every Pod has been synced; the benchmark then checks that every Pod is Running and counts
them), torn down with :func:`podnet.controller.teardown`, and ``/run/netns`` is checked for
namespaces the lab left behind (an observation only: the benchmark never deletes what it
finds by name).

Memory: ``mem MB`` is the drop of ``MemAvailable`` (``/proc/meminfo``) from just before
``up`` to just after it, i.e. what the running lab costs the machine (kernel namespaces,
interfaces, routes, sockets, the lab's files in tmpfs, plus this process's growth). It is
system-wide, so other activity on the machine shows up in it too. ``rss MB`` is this
process's peak resident set (``ru_maxrss``), a high-water mark over the whole benchmark run
so far, not per size. Seconds are the best (minimum) of ``--repeat`` runs; memory is the
worst (maximum).

A size may need more than the defaults; only then does the benchmark raise kubelet's
``maxPods`` to the Pods per node and narrow ``--node-cidr-mask-size`` so a node's slice
holds them, as a cluster admin would. The default sizes use the defaults.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import signal
import sys
import threading
import time
from typing import Any, Callable, Iterable

from podnet import controller
from podnet import state as state_store
from podnet.errors import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    InputError,
    KernelError,
    LabConflict,
    PodnetError,
)
from podnet.model import RUNNING
from podnet.netns import NETNS_RUN_DIR
from podnet.spec import (
    DEFAULT_MAX_PODS,
    DEFAULT_NODE_MASK,
    MAX_NODES,
    MAX_PODS_TOTAL,
    ClusterSpec,
    spec_from_sources,
)

BENCH_LAB = "bench"
DEFAULT_SIZES = "3x2,10x10,10x100"
CNI_CHOICES = ("builtin", "bridge")
MAX_PODS_PER_NODE = 1000
MAX_REPEAT = 100
SIZES_HINT = "use NODESxPODS_PER_NODE like 10x100"

# Before the MemAvailable baseline, wait (at most this long) for the kernel to finish
# freeing the namespaces of the previous run: their cleanup is asynchronous.
SETTLE_TIMEOUT = 5.0
SETTLE_STEP = 0.25
SETTLE_TOLERANCE_KB = 2048

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_SIZE = re.compile(r"^([0-9]+)[xX]([0-9]+)$")

Progress = Callable[[str], None]

COLUMNS = ("cluster", "pods", "cni", "up s", "pods/s", "down s", "mem MB", "rss MB", "leftovers")
MATRIX_COLUMNS = ("matrix pairs", "cold s", "warm s", "us/pair")
_LEFT_ALIGNED = {"cluster", "cni"}


# --- input ------------------------------------------------------------------------------------


def parse_sizes(text: object) -> list[tuple[int, int]]:
    """``"3x2,10x100"`` -> ``[(3, 2), (10, 100)]``; InputError naming the first bad item."""
    if not isinstance(text, str) or not text.strip():
        raise InputError("sizes", text, SIZES_HINT)
    sizes = []
    for item in text.split(","):
        item = item.strip()
        match = _SIZE.match(item)
        if not match:
            raise InputError("sizes", item, SIZES_HINT)
        nodes, per_node = int(match.group(1)), int(match.group(2))
        if not (1 <= nodes <= MAX_NODES and 0 <= per_node <= MAX_PODS_PER_NODE):
            raise InputError("sizes", item, SIZES_HINT)
        if nodes * per_node > MAX_PODS_TOTAL:
            raise InputError("sizes", item, f"a lab holds at most {MAX_PODS_TOTAL} Pods ({nodes * per_node} asked)")
        sizes.append((nodes, per_node))
    return sizes


def parse_repeat(value: object) -> int:
    text = str(value).strip()
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_REPEAT:
        raise InputError("repeat", value, f"must be a whole number from 1 to {MAX_REPEAT}")
    return int(text)


def check_cni(cni: object) -> str:
    if cni not in CNI_CHOICES:
        raise InputError("cni", cni, "must be " + " or ".join(CNI_CHOICES))
    return cni  # type: ignore[return-value]


def node_mask_for(per_node: int) -> int:
    """The default node mask, or a wider slice when it cannot hold ``per_node`` Pods
    (a slice loses network, gateway and broadcast addresses)."""
    needed = 32 - math.ceil(math.log2(per_node + 3))
    return min(DEFAULT_NODE_MASK, needed)


def size_spec(nodes: int, per_node: int, cni: str = "builtin", lab: str = BENCH_LAB) -> ClusterSpec:
    """The validated spec of one benchmark size (pure: touches nothing)."""
    return spec_from_sources(None, {
        "name": lab,
        "node_count": nodes,
        "pods_per_node": per_node,
        "cni": check_cni(cni),
        "max_pods": max(DEFAULT_MAX_PODS, per_node),
        "node_cidr_mask_size": node_mask_for(per_node),
    })


def size_label(nodes: int, per_node: int) -> str:
    return f"{nodes}x{per_node}"


# --- measurements -----------------------------------------------------------------------------


def mem_available_kb() -> int:
    with open("/proc/meminfo", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1])
    raise RuntimeError("/proc/meminfo has no MemAvailable")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def leftover_namespaces(lab: str) -> list[str]:
    """Named namespaces that look like the lab's (``<lab>-*``): observed, never deleted."""
    try:
        entries = os.listdir(NETNS_RUN_DIR)
    except FileNotFoundError:
        return []
    return sorted(e for e in entries if e.startswith(lab + "-"))


def settle_memory(timeout: float = SETTLE_TIMEOUT) -> None:
    """Wait until MemAvailable stops rising (the kernel frees dead namespaces lazily)."""
    deadline = time.monotonic() + timeout
    last = mem_available_kb()
    while time.monotonic() < deadline:
        time.sleep(SETTLE_STEP)
        now = mem_available_kb()
        if abs(now - last) < SETTLE_TOLERANCE_KB:
            return
        last = now


def refuse_existing(lab: str) -> None:
    """The benchmark only ever deletes what it made: refuse if the name is taken."""
    if state_store.exists(lab):
        raise LabConflict(
            f"lab {lab!r} already exists: the benchmark will not touch it; stop it with "
            f"'podnet down --name {lab}' (or 'podnet clean --name {lab}' if it crashed) and run again"
        )
    found = leftover_namespaces(lab)
    if found:
        raise LabConflict(
            f"network namespaces named '{lab}-*' exist ({', '.join(found[:3])}"
            f"{', ...' if len(found) > 3 else ''}) but no lab {lab!r} does: the benchmark "
            "will not delete them; check 'ip netns list'"
        )


def _teardown_quietly(lab_name: str, lab: controller.Lab | None) -> None:
    """Close our handles and delete what the lab recorded, with Ctrl-C (and SIGTERM, SIGHUP)
    ignored meanwhile: the benchmark is stopping anyway, and a second Ctrl-C must not leave
    half a lab behind."""
    in_main = threading.current_thread() is threading.main_thread()
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in _STOP_SIGNALS} if in_main else {}
    try:
        if lab is not None:
            try:
                lab.close()
            except Exception:  # noqa: BLE001 - the teardown below must still run
                pass
        controller.teardown(lab_name)
    finally:
        _restore_signals(previous)


def measure_matrix(lab: controller.Lab) -> dict[str, Any]:
    """The reachability matrix, Pods only (the e2e pod-pod pairs), UDP and TCP: a cold pass
    (first contact: ARP, conntrack, socket setup) and a warm one."""
    from podnet.probes import matrix

    cold = matrix.run(lab, ("udp", "tcp"), include_nodes=False)
    warm = matrix.run(lab, ("udp", "tcp"), include_nodes=False)
    return {"matrix_pairs": len(cold.pairs) // 2, "matrix_failed": len(cold.failures) + len(warm.failures),
            "matrix_cold_s": cold.seconds, "matrix_warm_s": warm.seconds}


def measure_switch(lab: controller.Lab) -> dict[str, Any]:
    """Switch the running lab host-gw -> vxlan -> host-gw (tunnels, routes, FDB, neighbours,
    every Pod interface's MTU), timing each direction."""
    started = time.perf_counter()
    lab.switch_routing("vxlan")
    to_vxlan = time.perf_counter() - started
    started = time.perf_counter()
    lab.switch_routing("host-gw")
    return {"to_vxlan_s": to_vxlan, "to_hostgw_s": time.perf_counter() - started}


def measure_services(lab: controller.Lab, count: int) -> dict[str, Any]:
    """kube-proxy at scale: a Deployment (one replica per node, at least 3) behind ``count``
    ClusterIP Services; time to apply them (validation, allocation, every node's
    iptables-restore), a steady-state re-sync of all nodes, one endpoint churn (a Pod deleted
    and replaced, rules rewritten everywhere), and real TCP requests through a ClusterIP."""
    from podnet.workloads.client import Client
    from podnet.workloads.manifests import parse_documents

    replicas = max(3, len(lab.state.nodes))
    docs: list[dict] = [{
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bench-web"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "bench-web"}},
                 "template": {"metadata": {"labels": {"app": "bench-web"}},
                              "spec": {"containers": [{"name": "echo", "ports": [{"containerPort": 8080}]}]}}}}]
    docs += [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"bench-svc-{i}"},
              "spec": {"selector": {"app": "bench-web"}, "ports": [{"port": 80, "targetPort": 8080}]}}
             for i in range(count)]
    objects = parse_documents(docs, "bench")
    started = time.perf_counter()
    lab.apply(objects)
    apply_s = time.perf_counter() - started
    started = time.perf_counter()
    lab.sync_services()
    sync_s = time.perf_counter() - started
    victim = sorted(p.name for p in lab.state.pods.values() if p.owner == "default/bench-web")[0]
    started = time.perf_counter()
    lab.delete("pod", [victim], "default")
    churn_s = time.perf_counter() - started
    client = next(p for p in lab.state.pods.values() if p.phase == RUNNING and p.namespace == "default")
    requests = 200
    started = time.perf_counter()
    exchange = Client(lab).exchange(client.name, f"{lab.state.name}-{client.name}", client.namespace,
                                    lab.state.services["default/bench-svc-0"].cluster_ip, 80, "tcp", requests, 64, 2.0)
    request_s = time.perf_counter() - started
    ok = sum(1 for a in exchange.answers if a.status == "ok")
    return {"services": count, "svc_apply_s": apply_s, "svc_sync_s": sync_s, "svc_churn_s": churn_s,
            "svc_requests": requests, "svc_requests_ok": ok, "svc_request_ms": request_s / requests * 1000,
            "svc_backends": len({a.pod for a in exchange.answers if a.pod})}


def measure_once(spec: ClusterSpec, progress: Progress | None = None, with_matrix: bool = False,
                 with_switch: bool = False, services: int = 0) -> dict[str, Any]:
    """One up/ready/down cycle of ``spec``; everything made is torn down, whatever happens."""
    label = size_label(len(spec.nodes), len(spec.pods) // max(len(spec.nodes), 1))
    say = progress or (lambda _text: None)

    def stage(name: str, done: int, total: int) -> None:
        if done == total:
            say(f"bench {label}: up: {name} {done}/{total}")

    refuse_existing(spec.name)
    settle_memory()
    lab: controller.Lab | None = None
    avail_before = mem_available_kb()
    say(f"bench {label}: up ...")
    try:
        started = time.perf_counter()
        lab = controller.up(spec, stage)
        up_s = time.perf_counter() - started
        avail_after = mem_available_kb()
        rss = peak_rss_mb()
        pods = list(lab.state.pods.values())
        running = sum(1 for pod in pods if pod.phase == RUNNING)
        say(f"bench {label}: up {up_s:.3f} s, {running}/{len(pods)} Pods Running")
        probes = measure_matrix(lab) if with_matrix else {}
        if with_switch:
            probes.update(measure_switch(lab))
            say(f"bench {label}: routing host-gw -> vxlan {probes['to_vxlan_s']:.3f} s, back {probes['to_hostgw_s']:.3f} s")
        if services:
            probes.update(measure_services(lab, services))
            say(f"bench {label}: {services} Services: apply {probes['svc_apply_s']:.3f} s, re-sync "
                f"{probes['svc_sync_s']:.3f} s, endpoint churn {probes['svc_churn_s']:.3f} s, "
                f"{probes['svc_requests_ok']}/{probes['svc_requests']} requests at {probes['svc_request_ms']:.2f} ms")
        if "matrix_pairs" in probes:
            say(f"bench {label}: matrix {probes['matrix_pairs']} pairs x UDP+TCP: cold {probes['matrix_cold_s']:.3f} s, "
                f"warm {probes['matrix_warm_s']:.3f} s, {probes['matrix_failed']} failed")
        say(f"bench {label}: down ...")
        close_started = time.perf_counter()
        lab.close()
        close_s = time.perf_counter() - close_started
        down_started = time.perf_counter()
        report = controller.teardown(spec.name)
        down_s = time.perf_counter() - down_started
    except LabConflict:
        raise  # up refused the name before touching anything: not ours to delete
    except BaseException:
        _teardown_quietly(spec.name, lab)
        raise
    leftovers = leftover_namespaces(spec.name)
    say(f"bench {label}: down {down_s:.3f} s, {len(report.deleted)} namespaces deleted, {len(leftovers)} left")
    return {
        "up_s": up_s,
        "down_s": down_s,
        "close_s": close_s,
        "pods": len(pods),
        "running": running,
        "mem_mb": (avail_before - avail_after) / 1024.0,
        "rss_mb": rss,
        "deleted": len(report.deleted),
        "leftovers": len(leftovers),
        "leftover_names": leftovers,
        "state_left": state_store.exists(spec.name),
        **probes,
    }


def summarize(nodes: int, per_node: int, cni: str, samples: list[dict[str, Any]]) -> dict[str, Any]:
    """One row from ``repeat`` samples: best seconds, worst memory, worst counts."""
    up_s = min(s["up_s"] for s in samples)
    pods = samples[0]["pods"]
    return {
        "cluster": size_label(nodes, per_node),
        "nodes": nodes,
        "pods_per_node": per_node,
        "pods": pods,
        "running": min(s["running"] for s in samples),
        "cni": cni,
        "runs": len(samples),
        "up_s": up_s,
        "ready_s": up_s,  # up returns when every Pod has been synced
        "pods_per_s": pods / up_s if up_s > 0 else 0.0,
        "down_s": min(s["down_s"] for s in samples),
        "close_s": min(s["close_s"] for s in samples),
        "mem_mb": max(s["mem_mb"] for s in samples),
        "rss_mb": max(s["rss_mb"] for s in samples),
        "leftovers": max(s["leftovers"] for s in samples),
        "leftover_names": sorted({n for s in samples for n in s["leftover_names"]}),
        "state_left": any(s["state_left"] for s in samples),
        "up_s_all": [s["up_s"] for s in samples],
        "down_s_all": [s["down_s"] for s in samples],
        **({"matrix_pairs": samples[0]["matrix_pairs"],
            "matrix_failed": max(s["matrix_failed"] for s in samples),
            "matrix_cold_s": min(s["matrix_cold_s"] for s in samples),
            "matrix_warm_s": min(s["matrix_warm_s"] for s in samples)} if "matrix_pairs" in samples[0] else {}),
        **({"to_vxlan_s": min(s["to_vxlan_s"] for s in samples),
            "to_hostgw_s": min(s["to_hostgw_s"] for s in samples)} if "to_vxlan_s" in samples[0] else {}),
        **({"services": samples[0]["services"],
            "svc_apply_s": min(s["svc_apply_s"] for s in samples),
            "svc_sync_s": min(s["svc_sync_s"] for s in samples),
            "svc_churn_s": min(s["svc_churn_s"] for s in samples),
            "svc_requests": samples[0]["svc_requests"],
            "svc_requests_ok": min(s["svc_requests_ok"] for s in samples),
            "svc_request_ms": min(s["svc_request_ms"] for s in samples),
            "svc_backends": min(s["svc_backends"] for s in samples)} if "services" in samples[0] else {}),
    }


def run(
    sizes: list[tuple[int, int]],
    cni: str = "builtin",
    repeat: int = 1,
    progress: Progress | None = None,
    *,
    lab: str = BENCH_LAB,
    with_matrix: bool = False,
    with_switch: bool = False,
    services: int = 0,
) -> list[dict]:
    """Measure every size ``repeat`` times; one row per size (see :func:`summarize`).

    Every spec is validated before anything is created. If a run leaves anything behind,
    the benchmark stops there (the next run would be refused) and returns the rows so far.
    """
    cni = check_cni(cni)
    if isinstance(repeat, bool) or not isinstance(repeat, int) or not 1 <= repeat <= MAX_REPEAT:
        raise InputError("repeat", repeat, f"must be a whole number from 1 to {MAX_REPEAT}")
    specs = [(n, m, size_spec(n, m, cni, lab)) for n, m in sizes]
    if os.geteuid() != 0:
        raise KernelError("podnet bench needs root to create network namespaces (run it with sudo)")
    rows = []
    for nodes, per_node, spec in specs:
        samples = []
        for _ in range(repeat):
            sample = measure_once(spec, progress, with_matrix, with_switch, services)
            samples.append(sample)
            if sample["leftovers"] or sample["state_left"]:
                break
        row = summarize(nodes, per_node, cni, samples)
        rows.append(row)
        if row["leftovers"] or row["state_left"]:
            break
    return rows


# --- output -----------------------------------------------------------------------------------


def _cells(row: dict[str, Any]) -> list[str]:
    pods, running = row["pods"], row.get("running", row["pods"])
    return [
        str(row["cluster"]),
        str(pods) if running == pods else f"{running}/{pods}",
        str(row["cni"]),
        f"{row['up_s']:.3f}",
        f"{row['pods_per_s']:.0f}",
        f"{row['down_s']:.3f}",
        f"{row['mem_mb']:.1f}",
        f"{row['rss_mb']:.1f}",
        str(row["leftovers"]),
    ]


def format_table(rows: Iterable[dict[str, Any]]) -> str:
    """An aligned plain-text table, one line per size; Pods not Running show as R/N. With
    matrix figures, four columns more: pairs, cold and warm seconds, and µs per pair
    (warm, UDP and TCP together)."""
    rows = list(rows)
    columns = list(COLUMNS)
    lines = [_cells(row) for row in rows]
    if rows and all("to_vxlan_s" in row for row in rows):
        columns += ["to vxlan s", "to host-gw s"]
        for line, row in zip(lines, rows):
            line += [f"{row['to_vxlan_s']:.3f}", f"{row['to_hostgw_s']:.3f}"]
    if rows and all("services" in row for row in rows):
        columns += ["services", "apply s", "re-sync s", "churn s", "ms/request"]
        for line, row in zip(lines, rows):
            line += [str(row["services"]), f"{row['svc_apply_s']:.3f}", f"{row['svc_sync_s']:.3f}",
                     f"{row['svc_churn_s']:.3f}", f"{row['svc_request_ms']:.2f}"
                     + ("" if row["svc_requests_ok"] == row["svc_requests"] else f" ({row['svc_requests_ok']} ok)")]
    if rows and all("matrix_pairs" in row for row in rows):
        columns += list(MATRIX_COLUMNS)
        for line, row in zip(lines, rows):
            per_pair = row["matrix_warm_s"] / max(row["matrix_pairs"], 1) * 1e6
            line += [str(row["matrix_pairs"]) + ("" if not row["matrix_failed"] else f" ({row['matrix_failed']} failed)"),
                     f"{row['matrix_cold_s']:.3f}", f"{row['matrix_warm_s']:.3f}", f"{per_pair:.0f}"]
    lines = [columns] + lines
    widths = [max(len(line[i]) for line in lines) for i in range(len(columns))]
    out = []
    for line in lines:
        cells = [
            cell.ljust(width) if name in _LEFT_ALIGNED else cell.rjust(width)
            for name, cell, width in zip(columns, line, widths)
        ]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)


def format_json(rows: Iterable[dict[str, Any]]) -> str:
    return json.dumps(list(rows), indent=2)


# --- command line -----------------------------------------------------------------------------


def _stderr_progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _teardown_if_ours(lab: str) -> None:
    """After an interrupt outside :func:`run`'s own handling: delete the lab only if this
    process is recorded as its owner."""
    raw = state_store.load_raw(lab)
    if raw is not None and raw.get("ownerPid") == os.getpid():
        _teardown_quietly(lab, None)


def _raise_interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _interrupt_on_termination() -> dict[int, Any]:
    """SIGTERM and SIGHUP (``timeout``, a closed terminal) tear the lab down like Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {s: signal.signal(s, _raise_interrupt) for s in _STOP_SIGNALS if s != signal.SIGINT}


def _restore_signals(previous: dict[int, Any]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="podnet bench",
        description="Time podnet's bring-up (to all Pods Running) and teardown, and the memory a lab uses.",
    )
    parser.add_argument("--sizes", default=DEFAULT_SIZES,
                        help=f"comma-separated NODESxPODS_PER_NODE (default {DEFAULT_SIZES})")
    parser.add_argument("--cni", default="builtin", help="builtin (in-process) or bridge (the reference plugin)")
    parser.add_argument("--repeat", default="1", help="runs per size; the best time is reported (default 1)")
    parser.add_argument("--matrix", action="store_true",
                        help="also time the reachability matrix (every Pod pair, UDP and TCP, sources verified)")
    parser.add_argument("--switch-routing", action="store_true",
                        help="also time switching the running lab host-gw -> vxlan -> host-gw")
    parser.add_argument("--services", default="0",
                        help="also time N ClusterIP Services through kube-proxy's rules (apply, re-sync, churn, requests)")
    parser.add_argument("-o", "--output", default="table", choices=("table", "json"))
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--"]:
        argv = argv[1:]  # "podnet bench -- --sizes ..." hands the options on unparsed
    args = parser.parse_args(argv)
    try:
        sizes = parse_sizes(args.sizes)
        cni = check_cni(args.cni)
        repeat = parse_repeat(args.repeat)
        from podnet.addressing import parse_int

        services = parse_int("services", args.services, 0, 5000)
        for nodes, per_node in sizes:
            size_spec(nodes, per_node, cni)  # every size is valid before anything is made
    except InputError as exc:
        print(f"podnet bench: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    previous = _interrupt_on_termination()
    try:
        rows = run(sizes, cni, repeat, progress=_stderr_progress, with_matrix=args.matrix,
                   with_switch=args.switch_routing, services=services)
    except KeyboardInterrupt:
        _teardown_if_ours(BENCH_LAB)
        left = leftover_namespaces(BENCH_LAB)
        if left:
            print(f"podnet bench: interrupted; {len(left)} '{BENCH_LAB}-*' namespaces remain (see 'ip netns list')",
                  file=sys.stderr)
        else:
            print(f"podnet bench: interrupted; nothing of lab {BENCH_LAB!r} was left behind", file=sys.stderr)
        return EXIT_INTERRUPTED
    except PodnetError as exc:
        print(f"podnet bench: {exc}", file=sys.stderr)
        return exc.exit_code
    finally:
        _restore_signals(previous)
    print(format_table(rows) if args.output == "table" else format_json(rows))
    left = [row for row in rows if row.get("leftovers") or row.get("state_left")]
    if left:
        names = ", ".join(n for row in left for n in row.get("leftover_names", [])) or f"{state_store.RUN_DIR}/{BENCH_LAB}"
        print(f"podnet bench: teardown left {names} behind; stopped there", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
