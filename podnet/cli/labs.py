"""``podnet lab list|start|check|reset|solution|stop``: the course's exercises from the command line.

Mirrors a lab guide's verbs (containerlab's deploy/destroy, p4lang tutorials' "make run",
an autograder's check): each lab of ``labs/NN-slug`` runs as its own podnet lab named
``lab-NN`` (``lab-08-mtu`` for an exercise), and the student's files (answers, captures) go
to a work directory, ``./podnet-labs/NN-slug`` by default. Part of the command line: prints
and returns exit codes (0 all checks pass, 1 a check failed or could not run, 2 bad input).
"""

from __future__ import annotations

import json
import os

from podnet.cli.common import add_output, require_root
from podnet.course import labfile
from podnet.course.runner import ERROR, FAIL, PASS, LabRunner
from podnet.core.errors import EXIT_FAILED, EXIT_OK, InputError
from podnet.kernel import state_file
from podnet.core.tables import table

DEFAULT_WORK = "podnet-labs"


def add_parsers(sub) -> None:
    lab = sub.add_parser("lab", help="classroom labs: list, start, check, reset, solution, stop")
    lab.add_argument("action", choices=("list", "start", "check", "reset", "solution", "stop"))
    lab.add_argument("lab", nargs="?", help="lab number or name: 01, flat-network, 08/mtu")
    lab.add_argument("--work", default=DEFAULT_WORK, help=f"where your answers and captures go (default ./{DEFAULT_WORK})")
    lab.add_argument("--apply", action="store_true", help="with solution: perform the solution's steps, then check")
    add_output(lab)


def _work(value: str) -> str:
    if not value or "\0" in value:
        raise InputError("work", value, "must be a directory path")
    return value


def cmd_lab(args) -> int:
    labs = labfile.load_all()
    work = _work(args.work)
    if args.action == "list":
        return _list(labs, work, args.output)
    if not args.lab:
        raise InputError("lab", "", "name a lab: podnet lab " + args.action + " 01 (see podnet lab list)")
    chosen = labfile.find(labs, args.lab)
    if args.action != "check" and len(chosen) > 1:
        raise InputError("lab", args.lab, "has exercises " + ", ".join(l.id for l in chosen) + ": name one, e.g. "
                         + chosen[0].id)
    require_root()
    if args.action == "check":
        return _check(chosen, work, args.output)
    lab = chosen[0]
    runner = LabRunner(lab, work)
    if args.action == "start":
        done = runner.start()
        return _started(runner, done, args.output)
    if args.action == "reset":
        done = runner.reset()
        return _started(runner, done, args.output)
    if args.action == "stop":
        existed = runner.stop()
        if args.output == "json":
            print(json.dumps({"lab": lab.id, "stopped": existed}))
        else:
            print(f"lab {lab.id} ({lab.lab_name}) " + ("stopped" if existed else "was not running"))
        return EXIT_OK
    return _solution(runner, args.apply, args.output)


def _list(labs, work: str, output: str) -> int:
    rows = []
    for lab in labs:
        rows.append({"id": lab.id, "title": lab.title, "minutes": lab.minutes, "quiz": lab.quiz,
                     "lab": lab.lab_name, "running": state_file.exists(lab.lab_name),
                     "readme": os.path.relpath(labfile.readme_path(lab)), "checks": len(lab.checks)})
    if output == "json":
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    print(table(["LAB", "TITLE", "MINUTES", "CHECKS", "STATUS", "README"],
                [[r["id"], r["title"], r["minutes"], r["checks"], "running" if r["running"] else "-", r["readme"]]
                 for r in rows]))
    print(f"\nStart one with: sudo podnet lab start 01   (your answers and captures go to ./{DEFAULT_WORK}/)")
    return EXIT_OK


def _started(runner: LabRunner, done: list[str], output: str) -> int:
    lab = runner.lab
    if output == "json":
        print(json.dumps({"lab": lab.id, "name": lab.lab_name, "work": runner.work, "steps": done,
                          "readme": labfile.readme_path(lab)}, indent=2))
        return EXIT_OK
    print(f"lab {lab.id}: {lab.title}")
    for line in done:
        print(f"  - {line}")
    print(f"\nRead {os.path.relpath(labfile.readme_path(lab))} and work through its steps.")
    print(f"Your files (answers.yaml, captures) go to {runner.work}")
    print(f"Commands work on this lab with --name {lab.lab_name} (or without --name when it is the only lab).")
    print(f"Check your work any time: sudo podnet lab check {lab.id}")
    return EXIT_OK


def _check(chosen, work: str, output: str) -> int:
    reports = [LabRunner(lab, work).check() for lab in chosen]
    if output == "json":
        data = [r.to_json() for r in reports]
        print(json.dumps(data[0] if len(data) == 1 else data, indent=2))
    else:
        for report in reports:
            print(f"lab {report.lab}: {report.title}")
            print(table(["CHECK", "RESULT", "EVIDENCE"], [[r.name, r.status, r.evidence] for r in report.results]))
            counts = {s: sum(1 for r in report.results if r.status == s) for s in (PASS, FAIL, ERROR)}
            verdict = "all checks pass" if report.passed else f"{counts[FAIL]} failed, {counts[ERROR]} could not run (ERROR)"
            print(f"{counts[PASS]}/{len(report.results)} PASS: {verdict}\n")
    return EXIT_OK if all(r.passed for r in reports) else EXIT_FAILED


def _solution(runner: LabRunner, apply: bool, output: str) -> int:
    lab = runner.lab
    path = labfile.lab_dir_file(lab, "solution/README.md")
    text = ""
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    if not apply:
        if output == "json":
            print(json.dumps({"lab": lab.id, "solution": text, "steps": list(lab.solution)}, indent=2))
        else:
            print(text.rstrip() or f"(lab {lab.id} has no written solution)")
            print(f"\n'podnet lab solution {lab.id} --apply' performs these steps on your lab and checks it.")
        return EXIT_OK
    done = runner.apply_solution()
    report = runner.check()
    if output == "json":
        print(json.dumps({"lab": lab.id, "steps": done, "check": report.to_json()}, indent=2))
    else:
        for line in done:
            print(f"  - {line}")
        print(table(["CHECK", "RESULT", "EVIDENCE"], [[r.name, r.status, r.evidence] for r in report.results]))
    return EXIT_OK if report.passed else EXIT_FAILED


HANDLERS = {"lab": cmd_lab}
