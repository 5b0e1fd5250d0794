"""Measuring one bring-up: time to Running, memory, teardown, and the optional probes.

Mirrors nothing in Kubernetes; see :mod:`podnet.cli.bench` for what the numbers mean. Every
lab made here is torn down, whatever happens, and only a lab this process made is ever
deleted (a taken name is refused, never cleaned).
"""

from __future__ import annotations

import os
import resource
import signal
import threading
import time
from typing import Any, Callable

from podnet.cli.bench_policies import measure_policies
from podnet.cli.bench_kubectl import run_kubectl
from podnet.cli.bench_web import run_web
from podnet.core.errors import LabConflict
from podnet.core.model import RUNNING
from podnet.core.spec import ClusterSpec
from podnet.k8s.workloads.manifests import parse_documents
from podnet.kernel import state_file
from podnet.kernel.netns import NETNS_RUN_DIR
from podnet.lab.bringup import up
from podnet.lab.session import Lab
from podnet.lab.teardown import teardown
from podnet.probes import matrix
from podnet.probes.client import Client

# Before the MemAvailable baseline, wait (at most this long) for the kernel to finish
# freeing the namespaces of the previous run: their cleanup is asynchronous.
SETTLE_TIMEOUT = 5.0
SETTLE_STEP = 0.25
SETTLE_TOLERANCE_KB = 2048
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

Progress = Callable[[str], None]


def size_label(nodes: int, per_node: int) -> str:
    return f"{nodes}x{per_node}"


def restore_signals(previous: dict[int, Any]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)


def _raise_interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def interrupt_on_termination() -> dict[int, Any]:
    """SIGTERM and SIGHUP (``timeout``, a closed terminal) end a benchmark like Ctrl-C, so
    its lab is torn down; returns the handlers to give back to :func:`restore_signals`."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {s: signal.signal(s, _raise_interrupt) for s in STOP_SIGNALS if s != signal.SIGINT}


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
    if state_file.exists(lab):
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


def teardown_quietly(lab_name: str, lab: Lab | None) -> None:
    """Close our handles and delete what the lab recorded, with Ctrl-C (and SIGTERM, SIGHUP)
    ignored meanwhile: the benchmark is stopping anyway, and a second Ctrl-C must not leave
    half a lab behind."""
    in_main = threading.current_thread() is threading.main_thread()
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in STOP_SIGNALS} if in_main else {}
    try:
        if lab is not None:
            try:
                lab.close()
            except Exception:  # noqa: BLE001 - the teardown below must still run
                pass
        teardown(lab_name)
    finally:
        restore_signals(previous)


def measure_matrix(lab: Lab) -> dict[str, Any]:
    """The reachability matrix, Pods only (the e2e pod-pod pairs), UDP and TCP: a cold pass
    (first contact: ARP, conntrack, socket setup) and a warm one."""
    cold = matrix.run(lab, ("udp", "tcp"), include_nodes=False)
    warm = matrix.run(lab, ("udp", "tcp"), include_nodes=False)
    return {"matrix_pairs": len(cold.pairs) // 2, "matrix_failed": len(cold.failures) + len(warm.failures),
            "matrix_cold_s": cold.seconds, "matrix_warm_s": warm.seconds}


def measure_switch(lab: Lab) -> dict[str, Any]:
    """Switch the running lab host-gw -> vxlan -> host-gw (tunnels, routes, FDB, neighbours,
    every Pod interface's MTU), timing each direction."""
    started = time.perf_counter()
    lab.switch_routing("vxlan")
    to_vxlan = time.perf_counter() - started
    started = time.perf_counter()
    lab.switch_routing("host-gw")
    return {"to_vxlan_s": to_vxlan, "to_hostgw_s": time.perf_counter() - started}


def measure_services(lab: Lab, count: int) -> dict[str, Any]:
    """kube-proxy at scale: a Deployment (one replica per node, at least 3) behind ``count``
    ClusterIP Services; time to apply them (validation, allocation, every node's
    iptables-restore), a steady-state re-sync of all nodes, one endpoint churn (a Pod deleted
    and replaced, rules rewritten everywhere), and real TCP requests through a ClusterIP."""
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


def pod_count(spec: ClusterSpec) -> int:
    """The spec's Pods, whether listed or made by its Deployments."""
    replicas = sum(doc.get("spec", {}).get("replicas", 0) for doc in spec.workloads
                   if isinstance(doc, dict) and doc.get("kind") == "Deployment")
    return len(spec.pods) + replicas


def measure_once(spec: ClusterSpec, progress: Progress | None = None, with_matrix: bool = False,
                 with_switch: bool = False, services: int = 0, policies: int = 0, web: int = 0,
                 kubectl: bool = False) -> dict[str, Any]:
    """One up/ready/down cycle of ``spec``; everything made is torn down, whatever happens."""
    label = size_label(len(spec.nodes), pod_count(spec) // max(len(spec.nodes), 1))
    say = progress or (lambda _text: None)

    def stage(name: str, done: int, total: int) -> None:
        if done == total:
            say(f"bench {label}: up: {name} {done}/{total}")

    refuse_existing(spec.name)
    settle_memory()
    lab: Lab | None = None
    avail_before = mem_available_kb()
    say(f"bench {label}: up ...")
    try:
        started = time.perf_counter()
        lab = up(spec, stage)
        up_s = time.perf_counter() - started
        avail_after = mem_available_kb()
        rss = peak_rss_mb()
        pods = list(lab.state.pods.values())
        running = sum(1 for pod in pods if pod.phase == RUNNING)
        say(f"bench {label}: up {up_s:.3f} s, {running}/{len(pods)} Pods Running")
        probes = _measure_running(lab, label, say, with_matrix, with_switch, services)
        if policies:
            probes.update(measure_policies(lab, policies, lambda text: say(f"{label} {text}")))
        if web:
            probes.update(run_web(lab, web, lambda text: say(f"{label} {text}")))
        if kubectl:
            probes.update(run_kubectl(lab, lambda text: say(f"{label} {text}")))
        say(f"bench {label}: down ...")
        close_started = time.perf_counter()
        lab.close()
        close_s = time.perf_counter() - close_started
        down_started = time.perf_counter()
        report = teardown(spec.name)
        down_s = time.perf_counter() - down_started
    except LabConflict:
        raise  # up refused the name before touching anything: not ours to delete
    except BaseException:
        teardown_quietly(spec.name, lab)
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
        "state_left": state_file.exists(spec.name),
        **probes,
    }


def _measure_running(lab: Lab, label: str, say, with_matrix: bool, with_switch: bool, services: int) -> dict[str, Any]:
    """What else the run asked to time on the running lab: matrix, routing switch, Services."""
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
    return probes
