"""``podnet bench --class N``: a whole class on one machine, timed and weighed.

Mirrors nothing in Kubernetes; it answers the instructor's question "can this server hold my
class": ``N`` labs of the default topology (3 nodes, 2 Pods each, CoreDNS) with the web
Service (``topologies/workloads/web.yaml``: three echo Pods behind a ClusterIP and a NodePort
Service, and a client Pod) are brought up as ``podnet class up`` does (forked children, a
bounded number at once, :mod:`podnet.lab.classroom`), then every lab's full matrix (every Pod
and node to every Pod, UDP and TCP, names and sources verified) runs while all the others
keep running, then the class goes down as ``podnet class down`` does.

"up s" is the wall time from the first fork to the last lab up; "mem MB" the drop of
``MemAvailable`` from before the class to after it (one second after the last lab, so that
every server has started), the whole class's cost to the machine; "down s" the wall time of
the parallel teardown. Labs are named ``bclass-NN``; every one that exists afterwards, and
every namespace named after one, is reported as left behind (observed, never deleted by name).
Deviation from the instructor's class: the labs' API servers are socket-activated and stay
idle here (no kubectl connects), as they do until a student's first kubectl command.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

from podnet.cli.bench_measure import Progress, leftover_namespaces, mem_available_kb, settle_memory
from podnet.cli.common import TOPOLOGIES_DIR
from podnet.core import topology
from podnet.core.errors import InputError
from podnet.k8s.workloads.manifests import read_documents
from podnet.kernel import state_file
from podnet.lab import apiserver, classroom

CLASS_PREFIX = "bclass"
MAX_CLASS = classroom.MAX_STUDENTS
WEB_MANIFEST = os.path.join(TOPOLOGIES_DIR, "workloads", "web.yaml")
MATRIX_TIMEOUT = 300
AFTER_UP_S = 1.0


def check_class(value: object) -> int:
    text = str(value).strip()
    if not text.isdigit() or not 0 <= int(text) <= MAX_CLASS:
        raise InputError("class", value, f"must be a number of labs from 1 to {MAX_CLASS} (0: no class benchmark)")
    return int(text)


def class_plan(count: int) -> list[tuple[classroom.Seat, Any]]:
    """Every lab's spec: the default topology with the web Service, validated first."""
    documents = read_documents(WEB_MANIFEST)
    seats = classroom.numbered_seats(CLASS_PREFIX, count)
    return [(seat, topology.spec_from_sources(None, {"name": seat.lab, "workloads": list(documents)}))
            for seat in seats]


def _matrix(lab: str) -> dict[str, Any]:
    """``podnet probe --all`` on one lab, as a student would run it, while the others run."""
    argv = [sys.executable, "-m", "podnet", "probe", "--all", "--name", lab, "-o", "json"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=MATRIX_TIMEOUT)
    try:
        data = json.loads(done.stdout)
    except ValueError:
        data = {}
    pairs = data.get("pairs") if isinstance(data, dict) else None
    count = len(pairs) if isinstance(pairs, list) else data.get("pairs_total", 0) if isinstance(data, dict) else 0
    return {"lab": lab, "passed": done.returncode == 0, "pairs": count,
            "error": "" if done.returncode == 0 else (done.stderr.strip().splitlines() or ["failed"])[-1]}


def _taken(plan) -> list[str]:
    return [seat.lab for seat, _spec in plan if state_file.exists(seat.lab) or leftover_namespaces(seat.lab)]


def run_class(count: int, progress: Progress | None = None) -> dict[str, Any]:
    """Bring the class up, run every lab's matrix, take it down; one JSON-able row."""
    say = progress or (lambda _text: None)
    plan = class_plan(count)
    taken = _taken(plan)
    if taken:
        raise InputError("class", count, f"lab {taken[0]} exists already: take it down first (podnet class down "
                         f"--prefix {CLASS_PREFIX})")
    limit = classroom.default_parallel()
    settle_memory()
    before = mem_available_kb()
    say(f"bench class: {count} labs up, {limit} at once ...")
    started = time.perf_counter()
    names = [seat.lab for seat, _spec in plan]
    try:
        results = classroom.bring_up_class(plan, apiserver.DEFAULT_LISTEN, limit,
                                           lambda seat, r: say(f"bench class: {seat.lab} {r.get('status', 'failed')}"))
        up_s = time.perf_counter() - started
        time.sleep(AFTER_UP_S)
        mem_mb = (before - mem_available_kb()) / 1024.0
        say(f"bench class: {sum(1 for r in results if r.get('status') == 'up')}/{count} up in {up_s:.2f} s, "
            f"{mem_mb:.0f} MB held; every lab's matrix ...")
        matrices = []
        for name in names:
            matrices.append(_matrix(name))
            say(f"bench class: {name} matrix {'passed' if matrices[-1]['passed'] else 'FAILED'}")
    finally:
        down_started = time.perf_counter()
        classroom.take_down([n for n in names if state_file.exists(n)], classroom.default_parallel(down=True))
        down_s = time.perf_counter() - down_started
    left = [n for n in names if state_file.exists(n)] + [ns for n in names for ns in leftover_namespaces(n)]
    say(f"bench class: down in {down_s:.2f} s, {len(left)} left")
    return {"labs": count, "parallel": limit, "up": sum(1 for r in results if r.get("status") == "up"),
            "up_s": up_s, "mem_mb": mem_mb, "mem_mb_per_lab": mem_mb / count, "down_s": down_s,
            "matrices_passed": sum(1 for m in matrices if m["passed"]), "matrix_pairs": sum(m["pairs"] for m in matrices),
            "matrices": matrices, "left": left}


def format_class(row: dict[str, Any]) -> str:
    """The class's figures, one line each, for people."""
    failed = [m for m in row["matrices"] if not m["passed"]]
    lines = [
        f"class of {row['labs']} labs (3x2, CoreDNS, web Service), {row['parallel']} brought up at once",
        f"  up         {row['up']}/{row['labs']} in {row['up_s']:.2f} s",
        f"  memory     {row['mem_mb']:.0f} MB held ({row['mem_mb_per_lab']:.1f} MB a lab)",
        f"  matrices   {row['matrices_passed']}/{row['labs']} passed ({row['matrix_pairs']} pairs in all), "
        "each run while every other lab ran",
        f"  down       {row['down_s']:.2f} s, {len(row['left'])} left behind",
    ]
    lines += [f"  FAILED     {m['lab']}: {m['error']}" for m in failed]
    return "\n".join(lines)


def class_failed(row: dict[str, Any]) -> bool:
    return bool(row["left"]) or row["up"] != row["labs"] or row["matrices_passed"] != row["labs"]
