"""``podnet up`` in the foreground with a script on stdin: Mininet CLI lines plus kubectl-style
reads, names replaced by IPs, exit 1 if any line failed, and the lab always torn down."""

from __future__ import annotations

import pytest

import ipaddress
import os
import re

from tests.support.processes import explain, podnet

pytestmark = pytest.mark.root



def _assert_gone(lab) -> None:
    assert lab.namespaces() == set(), "the foreground lab left namespaces behind"
    assert not os.path.exists(lab.run_dir)
    listed = podnet("list", "-o", "json", check=True).stdout
    assert f'"{lab.name}"' not in listed


def _pod_ips_from_wide_table(text: str) -> dict[str, str]:
    rows = {}
    for line in text.splitlines():
        match = re.match(r"^(pod-\d+-\d+)\s+1/1\s+Running\s+\d+\s+\S+\s+(\d+\.\d+\.\d+\.\d+)\s+(node-\d+)\s+(\S+)\s*$", line)
        if match:
            rows[match.group(1)] = match.group(2)
    return rows


def test_script_with_get_and_ping_by_pod_name(lab):
    script = "get pods -o wide\npod-1-1 ping -c1 -W2 pod-3-2\n"
    result = podnet("up", "--name", lab.name, input=script, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == 0, explain(result)
    ips = _pod_ips_from_wide_table(output)
    assert sorted(ips) == [f"pod-{n}-{j}" for n in (1, 2, 3) for j in (1, 2)], output
    target = ips["pod-3-2"]
    assert ipaddress.IPv4Address(target) in ipaddress.IPv4Network("10.244.2.0/24")
    # the Pod name was replaced by the Pod's IP, and the ping got its answer
    assert re.search(rf"^PING {re.escape(target)} ", output, re.M), output
    assert re.search(r"\b1 packets transmitted, 1 received\b", output), output
    assert f"from {target}: icmp_seq=1 ttl=62" in output, output
    assert "Traceback" not in output
    _assert_gone(lab)


def test_a_failing_line_makes_the_run_exit_1_and_still_tears_down(lab):
    script = "get pods -o wide\npod-1-1 ping -c1 -W2 pod-3-2\npod-1-1 false\n"
    result = podnet("up", "--name", lab.name, input=script, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == 1, explain(result)
    assert re.search(r"\b1 received\b", output), output  # the lines before still ran
    assert re.search(r"^podnet: 1 line\(s\) failed: pod-1-1 false$", result.stderr, re.M), explain(result)
    assert "Traceback" not in output
    _assert_gone(lab)


def test_unknown_command_and_failed_reads_count_as_failures(lab):
    script = "get pods\nnosuchcommand\ndescribe pod pod-9-9\n"
    result = podnet("up", "--name", lab.name, input=script, timeout=120)
    assert result.returncode == 1, explain(result)
    failed = re.search(r"^podnet: (\d+) line\(s\) failed: (.*)$", result.stderr, re.M)
    assert failed and failed.group(1) == "2", explain(result)
    assert "nosuchcommand" in failed.group(2) and "pod-9-9" in failed.group(2)
    _assert_gone(lab)
