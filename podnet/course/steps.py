"""The steps a lab file can take on the live lab: set up a starting state, perform a solution.

Mirrors a lab guide's "do this" lines, as data: ``apply`` a manifest, ``delete`` an object,
``copy`` a file to the student, ``exec`` a command in a node or Pod, run ``podnet`` itself,
write ``answers``, ``record`` a Deployment's Pods (to compare after a reschedule), ``capture``
while other steps run, bring the lab ``up`` from another topology, ``wait``. Values may hold
templates (:mod:`podnet.course.templates`). Each step returns one line saying what it did.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import yaml

from podnet.core.errors import InputError, KernelError
from podnet.course.labfile import lab_dir_file
from podnet.course.templates import resolve
from podnet.course.workfiles import ANSWERS, load_answers, write_file
from podnet.k8s.workloads.manifests import read_file
from podnet.kernel.netns import netns_path

RECORD = ".record.json"


def run_step(runner, step: dict) -> str:
    action, value = next(iter(step.items()))
    handler = STEPS.get(action)
    if handler is None:
        raise InputError("step", action, "unknown step")
    return handler(runner, runner.state(), value)


def _apply(runner, state, value) -> str:
    with runner.open_lab() as lab:
        result = lab.apply(read_file(lab_dir_file(runner.lab, value)))
    return "; ".join(result.lines)


def _delete(runner, state, value) -> str:
    names = [str(resolve(state, n)) for n in (value.get("names") or [value.get("name")])]
    with runner.open_lab() as lab:
        result = lab.delete(value["kind"], names, value.get("namespace", "default"))
    return "; ".join(result.lines)


def _copy(runner, state, value) -> str:
    source, target = (value, os.path.basename(value)) if isinstance(value, str) else (value["from"], value["to"])
    destination = os.path.join(runner.work, os.path.basename(target))
    os.makedirs(runner.work, exist_ok=True)
    with open(lab_dir_file(runner.lab, source), "rb") as handle:
        write_file(destination, handle.read())
    return f"copied {source} to {destination}"


def _exec(runner, state, value) -> str:
    target = str(resolve(state, value["target"]))
    argv = [str(resolve(state, a)) for a in value["argv"]]
    path = netns_path(f"{runner.lab.lab_name}-{target}")
    proc = subprocess.run(["nsenter", f"--net={path}", "--", *argv], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0 and not value.get("may_fail"):
        raise KernelError(f"{' '.join(argv)} in {target} failed: {proc.stderr.strip() or proc.returncode}")
    return f"{target}: {' '.join(argv)}"


def _podnet(runner, state, value) -> str:
    argv = [str(resolve(state, a)) for a in value] + ["--name", runner.lab.lab_name]
    proc = subprocess.run(runner.podnet + argv, capture_output=True, text=True, timeout=300)
    return f"podnet {' '.join(argv)}: exit {proc.returncode}"


def _answers(runner, state, value) -> str:
    answers = load_answers(runner.work)
    resolved = {k: resolve(state, v, runner.record()) for k, v in value.items()}
    # a template with several accepted values ({new-pod-ips:}) answers with the first
    answers.update({k: (v[0] if v else None) if isinstance(v, list) else v for k, v in resolved.items()})
    os.makedirs(runner.work, exist_ok=True)
    write_file(os.path.join(runner.work, ANSWERS), yaml.safe_dump(answers, sort_keys=False).encode())
    return f"wrote {len(value)} answer(s) to {os.path.join(runner.work, ANSWERS)}"


def _record(runner, state, value) -> str:
    deployment = value["deployment"]
    pods = {p.name: p.ip for p in (state.pods.values() if state else []) if p.owner == f"default/{deployment}"}
    write_file(os.path.join(runner.work, RECORD), json.dumps({"deployment": deployment, "pods": pods}).encode())
    return f"recorded {len(pods)} Pod(s) of {deployment}"


def _capture(runner, state, value) -> str:
    output = os.path.join(runner.work, os.path.basename(value["file"]))
    if os.path.lexists(output):
        os.unlink(output)  # removes a planted link itself; capture then creates with O_EXCL|O_NOFOLLOW
    argv = runner.podnet + ["capture", "--name", runner.lab.lab_name, str(resolve(state, value["target"])),
                            "-c", str(value.get("count", 4)), "--duration", str(value.get("duration", 6)), "-w", output]
    if value.get("filter"):
        argv += ["-f", str(resolve(state, value["filter"]))]
    if value.get("interface"):
        argv += ["-i", value["interface"]]
    capture = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)  # tcpdump is listening
        for step in value.get("while", []):
            run_step(runner, step)
    finally:
        capture.wait(timeout=60)
    return f"captured into {output}"


def _up(runner, state, value) -> str:
    with open(lab_dir_file(runner.lab, value["topology"]), encoding="utf-8") as handle:
        runner.bring_up(yaml.safe_load(handle))
    return f"lab {runner.lab.lab_name} is up"


def _wait(runner, state, value) -> str:
    time.sleep(float(value))
    return f"waited {value}s"


STEPS = {"apply": _apply, "delete": _delete, "copy": _copy, "exec": _exec, "podnet": _podnet, "answers": _answers,
         "record": _record, "capture": _capture, "up": _up, "wait": _wait}
