"""Ctrl-C during ``podnet apply``: the command still exits 130, but only once the kernel has
followed the new state, so no sandbox is half made and no address lease is lost."""

from __future__ import annotations

import pytest

import glob
import json
import os
import signal
import subprocess
import sys
import time

from tests.support.processes import explain, netns_list, podnet

pytestmark = pytest.mark.root


BIG = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: big}
spec:
  replicas: 90
  selector: {matchLabels: {app: big}}
  template:
    metadata: {labels: {app: big}}
    spec:
      containers: [{name: c}]
"""


def test_ctrl_c_during_apply_leaves_a_consistent_lab(lab, tmp_path):
    lab.up("--pods-per-node", "0")
    manifest = tmp_path / "big.yaml"
    manifest.write_text(BIG)
    proc = subprocess.Popen([sys.executable, "-m", "podnet", "apply", "--name", lab.name, "-f", str(manifest)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Ctrl-C once the kernel work has begun (the first sandbox exists), not before the
    # command has even read the manifest: that case changes nothing and proves nothing here.
    deadline = time.monotonic() + 60
    while not any(n.startswith(lab.name + "-big-") for n in netns_list()) and proc.poll() is None:
        assert time.monotonic() < deadline, "apply made no sandbox in 60 s"
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode in (0, 130), err  # 0 only if it finished before the signal arrived

    items = json.loads(podnet("get", "pods", "-o", "json", "--name", lab.name, check=True).stdout)["items"]
    big = [p for p in items if p["metadata"]["name"].startswith("big-")]
    assert len(big) == 90 and all(p["status"]["phase"] == "Running" for p in big), \
        sorted({p["podnet"]["status"] for p in big})
    sandboxes = {n for n in netns_list() if n.startswith(lab.name + "-big-")}
    assert sandboxes == {lab.ns(p["metadata"]["name"]) for p in big}
    leases = [f for f in glob.glob(os.path.join(lab.run_dir, "ipam", "*", "podnet", "10.*"))]
    system = json.loads(podnet("get", "pods", "-n", "kube-system", "-o", "json", "--name", lab.name,
                               check=True).stdout)["items"]
    assert len(leases) == len(big) + len(system), (len(leases), len(big), len(system))

    down = lab.down()
    assert down.returncode == 0, explain(down)
    assert lab.namespaces() == set()
