"""``podnet bench --vs-floor``: the same cluster built two other ways in the same run, as floors.

Mirrors nothing in Kubernetes; it answers "how much does podnet cost over doing it by hand".
After podnet's own runs of a size, the same nodes and Pods with the same addresses (every Pod
of the lab, CoreDNS included, from the lab's own plan) are built ``--repeat`` times each as
the raw floor (:mod:`podnet.kernel.floor_ipbatch`: iproute2 batches) and with plain Mininet
(:mod:`podnet.kernel.floor_mininet`), timed up and down, and their memory measured exactly
as podnet's is (the drop of ``MemAvailable`` from just before the build to just after it,
after the kernel has settled). Each floor is verified by a ping between Pods on two nodes
before it counts. Seconds are the best of the repeats, memory the worst, as for podnet.
Deviation: the floors make only the network (no Internet, external client, kube-proxy rules,
CoreDNS server or API); podnet's figures include all of that, so a ratio is podnet's whole
bring-up over the floor's network.

Everything a floor makes is named ``pnfloor-<pid>-...`` (or lives in namespaces of processes
this process started) and is torn down whatever happens; Ctrl-C is held back between
Mininet calls and ignored during a teardown (as :func:`bench_measure.teardown_quietly` does).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from typing import Any, Callable

from podnet.cli.bench_measure import STOP_SIGNALS, Progress, mem_available_kb, restore_signals, settle_memory
from podnet.core.spec import ClusterSpec
from podnet.kernel import floor_ipbatch, floor_mininet
from podnet.kernel.floor_plan import FloorPlan, default_tag, leftover_namespaces, make_plan
from podnet.lab.bringup import planned_state
from podnet.lab.signals import held_stop_signals

FLOORS = ("ip-batch", "mininet")
RATIOS = ("up", "down", "mem")
MIN_MEM_MB = 0.5  # below this a memory figure is noise: no ratio is given


def plan_for(spec: ClusterSpec, kind: str) -> FloorPlan:
    """The lab's nodes and every Pod it will run (CoreDNS too), as a floor plan."""
    state = planned_state(spec)
    per_node = Counter(pod.node for pod in state.pods.values() if pod.node)
    nodes = sorted(state.nodes.values(), key=lambda n: n.index)
    prefix = spec.underlay_cidr.prefixlen
    return make_plan(default_tag(kind), [(n.internal_ip, prefix, n.pod_cidr) for n in nodes],
                     [per_node.get(n.name, 0) for n in nodes])


def root_links() -> set[str]:
    """Interfaces of the root namespace (a floor must add none)."""
    return set(os.listdir("/sys/class/net"))


def _quietly(action: Callable[[], Any]) -> Any:
    """Run a teardown with Ctrl-C, SIGTERM and SIGHUP ignored: a second Ctrl-C must not leave
    half a floor behind."""
    in_main = threading.current_thread() is threading.main_thread()
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in STOP_SIGNALS} if in_main else {}
    try:
        return action()
    finally:
        restore_signals(previous)


class _IpBatch:
    def __init__(self, plan: FloorPlan):
        self.plan = plan

    def build(self) -> None:
        floor_ipbatch.build(self.plan)

    def probe(self) -> str:
        return floor_ipbatch.probe(self.plan)

    def teardown(self) -> int:
        floor_ipbatch.teardown(self.plan)
        return len(leftover_namespaces(self.plan.tag + "-"))


class _Mininet:
    def __init__(self, plan: FloorPlan):
        self.plan, self.cluster = plan, floor_mininet.MininetCluster(plan)

    def build(self) -> None:
        floor_mininet.build(self.plan, self.cluster, held_stop_signals)

    def probe(self) -> str:
        return floor_mininet.probe(self.cluster)

    def teardown(self) -> int:
        return floor_mininet.teardown(self.cluster) + len(floor_mininet.running_shells(self.cluster))


def measure_floor(kind: str, spec: ClusterSpec) -> dict[str, Any]:
    """One build, probe and teardown of ``kind``; everything it made is gone afterwards."""
    plan = plan_for(spec, kind)
    floor = _IpBatch(plan) if kind == "ip-batch" else _Mininet(plan)
    settle_memory()
    links = root_links()
    avail_before = mem_available_kb()
    try:
        started = time.perf_counter()
        floor.build()
        up_s = time.perf_counter() - started
        avail_after = mem_available_kb()
        verified = floor.probe()
    except BaseException:
        _quietly(floor.teardown)
        raise
    started = time.perf_counter()
    left = _quietly(floor.teardown)
    down_s = time.perf_counter() - started
    new_links = sorted(root_links() - links)
    return {"up_s": up_s, "down_s": down_s, "mem_mb": (avail_before - avail_after) / 1024.0,
            "pods": len(plan.pods), "namespaces": len(plan.namespaces()), "verified": verified,
            "leftovers": left, "root_links_added": new_links}


def summarize_floor(samples: list[dict[str, Any]]) -> dict[str, Any]:
    return {"runs": len(samples), "up_s": min(s["up_s"] for s in samples), "down_s": min(s["down_s"] for s in samples),
            "mem_mb": max(s["mem_mb"] for s in samples), "pods": samples[0]["pods"],
            "namespaces": samples[0]["namespaces"], "verified": samples[-1]["verified"],
            "leftovers": max(s["leftovers"] for s in samples),
            "root_links_added": sorted({n for s in samples for n in s["root_links_added"]}),
            "up_s_all": [s["up_s"] for s in samples], "down_s_all": [s["down_s"] for s in samples]}


def ratios(row: dict[str, Any], floor: dict[str, Any]) -> dict[str, float | None]:
    """podnet's figure over the floor's: up and down seconds, memory held (None where the
    floor's figure is too small to divide by)."""
    out: dict[str, float | None] = {}
    for name, key, least in (("up", "up_s", 1e-6), ("down", "down_s", 1e-6), ("mem", "mem_mb", MIN_MEM_MB)):
        out[name] = row[key] / floor[key] if floor[key] >= least else None
    return out


def compare(row: dict[str, Any], spec: ClusterSpec, repeat: int, progress: Progress | None = None) -> dict[str, Any]:
    """Both floors of ``spec``, ``repeat`` times each; returns the fields added to podnet's
    row: ``floors`` (each floor's figures) and ``ratios`` (podnet over each floor)."""
    say = progress or (lambda _text: None)
    label = row["cluster"]
    floors: dict[str, Any] = {}
    for kind in FLOORS:
        samples = []
        for _ in range(repeat):
            say(f"bench {label}: {kind} floor up ...")
            sample = measure_floor(kind, spec)
            samples.append(sample)
            say(f"bench {label}: {kind} floor up {sample['up_s']:.3f} s, {sample['verified']}, down "
                f"{sample['down_s']:.3f} s, {sample['mem_mb']:.1f} MB, {sample['leftovers']} left")
            if sample["leftovers"] or sample["root_links_added"]:
                break
        floors[kind] = summarize_floor(samples)
        if floors[kind]["leftovers"] or floors[kind]["root_links_added"]:
            break
    return {"floors": floors, "ratios": {kind: ratios(row, floor) for kind, floor in floors.items()}}


def floor_left(row: dict[str, Any]) -> list[str]:
    """What a row's floors left behind, named (empty when nothing)."""
    found = []
    for kind, floor in row.get("floors", {}).items():
        if floor["leftovers"]:
            found.append(f"{floor['leftovers']} {kind} namespaces or shells")
        found += [f"root-namespace link {name} ({kind})" for name in floor["root_links_added"]]
    return found
