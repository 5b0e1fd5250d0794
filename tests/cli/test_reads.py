"""``podnet describe`` as kubectl does it: with a name one object, without one every object of
the kind; in the command line and the interactive CLI alike."""

from __future__ import annotations

import json
import re

import pytest

from tests.support.processes import explain, podnet

pytestmark = pytest.mark.root


def _ageless(text: str) -> str:
    return re.sub(r"\s\d+[smhd]\s", " AGE ", text)


def test_describe_nodes_without_a_name_describes_every_node(lab):
    lab.up("--nodes", "2", "--pods-per-node", "1")
    result = podnet("describe", "nodes", "--name", lab.name)
    assert result.returncode == 0, explain(result)
    blocks = ["Name:" + b if i else b for i, b in enumerate(result.stdout.split("\n\nName:"))]
    names = [line.split()[1] for line in result.stdout.splitlines() if line.startswith("Name:")]
    assert names == ["node-1", "node-2"], result.stdout
    assert len(blocks) == 2 and all("PodCIDR:" in b for b in blocks), result.stdout
    one = podnet("describe", "node", "node-2", "--name", lab.name)
    assert one.returncode == 0, explain(one)
    assert _ageless(one.stdout.strip()) == _ageless(blocks[1].strip())  # a second may pass between the two

    pods = podnet("describe", "pods", "--name", lab.name, "-o", "json")
    assert pods.returncode == 0, explain(pods)
    listed = json.loads(pods.stdout)
    assert listed["kind"] == "List" and [p["metadata"]["name"] for p in listed["items"]] == ["pod-1-1", "pod-2-1"]
    assert all("events" in p for p in listed["items"])


def test_describe_pods_in_a_namespace_without_pods_says_so(lab):
    lab.up("--nodes", "1", "--pods-per-node", "0", "--no-dns")
    result = podnet("describe", "pods", "-n", "kube-system", "--name", lab.name)
    assert result.returncode == 0, explain(result)
    assert result.stdout.strip() == "No resources found in kube-system namespace."


def test_the_interactive_cli_describes_every_node_too(lab):
    lab.up("--nodes", "2", "--pods-per-node", "0", "--no-dns")
    result = podnet("cli", "--name", lab.name, input="describe nodes\n")
    assert result.returncode == 0, explain(result)
    shown = result.stdout + result.stderr  # Mininet's CLI writes its output to stderr
    assert [line.split()[1] for line in shown.splitlines() if line.startswith("Name:")] == ["node-1", "node-2"]
