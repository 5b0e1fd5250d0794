"""Taking labs down: the root namespace is never touched, ``down`` is idempotent, and ``clean``
removes what a killed lab left behind, and only that."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess

import pytest

from tests.support.labs import OUR_LABS
from tests.support.packets import assert_ping
from tests.support.processes import PODNET, REPO, alive, explain, kill_pid, netns_inode, netns_list, pids_in, podnet, run, wait_until
from tests.support.registry import register
from tests.support.snapshots import LAB_FIELDS, compare_snapshots, snapshot

pytestmark = pytest.mark.root



def test_detached_lab_leaves_the_root_namespace_alone(lab):
    before = snapshot()
    lab.up()
    during = snapshot()
    assert compare_snapshots(before, during, ignore=LAB_FIELDS) == []
    # the comparison above is not vacuous: the lab's own objects are there
    assert lab.ns("node-1") in during["netns"] and lab.ns("pod-3-2") in during["netns"]
    assert any(p.startswith(lab.name + os.sep) for p in during["run_dir"])
    result = lab.down()
    assert result.returncode == 0, explain(result)
    after = snapshot()
    assert compare_snapshots(before, after) == []


def test_foreground_stdin_lab_leaves_the_host_as_it_was(lab):
    before = snapshot()
    result = podnet("up", "--name", lab.name, input="pingall\n", timeout=120)
    assert result.returncode == 0, explain(result)
    assert "0% dropped" in result.stdout + result.stderr, explain(result)
    after = snapshot()
    assert compare_snapshots(before, after) == []


def test_down_is_idempotent(lab):
    lab.up()
    first = lab.down()
    assert first.returncode == 0, explain(first)
    assert "13 namespaces removed" in first.stdout, first.stdout  # 10 + Internet, external client, CoreDNS
    second = lab.down()
    assert second.returncode == 0, explain(second)
    assert "nothing to do" in second.stdout, second.stdout
    assert lab.namespaces() == set()
    assert not os.path.exists(lab.run_dir)


def test_down_after_a_namespace_was_deleted_by_hand(lab):
    lab.up()
    infra = lab.infra_ns()
    gone = run(["ip", "netns", "del", lab.ns("pod-1-1")])
    assert gone.returncode == 0, explain(gone)
    result = lab.down("-o", "json")
    assert result.returncode == 0, explain(result)
    report = json.loads(result.stdout)
    assert report["alreadyGone"] == [lab.ns("pod-1-1")]
    assert sorted(report["deletedNamespaces"]) == sorted(
        list(infra) + [lab.ns(f"node-{n}") for n in (1, 2, 3)]
        + [lab.ns(f"pod-{n}-{j}") for n in (1, 2, 3) for j in (1, 2) if (n, j) != (1, 1)])
    assert report["existed"] is True and report["stateRemoved"] is True
    assert lab.namespaces() == set()
    assert not os.path.exists(lab.run_dir)


@pytest.fixture
def foreign_things():
    """A namespace with a process and a bridge, and a file: things podnet must never touch."""
    tag = secrets.token_hex(3)
    ns, path = f"fx{tag}", f"/tmp/podnet-foreign-{tag}"
    register(ns)  # other workers' host snapshots skip it, as they skip this worker's labs
    made = run(["ip", "netns", "add", ns])
    assert made.returncode == 0, explain(made)
    sleeper = None
    try:
        sleeper = subprocess.Popen(["ip", "netns", "exec", ns, "sleep", "60"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        bridge = run(["ip", "-n", ns, "link", "add", "fxbr0", "type", "bridge"])
        assert bridge.returncode == 0, explain(bridge)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("not podnet's\n")
        yield {"ns": ns, "sleeper": sleeper, "file": path}
    finally:
        if sleeper is not None:
            kill_pid(sleeper.pid)
            sleeper.wait(timeout=10)
        run(["ip", "netns", "del", ns])
        if os.path.exists(path):
            os.unlink(path)


def test_kill_9_then_clean_removes_only_the_dead_lab(make_lab, foreign_things):
    dead, survivor = make_lab(), make_lab()
    survivor.up()
    survivor_ns = {n: netns_inode(n) for n in survivor.namespaces()}

    proc = subprocess.Popen([*PODNET, "up", "--name", dead.name], cwd=REPO, stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    squatter = None
    try:
        def shells_up():
            pods = podnet("get", "pods", "--name", dead.name)
            if pods.returncode != 0 or pods.stdout.count("Running") != 6:
                return False
            return len(pids_in(dead.inodes())) >= 3  # the Mininet shells of the three nodes

        wait_until(shells_up, timeout=30, what="the foreground lab and its node shells")
        # a process someone started inside the lab (and that would outlive a hang-up)
        squatter = subprocess.Popen(["nsenter", f"--net={dead.ns_path('node-2')}", "--", "sleep", "120"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_until(lambda: squatter.pid in pids_in(dead.inodes()), timeout=10, what="the squatter process")
        dead_inodes = dead.inodes()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        proc.stdin.close()

    # the killed lab's namespaces and state are still there, and podnet calls it stale
    assert dead.namespaces() == dead.infra_ns() | {dead.ns(n) for n in ["node-1", "node-2", "node-3"]
                                                   + [f"pod-{n}-{j}" for n in (1, 2, 3) for j in (1, 2)]}
    assert os.path.exists(dead.run_dir)
    listing = {row["name"]: row for row in json.loads(podnet("list", "-o", "json", check=True).stdout)}
    assert listing[dead.name]["stale"] is True
    assert listing[survivor.name]["stale"] is False
    table = podnet("list", check=True).stdout
    assert any(line.split()[:2] == [dead.name, "stale"] for line in table.splitlines()), table
    others = [name for name, row in listing.items() if row["stale"] and name not in OUR_LABS]
    if others:
        pytest.skip(f"stale labs of someone else exist ({others}); 'podnet clean' would touch them")

    try:
        result = podnet("clean", "-o", "json", timeout=120)
        assert result.returncode == 0, explain(result)
        reports = json.loads(result.stdout)
        assert [r["lab"] for r in reports] == [dead.name]
        assert squatter.pid in reports[0]["killedPids"]
        assert squatter.wait(timeout=10) is not None
    finally:
        if squatter is not None and squatter.poll() is None:
            squatter.kill()
            squatter.wait(timeout=10)

    # the dead lab is gone entirely
    assert dead.namespaces() == set()
    assert not os.path.exists(dead.run_dir)
    assert pids_in(dead_inodes) == set()

    # everything else survived
    assert foreign_things["ns"] in netns_list()
    assert foreign_things["sleeper"].poll() is None and alive(foreign_things["sleeper"].pid)
    bridge = run(["ip", "-n", foreign_things["ns"], "link", "show", "fxbr0"])
    assert bridge.returncode == 0, explain(bridge)
    assert os.path.exists(foreign_things["file"])
    assert {n: netns_inode(n) for n in survivor.namespaces()} == survivor_ns
    assert os.path.exists(os.path.join(survivor.run_dir, "state.json"))
    assert_ping(survivor, "pod-1-1", survivor.pod_ip("pod-3-1"))
