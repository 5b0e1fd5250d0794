"""``podnet class up|status|check|down`` on real labs, a roster with a bad name refused before
anything exists, Ctrl-C during ``class up`` leaving nothing, and ``podnet list``'s columns."""

from __future__ import annotations

import json
import os
import secrets
import select
import signal
import subprocess
import time

import pytest

from podnet.core.errors import InputError
from podnet.lab import classroom
from tests.support.labs import Lab, assert_refused
from tests.support.processes import PODNET, REPO, RUN_DIR, UP_TIMEOUT, explain, netns_list, pids_in, podnet

LAB01 = os.path.join(REPO, "labs", "01-flat-network")


# -- pure: the roster ---------------------------------------------------------------------------

def test_numbered_students_name_their_labs_prefix_nn():
    seats = classroom.numbered_seats("stu", "3")
    assert [(s.student, s.lab) for s in seats] == [("01", "stu-01"), ("02", "stu-02"), ("03", "stu-03")]
    assert len(classroom.numbered_seats("stu", 60)) == 60
    for bad in ("0", "61", "-1", "three", ""):
        with pytest.raises(InputError, match="from 1 to 60"):
            classroom.numbered_seats("stu", bad)


def test_a_roster_file_is_checked_line_by_line():
    lines = ["# class of monday", "alice", "", "  bob  ", "carol-2"]
    seats = classroom.named_seats("stu", "roster.txt", lines)
    assert [(s.student, s.lab) for s in seats] == [("alice", "stu-alice"), ("bob", "stu-bob"), ("carol-2", "stu-carol-2")]
    with pytest.raises(InputError) as bad:
        classroom.named_seats("stu", "roster.txt", ["alice", "Bob Smith"])
    assert "roster.txt: line 2" in str(bad.value) and "'Bob Smith'" in str(bad.value)
    with pytest.raises(InputError, match="line 3.*already the student of line 1"):
        classroom.named_seats("stu", "roster.txt", ["alice", "bob", "alice"])
    with pytest.raises(InputError, match="no more than 36 characters"):  # stu- + 36 = 40, a lab name's most
        classroom.named_seats("stu", "roster.txt", ["a" * 37])
    with pytest.raises(InputError, match="names no student"):
        classroom.named_seats("stu", "roster.txt", ["# nobody", ""])
    with pytest.raises(InputError, match="at most 60"):
        classroom.named_seats("stu", "roster.txt", [f"s{i}" for i in range(61)])


def test_class_prefixes_are_lab_name_labels_and_not_the_course_labs():
    assert classroom.check_prefix("cls") == "cls"
    for bad in ("lab", "Stu", "stu_1", "-stu", "x" * 38):
        with pytest.raises(InputError, match="prefix"):
            classroom.check_prefix(bad)


# -- real labs ---------------------------------------------------------------------------------

def _ours(prefix: str) -> tuple[list[str], list[str]]:
    """Lab directories and namespaces on the machine that belong to the class ``prefix``."""
    dirs = sorted(d for d in os.listdir(RUN_DIR) if d.startswith(prefix + "-")) if os.path.isdir(RUN_DIR) else []
    return dirs, sorted(n for n in netns_list() if n.startswith(prefix + "-"))


@pytest.fixture
def prefix():
    """A class prefix of this test (``cls`` + hex); afterwards, nothing of the class is left."""
    name = "cls" + secrets.token_hex(2)
    for i in range(1, 4):
        Lab(f"{name}-{i:02d}")  # registered as this session's before they exist
    yield name
    down = podnet("class", "down", "--prefix", name, "-o", "json", timeout=UP_TIMEOUT)
    assert down.returncode == 0, explain(down)
    assert _ours(name) == ([], []), "the class left labs behind"


@pytest.mark.root
def test_a_roster_with_a_bad_name_is_refused_and_nothing_is_created(prefix, tmp_path):
    roster = tmp_path / "students.txt"
    roster.write_text("alice\nbob\nBob Smith\ncarol\n", encoding="utf-8")
    result = podnet("class", "up", "--students", str(roster), "--prefix", prefix, timeout=UP_TIMEOUT)
    line = assert_refused(result, "line 3", "'Bob Smith'", str(roster))
    assert "lowercase RFC 1123 label" in line
    for bad in (["--students", "0"], ["--students", "61"], ["--students", str(tmp_path / "missing.txt")],
                ["--students", "2", "--prefix", "lab"], ["--students", "2", "--nodes", "0"],
                ["--students", "2", "-f", str(tmp_path / "missing.yaml")], ["--students", "2", "--parallel", "0"]):
        args = ["class", "up", *bad] + ([] if "--prefix" in bad else ["--prefix", prefix])
        assert_refused(podnet(*args, timeout=UP_TIMEOUT))
    assert _ours(prefix) == ([], [])


