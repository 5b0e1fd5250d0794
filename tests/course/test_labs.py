"""Every classroom lab: its starting state fails at least one check, its solution passes all.

Runs each lab (and each exercise of a lab) the way a student and an instructor would, through
the command line: ``podnet lab start``, ``lab check`` (exit 1, some FAIL), ``lab solution
--apply`` (exit 0, every check PASS, none ERROR), ``lab stop`` (nothing left). Also: an ERROR
(a check that could not run) is never a pass, and bad lab names are refused with exit 2.
"""

from __future__ import annotations

import json

import pytest

from podnet.course import labfile

from tests.support.labs import OUR_LABS
from tests.support.processes import explain, netns_list, podnet
from tests.support.registry import register

pytestmark = pytest.mark.root

# Lab names are fixed by the course (lab-01, lab-08-mtu): the tests of one lab share a worker.
LAB_IDS = [pytest.param(lab.id, marks=pytest.mark.xdist_group(lab.lab_name)) for lab in labfile.load_all()]
LAB_01 = pytest.mark.xdist_group("lab-01")


def _lab(lab_id: str) -> labfile.LabDef:
    return next(lab for lab in labfile.load_all() if lab.id == lab_id)


def _leftovers(name: str) -> set[str]:
    return {n for n in netns_list() if n.startswith(name + "-")}


@pytest.fixture
def stop_after():
    """Labs a test starts: claimed as this worker's before they exist (other workers' host
    snapshots then leave them out; none may be left behind), stopped afterwards."""
    started = Claims()
    yield started
    for lab_id in started:
        podnet("lab", "stop", lab_id, timeout=120)


class Claims(list):
    def append(self, lab_id: str) -> None:
        name = _lab(lab_id).lab_name
        OUR_LABS.add(name)
        register(name)
        super().append(lab_id)


def test_there_is_a_lab_for_every_idea_of_the_topic():
    numbers = {lab.number for lab in labfile.load_all()}
    assert set(range(1, 9)) <= numbers, sorted(numbers)
    break_fix = {lab.id for lab in labfile.load_all() if lab.number == 8}
    assert {"08/route", "08/forwarding", "08/masquerade", "08/mtu", "08/overlap"} <= break_fix, break_fix


@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_start_fails_a_check_and_the_solution_passes_them_all(lab_id, tmp_path, stop_after):
    lab = _lab(lab_id)
    work = str(tmp_path / "work")
    stop_after.append(lab_id)
    started = podnet("lab", "start", lab_id, "--work", work, "-o", "json", timeout=180)
    assert started.returncode == 0, explain(started)

    before = podnet("lab", "check", lab_id, "--work", work, "-o", "json", timeout=300)
    assert before.returncode == 1, explain(before)
    report = json.loads(before.stdout)
    assert report["passed"] is False and report["counts"]["FAIL"] >= 1, report
    assert len(report["checks"]) == len(lab.checks)

    solved = podnet("lab", "solution", lab_id, "--apply", "--work", work, "-o", "json", timeout=300)
    result = json.loads(solved.stdout) if solved.stdout.strip().startswith("{") else None
    assert solved.returncode == 0 and result is not None, explain(solved)
    checks = result["check"]["checks"]
    assert [c["status"] for c in checks] == ["PASS"] * len(lab.checks), checks

    again = podnet("lab", "check", lab_id, "--work", work, "-o", "json", timeout=300)
    assert again.returncode == 0, explain(again)

    stopped = podnet("lab", "stop", lab_id, timeout=120)
    assert stopped.returncode == 0, explain(stopped)
    assert _leftovers(lab.lab_name) == set()


@LAB_01
def test_an_error_is_never_a_pass(tmp_path, stop_after):
    """With the lab down, checks that need it report ERROR (or FAIL), and the exit status is 1."""
    work = str(tmp_path / "work")
    stop_after.append("01")
    assert podnet("lab", "start", "01", "--work", work, timeout=180).returncode == 0
    assert podnet("lab", "solution", "01", "--apply", "--work", work, timeout=300).returncode == 0
    assert podnet("lab", "stop", "01", timeout=120).returncode == 0
    result = podnet("lab", "check", "01", "--work", work, "-o", "json", timeout=300)
    assert result.returncode == 1, explain(result)
    report = json.loads(result.stdout)
    statuses = {c["name"]: c["status"] for c in report["checks"]}
    assert report["passed"] is False
    assert statuses["pod-1-1 reaches target directly, no NAT"] == "ERROR", statuses
    assert report["counts"]["ERROR"] >= 1 and "PASS" not in {s for n, s in statuses.items() if "reaches" in n}


@LAB_01
def test_a_running_lab_is_not_started_twice(tmp_path, stop_after):
    work = str(tmp_path / "work")
    stop_after.append("01")
    assert podnet("lab", "start", "01", "--work", work, timeout=180).returncode == 0
    again = podnet("lab", "start", "01", "--work", work, timeout=60)
    assert again.returncode == 2 and "already started" in again.stderr, explain(again)
    reset = podnet("lab", "reset", "01", "--work", work, "-o", "json", timeout=180)
    assert reset.returncode == 0, explain(reset)


@pytest.mark.parametrize("args, words", [
    (("lab", "start", "99"), "no such lab"),
    (("lab", "check", "nonsense"), "no such lab"),
    (("lab", "start"), "name a lab"),
    (("lab", "start", "08"), "has exercises"),
])
def test_bad_lab_names_are_one_line_exit_2(args, words):
    result = podnet(*args, timeout=60)
    assert result.returncode == 2, explain(result)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], result.stderr
