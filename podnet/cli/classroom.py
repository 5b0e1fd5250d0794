"""``podnet class up|down|status|check``: a lab for every student of a class, at once.

Mirrors an instructor's tooling around kind or containerlab: one cluster per student brought
up from a roster (``kind create cluster --name`` each), all of them inspected in one table
(``containerlab inspect --all``), and an autograder's run over every student (here the
course's own checks, ``podnet lab check``, against each student's lab). A class is the labs
named ``<prefix>-<student>``. Part of the command line: prints, and returns 0 (every lab up,
every check passing), 1 (a lab failed, a check did not pass), 2 (bad input: nothing was
created) or 130 (interrupted: every lab this command started is gone again).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time

from podnet.cli.common import PROG, TOPOLOGIES_DIR, Parser, add_output, require_root
from podnet.core import topology
from podnet.core.errors import EXIT_FAILED, EXIT_OK, InputError
from podnet.core.tables import age, table
from podnet.course import labfile
from podnet.course.labfile import LabDef
from podnet.kernel import state_file
from podnet.lab import apiserver
from podnet.lab import classroom
from podnet.lab.bringup import planned_state
from podnet.lab.teardown import stale_labs

DEFAULT_WORK = "podnet-class"


def add_parsers(sub) -> None:
    group = sub.add_parser("class", help="a lab for every student: class up|down|status|check")
    actions = group.add_subparsers(dest="class_action", metavar="ACTION", parser_class=Parser)
    actions.required = True
    up = actions.add_parser("up", help="bring up a lab per student, in parallel")
    up.add_argument("--students", required=True,
                    help=f"N (1..{classroom.MAX_STUDENTS}: labs PREFIX-01..PREFIX-NN) or a file with one name per line")
    up.add_argument("-t", "--topology", help="topology name in topologies/ or a YAML file (default: the default lab)")
    up.add_argument("-f", "--filename", action="append", help="manifests every lab applies once up (repeatable)")
    up.add_argument("--nodes", dest="node_count", help="number of nodes of each lab")
    up.add_argument("--pods-per-node", help="Pods per node of each lab")
    up.add_argument("--no-api", action="store_true", help="no Kubernetes API server per lab (less memory)")
    up.add_argument("--static-arp", default="on",
                    help="on (default for a class), auto or off: every namespace of the machine shares one ARP "
                         "table of 1,024 learnt entries, which thirty labs overflow; permanent entries do not count")
    down = actions.add_parser("down", help="take every lab of the class down, in parallel")
    status = actions.add_parser("status", help="every lab of the class: owner, age, Pods, health")
    check = actions.add_parser("check", help="run a course lab's checks on every student's lab")
    check.add_argument("target", help="a lab of the class (stu-03), a student (03, alice), or all")
    check.add_argument("--exercise", default="01", help="the course lab whose checks run (default 01; see podnet lab list)")
    check.add_argument("--work", default=DEFAULT_WORK,
                       help=f"students' answers: WORK/STUDENT/NN-slug/answers.yaml (default ./{DEFAULT_WORK})")
    for parser in (up, down, status, check):
        parser.add_argument("--prefix", default=classroom.DEFAULT_PREFIX,
                            help=f"the class's lab names are PREFIX-STUDENT (default {classroom.DEFAULT_PREFIX})")
        if parser is not status:
            parser.add_argument("--parallel", help=f"labs at once (default {classroom.default_parallel(parser is down)})")
        add_output(parser)


def cmd_class(args) -> int:
    return {"up": _up, "down": _down, "status": _status, "check": _check}[args.class_action](args)


def _parallel(value: str | None, down: bool = False) -> int:
    if value is None:
        return classroom.default_parallel(down)
    if not value.isdigit() or not 1 <= int(value) <= classroom.MAX_STUDENTS:
        raise InputError("parallel", value, f"must be a number from 1 to {classroom.MAX_STUDENTS}")
    return int(value)


def _seats(students: str, prefix: str) -> list[classroom.Seat]:
    if students.strip().isdigit():
        return classroom.numbered_seats(prefix, students)
    try:
        with open(students, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError("students", students, f"must be a number from 1 to {classroom.MAX_STUDENTS} or a readable "
                         f"file with one student name per line ({getattr(exc, 'strerror', None) or exc})") from None
    return classroom.named_seats(prefix, students, lines)


def _specs(args, seats: list[classroom.Seat]) -> list:
    """Each student's spec, as ``podnet up --name LAB -t T -f F...`` would build it; validated
    (topology, flags, manifests) before anything exists."""
    path = topology.topology_path(args.topology, TOPOLOGIES_DIR) if args.topology else None
    overrides = {"node_count": args.node_count, "pods_per_node": args.pods_per_node, "static_arp": args.static_arp}
    if args.filename:
        from podnet.k8s.workloads.manifests import read_documents

        documents = [doc for name in args.filename for doc in read_documents(name)]
        overrides["workloads"] = (list(topology.read_topology(path).get("workloads", [])) if path else []) + documents
    specs = [topology.spec_from_sources(path, dict(overrides, name=seat.lab)) for seat in seats]
    if specs:
        planned_state(specs[0])  # the workloads, as the API would take them
    return specs


def _up(args) -> int:
    prefix = classroom.check_prefix(args.prefix)
    seats = _seats(args.students, prefix)
    limit = _parallel(args.parallel)
    api = None if args.no_api else apiserver.DEFAULT_LISTEN
    plan = list(zip(seats, _specs(args, seats)))
    require_root()
    todo = [(seat, spec) for seat, spec in plan if not state_file.exists(seat.lab)]
    stale = set(stale_labs())
    show = args.output != "json"
    started, done = time.perf_counter(), []

    def progress(seat: classroom.Seat, result: dict) -> None:
        done.append(seat)
        if show:
            sys.stderr.write(f"[{len(done):>2}/{len(todo)}] {seat.lab}: {_up_line(result)}\n")
            sys.stderr.flush()

    if show and todo:
        sys.stderr.write(f"class {prefix}: bringing {len(todo)} labs up, {limit} at once\n")
    try:
        results = classroom.bring_up_class(todo, api, limit, progress)
    except BaseException:
        sys.stderr.write(f"{PROG}: class up stopped: every lab it had started was taken down\n")
        raise
    elapsed = time.perf_counter() - started
    by_lab = {seat.lab: result for (seat, _), result in zip(todo, results)}
    rows = [_up_row(seat, by_lab.get(seat.lab), seat.lab in stale) for seat in seats]
    failed = [r for r in rows if r["status"] in ("failed", "stale")]
    if args.output == "json":
        print(json.dumps({"prefix": prefix, "seconds": round(elapsed, 2), "parallel": limit, "labs": rows,
                          "up": sum(1 for r in rows if r["status"] == "up"), "failed": len(failed)}, indent=2))
    else:
        headers = ["STUDENT", "LAB", "STATUS", "SECONDS", "PODS"] + (["ERROR"] if failed else [])
        print(table(headers, [[r["student"], r["lab"], r["status"], r["seconds"], _pods(r), r.get("error")][:len(headers)]
                              for r in rows]))
        print(f"\n{len(rows) - len(failed)}/{len(rows)} labs up in {elapsed:.2f}s ({len(todo)} started, {limit} at once); "
              f"take them down with: {PROG} class down --prefix {prefix}")
    return EXIT_FAILED if failed else EXIT_OK


def _up_line(result: dict) -> str:
    if "error" in result:
        return f"failed after {result['seconds']:.1f}s: {result['error']}"
    return f"up in {result['seconds']:.1f}s, {result['running']}/{result['pods']} Pods Running"


def _up_row(seat: classroom.Seat, result: dict | None, stale: bool) -> dict:
    row = {"student": seat.student, "lab": seat.lab}
    if result is None and stale:
        return dict(row, status="stale", seconds=None, error=f"crashed earlier: {PROG} clean --name {seat.lab}")
    if result is None:
        return dict(row, status="already up", seconds=None)
    if "error" in result:
        return dict(row, status="failed", seconds=result["seconds"], error=result["error"])
    return dict(row, status="up", seconds=result["seconds"], nodes=result["nodes"], pods=result["pods"],
                running=result["running"])


def _pods(row: dict) -> str | None:
    return f"{row['running']}/{row['pods']}" if "pods" in row else None


def _down(args) -> int:
    prefix = classroom.check_prefix(args.prefix)
    limit = _parallel(args.parallel, down=True)
    require_root()
    seats = classroom.class_seats(prefix)
    started = time.perf_counter()
    results = classroom.take_down([s.lab for s in seats], limit)
    elapsed = time.perf_counter() - started
    rows = [{"student": s.student, "lab": s.lab, "status": r.get("status", "failed"), "seconds": r["seconds"],
             "namespaces": len(r.get("deletedNamespaces", [])), "processes": len(r.get("killedPids", [])),
             "error": r.get("error")} for s, r in zip(seats, results)]
    if args.output == "json":
        print(json.dumps({"prefix": prefix, "seconds": round(elapsed, 2), "labs": rows}, indent=2))
    elif not rows:
        print(f"no labs of class {prefix} (named {prefix}-...): nothing to do")
    else:
        errors = any(r["error"] for r in rows)
        headers = ["STUDENT", "LAB", "STATUS", "SECONDS", "NAMESPACES", "PROCESSES"] + (["ERROR"] if errors else [])
        print(table(headers, [[r["student"], r["lab"], r["status"], r["seconds"], r["namespaces"], r["processes"],
                               r["error"]][:len(headers)] for r in rows]))
        print(f"\n{len(rows)} labs of class {prefix} down in {elapsed:.2f}s")
    return EXIT_FAILED if any(r["error"] for r in rows) else EXIT_OK


def _status(args) -> int:
    prefix = classroom.check_prefix(args.prefix)
    seats = classroom.class_seats(prefix)
    rows = [dict(row, student=seat.student) for seat, row in zip(seats, classroom.lab_rows([s.lab for s in seats]))]
    if args.output == "json":
        print(json.dumps({"prefix": prefix, "labs": rows}, indent=2))
        return EXIT_OK
    if not rows:
        print(f"no labs of class {prefix} (named {prefix}-...)")
        return EXIT_OK
    print(table(["STUDENT", "LAB", "OWNER", "AGE", "NODES", "PODS", "MEMORY", "HEALTH"],
                [[r["student"], r["name"], r["owner"], age(r["created"]), r["nodes"], f"{r['running']}/{r['pods']}",
                  mebibytes(r["memoryBytes"]), r["health"]] for r in rows]))
    healthy = sum(1 for r in rows if r["health"] == "Running")
    print(f"\n{healthy}/{len(rows)} labs of class {prefix} Running")
    return EXIT_OK


def mebibytes(count: int) -> str:
    return f"{count / 1048576:.0f}Mi"


@dataclasses.dataclass(frozen=True)
class _StudentExercise(LabDef):
    """A course lab graded on a student's own lab (``stu-03``) rather than on ``lab-NN``."""

    podnet_lab: str = ""

    @property
    def lab_name(self) -> str:
        return self.podnet_lab