def _class_up(prefix: str, *args: str, env: dict | None = None) -> dict:
    result = subprocess.run([*PODNET, "class", "up", "--prefix", prefix, *args, "-o", "json"], cwd=REPO,
                            capture_output=True, text=True, timeout=UP_TIMEOUT, env=env)
    assert result.returncode == 0, explain(result)
    return json.loads(result.stdout)


@pytest.mark.root
def test_class_up_status_check_and_down(prefix, tmp_path):
    up = _class_up(prefix, "--students", "2", env=dict(os.environ, SUDO_USER="nobody"))
    assert [(r["student"], r["lab"], r["status"]) for r in up["labs"]] == [
        ("01", f"{prefix}-01", "up"), ("02", f"{prefix}-02", "up")], up
    assert all(r["running"] == r["pods"] == 7 and r["nodes"] == 3 for r in up["labs"]), up  # 6 Pods + CoreDNS
    for name in (f"{prefix}-01", f"{prefix}-02"):  # one ARP table for the machine: class labs use permanent entries
        with open(os.path.join(RUN_DIR, name, "state.json"), encoding="utf-8") as handle:
            saved = json.load(handle)
        assert saved["spec"]["staticArp"] == "on" and saved["staticArp"] is True, name
    again = _class_up(prefix, "--students", "2")  # the labs are there already: left alone
    assert [r["status"] for r in again["labs"]] == ["already up", "already up"], again

    status = json.loads(podnet("class", "status", "--prefix", prefix, "-o", "json", check=True).stdout)
    rows = {r["student"]: r for r in status["labs"]}
    assert sorted(rows) == ["01", "02"]
    for row in rows.values():
        assert row["owner"] == "nobody" and row["health"] == "Running" and row["running"] == 7, row
        assert row["processes"] >= 2 and row["memoryBytes"] > 1 << 20 and 0 <= row["ageSeconds"] < UP_TIMEOUT, row
    table = podnet("class", "status", "--prefix", prefix, check=True).stdout
    assert table.split("\n", 1)[0].split() == ["STUDENT", "LAB", "OWNER", "AGE", "NODES", "PODS", "MEMORY", "HEALTH"]
    line = next(line.split() for line in table.splitlines() if line.startswith("02 "))
    assert line[:3] == ["02", f"{prefix}-02", "nobody"] and line[4:] == ["3", "7/7", line[6], "Running"], line

    _grade(prefix, tmp_path)

    down = json.loads(podnet("class", "down", "--prefix", prefix, "-o", "json", timeout=UP_TIMEOUT, check=True).stdout)
    assert [(r["lab"], r["status"]) for r in down["labs"]] == [(f"{prefix}-01", "down"), (f"{prefix}-02", "down")]
    assert [r["namespaces"] for r in down["labs"]] == [14, 13], down  # 01 made the Pod target
    assert _ours(prefix) == ([], [])
    empty = podnet("class", "down", "--prefix", prefix, check=True)
    assert "nothing to do" in empty.stdout


