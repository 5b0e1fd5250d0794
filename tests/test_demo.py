"""The README's first command: the main demo, end to end, as a new user runs it.

It must finish (exit 0) after showing every step, its single probe must be answered by
something listening (a SYN-ACK, not an "ICMP port unreachable"), and it must print no stray
number before "demo finished" (the count of what it left behind comes with its words).
"""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.support.labs import OUR_LABS
from tests.support.processes import REPO, netns_list
from tests.support.registry import register

DEMO_LABS = ("demo", "demo-nocni", "demo-tiny", "demo-slice", "demo-cmp-k8s", "demo-cmp-docker")
pytestmark = [pytest.mark.root, pytest.mark.xdist_group("demo")]


def test_the_demo_runs_end_to_end_and_leaves_nothing():
    for name in DEMO_LABS:  # the demo's fixed names are this worker's from now on
        OUR_LABS.add(name)
        register(name)
    result = subprocess.run(["bash", str(REPO / "scripts" / "demo.sh")], capture_output=True, text=True,
                            timeout=600, cwd="/")
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in out + result.stderr
    for number in range(1, 15):
        assert f"== {number}. " in out, f"step {number} is missing"
    probe = out[out.index("== 4. "):out.index("== 5. ")]
    assert "answer: TCP SYN-ACK" in probe and "port unreachable" not in probe, probe
    assert "PASS: " in out[out.index("== 5. "):out.index("== 6. ")]
    policy = out[out.index("== 9. "):out.index("== 10. ")]
    assert "default/web-from-client" in policy and "KUBE-POD-FW-" in policy, policy  # trace names policy and chain
    assert re.search(r"^PASS: \d+/\d+ pairs behaved as the NetworkPolicies say .*; 0 mismatches\)", policy, re.M), policy
    kubectl = out[out.index("== 10. "):out.index("== 11. ")]
    assert "deployment.apps/hello created" in kubectl and 'deployment.apps "hello" deleted' in kubectl, kubectl
    assert re.search(r"^node-1\s+Ready\s+control-plane\s.*192\.168\.77\.11", kubectl, re.M), kubectl
    assert re.search(r"eth0\s+inet 10\.244\.\d+\.\d+/24", kubectl) and "hello Pods left after kubectl delete" \
        " (podnet get pods): 0" in kubectl, kubectl
    assert not re.search(r"^\s*\d+\s*$", out, re.M), "a bare number in the demo's output"
    assert "network namespaces of the demo left on this machine: 0" in out
    assert out.rstrip().endswith("demo finished")
    assert not {n for n in netns_list() if n.startswith("demo-") or n == "demo"}