def _exercise(wanted: str) -> LabDef:
    chosen = labfile.find(labfile.load_all(), wanted)
    if len(chosen) > 1:
        raise InputError("exercise", wanted, "has exercises " + ", ".join(lab.id for lab in chosen) + ": name one")
    return chosen[0]


def _targets(prefix: str, target: str) -> list[classroom.Seat]:
    seats = classroom.class_seats(prefix)
    if target == "all":
        if not seats:
            raise InputError("lab", target, f"class {prefix} has no labs (bring them up: {PROG} class up --prefix {prefix})")
        return seats
    found = [s for s in seats if target in (s.lab, s.student)]
    if not found:
        names = ", ".join(s.lab for s in seats[:8]) or "none"
        raise InputError("lab", target, f"is not a lab or student of class {prefix} (its labs: {names}), or all")
    return found


def _check(args) -> int:
    prefix = classroom.check_prefix(args.prefix)
    exercise = _exercise(args.exercise)
    limit = _parallel(args.parallel)
    if not args.work or "\0" in args.work:
        raise InputError("work", args.work, "must be a directory path")
    seats = _targets(prefix, args.target)
    require_root()
    fields = {f.name: getattr(exercise, f.name) for f in dataclasses.fields(LabDef)}

    from podnet.course.runner import LabRunner  # probes and scapy: loaded only to grade

    def grade(seat) -> dict:
        graded = _StudentExercise(**fields, podnet_lab=seat.lab)
        return LabRunner(graded, os.path.join(args.work, seat.student)).check().to_json()

    reports = classroom.ForkPool(grade, limit).run(seats)
    rows = [dict(report, student=seat.student, lab=seat.lab, passed=bool(report.get("passed")))
            for seat, report in zip(seats, reports)]
    if args.output == "json":
        print(json.dumps({"exercise": exercise.id, "title": exercise.title, "checks": [c.name for c in exercise.checks],
                          "students": rows}, indent=2))
    else:
        _print_grades(exercise, rows)
    return EXIT_OK if all(r["passed"] for r in rows) else EXIT_FAILED


def _print_grades(exercise: LabDef, rows: list[dict]) -> None:
    from podnet.course.runner import PASS

    numbers = [str(i) for i in range(1, len(exercise.checks) + 1)]
    lines = []
    for r in rows:
        statuses = {c["name"]: c["status"] for c in r.get("checks", [])}
        cells = [statuses.get(c.name, "ERROR") for c in exercise.checks]
        score = f"{sum(1 for c in cells if c == PASS)}/{len(cells)} PASS" if "error" not in r else f"ERROR: {r['error']}"
        lines.append([r["student"], r["lab"], *cells, score])
    print(f"lab {exercise.id}: {exercise.title}")
    print(table(["STUDENT", "LAB", *numbers, "RESULT"], lines))
    print()
    for number, check in zip(numbers, exercise.checks):
        print(f"  {number}: {check.name}")
    passed = sum(1 for r in rows if r["passed"])
    print(f"\n{passed}/{len(rows)} students pass every check (ERROR: the check could not run; it never counts as a pass)")


HANDLERS = {"class": cmd_class}