def _grade(prefix: str, tmp_path) -> None:
    """Student 01 does lab 01 (applies its Pod, writes its answers); student 02 does nothing."""
    work = tmp_path / "work"
    done = podnet("apply", "--name", f"{prefix}-01", "-f", os.path.join(LAB01, "solution", "target.yaml"))
    assert done.returncode == 0, explain(done)
    lab = Lab(f"{prefix}-01")
    answers = work / "01" / "01-flat-network" / "answers.yaml"
    answers.parent.mkdir(parents=True)
    answers.write_text(f"target_ip: {lab.pod_ip('target')}\nsource_seen_by_target: {lab.pod_ip('pod-1-1')}\n"
                       "routed_hops: 2\n", encoding="utf-8")
    result = podnet("class", "check", "all", "--prefix", prefix, "--work", str(work), "-o", "json", timeout=UP_TIMEOUT)
    assert result.returncode == 1, explain(result)  # student 02 does not pass
    graded = json.loads(result.stdout)
    assert graded["exercise"] == "01" and len(graded["checks"]) == 8
    by_student = {s["student"]: s for s in graded["students"]}
    assert by_student["01"]["passed"] is True and by_student["01"]["counts"]["PASS"] == 8, by_student["01"]
    second = {c["name"]: c["status"] for c in by_student["02"]["checks"]}
    assert by_student["02"]["passed"] is False and second["every Pod has its own IP from its node's slice"] == "PASS"
    assert second["the Pod target runs on node-3"] == "FAIL" and second["answer target_ip"] == "FAIL", second
    one = podnet("class", "check", "01", "--prefix", prefix, "--work", str(work), timeout=UP_TIMEOUT)
    assert one.returncode == 0, explain(one)
    header = one.stdout.splitlines()[1].split()
    assert header == ["STUDENT", "LAB", "1", "2", "3", "4", "5", "6", "7", "8", "RESULT"], one.stdout
    assert f"{prefix}-01" in one.stdout and f"{prefix}-02" not in one.stdout and "8/8 PASS" in one.stdout
    assert_refused(podnet("class", "check", "99", "--prefix", prefix), "99")


@pytest.mark.root
def test_ctrl_c_during_class_up_takes_every_started_lab_down(prefix):
    proc = subprocess.Popen([*PODNET, "class", "up", "--students", "3", "--prefix", prefix, "--parallel", "1",
                             "--nodes", "2", "--pods-per-node", "1"], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    inodes: set[int] = set()
    try:
        err = _wait_for_line(proc, "[ 1/3]")
        for name in netns_list():
            if name.startswith(prefix + "-"):
                inodes.add(os.stat(os.path.join("/run/netns", name)).st_ino)
        proc.send_signal(signal.SIGINT)
        out, rest = proc.communicate(timeout=UP_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)
    assert proc.returncode == 130, f"{out}\n{err}{rest}"
    assert "every lab it had started was taken down" in rest, rest
    assert len(inodes) >= 7, "the first lab was up (4 namespaces of its own, the Internet, external, CoreDNS)"
    assert _ours(prefix) == ([], [])
    assert pids_in(inodes) == set(), "processes of the class's labs outlived them"


def _wait_for_line(proc: subprocess.Popen, text: str, timeout: float = 60) -> str:
    seen = ""
    deadline = time.monotonic() + timeout
    while text not in seen:
        ready, _, _ = select.select([proc.stderr], [], [], max(deadline - time.monotonic(), 0))
        line = proc.stderr.readline() if ready else ""
        if not line:
            raise AssertionError(f"class up never printed {text!r}: {seen}")
        seen += line
    return seen


@pytest.mark.root
def test_list_shows_owner_age_size_memory_and_health(prefix):
    _class_up(prefix, "--students", "1", "--nodes", "2", "--pods-per-node", "1", "--no-api",
              env=dict(os.environ, SUDO_USER="daemon"))
    name = f"{prefix}-01"
    rows = {r["name"]: r for r in json.loads(podnet("list", "-o", "json", check=True).stdout)}
    row = rows[name]
    assert row["owner"] == "daemon" and row["health"] == "Running" and row["status"] == "running", row
    assert (row["nodes"], row["pods"], row["running"], row["stale"], row["detached"]) == (2, 3, 3, False, True), row
    assert row["memoryBytes"] > 1 << 20 and row["processes"] >= 2 and row["ageSeconds"] >= 0, row
    table = podnet("list", check=True).stdout.splitlines()
    assert table[0].split() == ["NAME", "STATUS", "OWNER", "AGE", "NODES", "PODS", "MEMORY", "HEALTH", "CNI", "MODE"]
    line = next(line.split() for line in table if line.startswith(name + " "))
    assert line[:3] == [name, "running", "daemon"] and line[4:6] == ["2", "3/3"] and line[7:] == ["Running", "bridge",
                                                                                                  "detached"], line
    assert line[3].endswith("s") and line[6].endswith("Mi"), line

    # a Pod's namespace removed behind podnet's back: the lab is degraded
    gone = subprocess.run(["ip", "netns", "del", f"{name}-pod-1-1"], capture_output=True, text=True, timeout=30)
    assert gone.returncode == 0, gone.stderr
    row = {r["name"]: r for r in json.loads(podnet("list", "-o", "json", check=True).stdout)}[name]
    assert row["health"] == "degraded: 1 namespace gone" and row["namespacesGone"] == 1, row
