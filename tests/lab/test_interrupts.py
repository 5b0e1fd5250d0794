"""An interrupted bring-up (Ctrl-C, or SIGTERM from a supervisor) tears down what it made,
exits 130, and leaves the host as it found it."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from tests.support.processes import PODNET, REPO, wait_until
from tests.support.snapshots import compare_snapshots, snapshot

pytestmark = pytest.mark.root


BIG = ["--nodes", "10", "--pods-per-node", "60", "--cni", "bridge"]
TOTAL_NAMESPACES = 1 + 10 + 600


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_during_bring_up_tears_everything_down(make_lab, tmp_path, signum):
    lab = make_lab()
    before = snapshot()
    err_path = tmp_path / "stderr"
    with open(err_path, "wb") as err:
        proc = subprocess.Popen([*PODNET, "up", "-d", "--name", lab.name, *BIG], cwd=REPO,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    try:
        def halfway():
            if proc.poll() is not None:
                return True
            return os.path.exists(os.path.join(lab.run_dir, "state.json")) and len(lab.namespaces()) >= 20

        wait_until(halfway, timeout=60, interval=0.01, what="bring-up to be under way")
        assert proc.poll() is None, f"podnet exited early ({proc.returncode}): {err_path.read_text()}"
        made = len(lab.namespaces())
        assert made < TOTAL_NAMESPACES, "bring-up had already finished: nothing was interrupted"
        proc.send_signal(signum)
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    stderr = err_path.read_text()
    assert code == 130, stderr
    assert "Traceback" not in stderr, stderr
    assert lab.namespaces() == set(), f"left behind after {signum.name}"
    assert not os.path.exists(lab.run_dir)
    assert compare_snapshots(before, snapshot()) == []


def test_sigterm_stops_a_foreground_lab(make_lab, tmp_path):
    """A foreground lab (CLI reading a script from stdin) that gets SIGTERM from a supervisor
    stops: it runs no further line, tears the lab down and exits 130, as cli.py promises
    ("SIGTERM or SIGHUP, handled like Ctrl-C: tear down, exit 130")."""
    signum = signal.SIGTERM
    lab = make_lab()
    before = snapshot()
    out_path = tmp_path / "output"
    with open(out_path, "wb") as out:
        proc = subprocess.Popen([*PODNET, "up", "--name", lab.name], cwd=REPO,
                                stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT)
    try:
        # a script whose first line is still running when the signal comes; stdin stays open
        proc.stdin.write(b"pod-1-1 sleep 20\npod-1-1 echo SECOND-LINE-RAN\n")
        proc.stdin.flush()
        wait_until(lambda: b"podnet> pod-1-1 sleep 20" in out_path.read_bytes() or proc.poll() is not None,
                   timeout=30, what="the foreground lab to run the first line")
        assert proc.poll() is None, out_path.read_text()
        time.sleep(0.3)
        proc.send_signal(signum)
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = None
        output = out_path.read_text()
        alive_after = code is None
        namespaces_after = lab.namespaces()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        proc.stdin.close()
    assert not alive_after, (
        f"podnet up (foreground) still running 10s after {signum.name}, "
        f"its {len(namespaces_after)} namespaces still up:\n{output}")
    assert "SECOND-LINE-RAN" not in output, f"a line ran after {signum.name}:\n{output}"
    assert code == 130, output
    assert lab.namespaces() == set() and not os.path.exists(lab.run_dir)
    assert compare_snapshots(before, snapshot()) == []
