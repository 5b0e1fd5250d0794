"""Running a lab: start, reset, solution, and the checks that grade it.

Mirrors a lab guide with a grader: ``start`` brings the lab's cluster up (as ``lab-NN``) and
sets up its starting state (:mod:`podnet.course.steps`), ``check`` evaluates every declared
check (:mod:`podnet.course.checks`) against the live lab with real probes and reports PASS,
FAIL or ERROR with evidence, ``solution`` shows (or with ``apply`` performs) the steps of a
solution, ``reset`` goes back to the start. An ERROR means the check could not run (the lab
is down, a namespace is gone); it never counts as a pass.
Deviation: a check is evaluated once, when asked; nothing watches the lab in between.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
from typing import Iterator

import yaml

from podnet.core import topology as topology_files
from podnet.core.errors import InputError, KernelError, PodnetError
from podnet.core.model import LabState
from podnet.course import checks
from podnet.course.labfile import Check, LabDef
from podnet.course.results import ERROR, FAIL, PASS, CheckResult, NotRunning, Report
from podnet.course.steps import RECORD, run_step
from podnet.course.workfiles import write_file
from podnet.kernel import state_file
from podnet.lab import activity
from podnet.lab.apiserver import DEFAULT_LISTEN
from podnet.lab.bringup import up
from podnet.lab.session import Lab
from podnet.lab.signals import block_stop_signals, unblock_stop_signals
from podnet.lab.teardown import teardown

__all__ = ["ERROR", "FAIL", "PASS", "LabRunner", "work_dir"]


def work_dir(base: str, lab: LabDef) -> str:
    return os.path.join(os.path.abspath(base), lab.work_name)


class LabRunner:
    def __init__(self, lab: LabDef, base_work: str, podnet_argv: list[str] | None = None):
        self.lab = lab
        self.work = work_dir(base_work, lab)
        self.podnet = podnet_argv or [sys.executable, "-I", "-m", "podnet"]  # -I: nothing from the cwd is imported

    # -- the lab's state -----------------------------------------------------------------------
    def running(self) -> bool:
        return state_file.exists(self.lab.lab_name)

    def state(self) -> LabState | None:
        if not self.running():
            return None
        try:
            return state_file.load(self.lab.lab_name)
        except PodnetError:
            return None

    def record(self) -> dict:
        try:
            with open(os.path.join(self.work, RECORD), encoding="utf-8") as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return {}

    @contextlib.contextmanager
    def open_lab(self) -> Iterator[Lab]:
        """The running lab, opened and locked for a change."""
        if not self.running():
            raise NotRunning(f"lab {self.lab.lab_name} is not running (start it: podnet lab start {self.lab.id})")
        lab = Lab.open(self.lab.lab_name)
        try:
            with lab.lock():
                lab.refresh_if_changed()
                yield lab
        finally:
            lab.close()

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self, progress=None) -> list[str]:
        """Bring the lab up and set up its starting state. Refuses if it exists already."""
        if self.running():
            raise InputError("lab", self.lab.id, f"is already started (lab {self.lab.lab_name}); "
                             f"'podnet lab reset {self.lab.id}' starts it again from scratch")
        try:
            os.makedirs(self.work, exist_ok=True)  # before anything exists: a bad --work changes nothing
        except OSError as exc:
            raise InputError("work", self.work, f"cannot be created: {exc.strerror}") from None
        if os.path.islink(self.work):
            raise InputError("work", self.work, "is a symlink: podnet writes only into a real directory")
        done = []
        if self.lab.topology is not None:
            self.bring_up(self.lab.topology)
            done.append(f"lab {self.lab.lab_name} is up")
        try:
            for step in self.lab.start:
                done.append(run_step(self, step))
                if progress:
                    progress(len(done), len(self.lab.start) + 1)
        finally:
            self.give_to_student()
        return done

    def stop(self) -> bool:
        existed = self.running()
        block_stop_signals()
        try:
            teardown(self.lab.lab_name)
        finally:
            unblock_stop_signals()
        return existed

    def reset(self, progress=None) -> list[str]:
        self.stop()
        if os.path.isdir(self.work):
            shutil.rmtree(self.work)
        return self.start(progress)

    def apply_solution(self) -> list[str]:
        try:
            return [run_step(self, step) for step in self.lab.solution]
        finally:
            self.give_to_student()

    def give_to_student(self) -> None:
        """Run with sudo, the work files belong to the student who ran it, so they can edit
        answers.yaml and open captures without sudo."""
        uid, gid = os.environ.get("SUDO_UID"), os.environ.get("SUDO_GID")
        if not uid or not gid or not uid.isdigit() or not gid.isdigit() or not os.path.isdir(self.work):
            return
        for root, _dirs, files in os.walk(self.work):
            for name in [root] + [os.path.join(root, f) for f in files]:
                try:
                    os.chown(name, int(uid), int(gid), follow_symlinks=False)
                except OSError:
                    pass

    def bring_up(self, topology: dict) -> None:
        """Bring the lab's cluster up, detached, from a topology given as data."""
        data = dict(topology)
        data["name"] = self.lab.lab_name
        path = os.path.join(self.work, ".topology.yaml")
        write_file(path, yaml.safe_dump(data, sort_keys=False).encode())
        up(topology_files.spec_from_sources(path, {}), detached=True, api=DEFAULT_LISTEN).close()

    # -- grading -------------------------------------------------------------------------------
    def check(self) -> Report:
        report = Report(self.lab.id, self.lab.title)
        state = self.state()
        lab = None
        try:
            if state is not None:
                lab = Lab.open(self.lab.lab_name)
            for check in self.lab.checks:
                report.results.append(self._evaluate(check, state, lab))
        finally:
            if lab is not None:
                lab.close()
        activity.record(self.lab.lab_name, "check", report.to_json())
        return report

    def _evaluate(self, check: Check, state: LabState | None, lab) -> CheckResult:
        try:
            status, evidence = checks.evaluate(self, check, state, lab)
        except NotRunning as exc:
            status, evidence = (FAIL if check.type == "lab" else ERROR), str(exc)
        except (KernelError, OSError, InputError) as exc:
            status, evidence = ERROR, f"the check could not run: {exc}"
        return CheckResult(check.name, check.type, status, evidence)
