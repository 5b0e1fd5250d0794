"""Bad input is refused before anything exists: exit 2, one ``podnet:`` line naming the field
or value, no traceback, and no namespace or lab file made."""

from __future__ import annotations

import os
import textwrap

import pytest

from tests.support.labs import check_running_lab
from tests.support.processes import RUN_DIR, explain, netns_list, podnet
from tests.support.snapshots import own_view

pytestmark = pytest.mark.root



TOPOLOGIES = {
    "duplicate-pod": ("""\
        nodes: 2
        pods:
          - name: web
            nodeName: node-1
          - name: web
            nodeName: node-2
        """, ["pod name", "web"]),
    "unknown-node": ("""\
        nodes: 2
        pods:
          - name: web
            nodeName: node-9
        """, ["nodeName", "node-9"]),
    "invalid-yaml": ("""\
        nodes: [1, 2
        pods: {name: web
        """, ["topology", "YAML"]),
}

FLAG_CASES = [
    (["--cluster-cidr", "10.244.1.0/16"], ["cluster-cidr", "10.244.1.0/16"]),
    (["--node-cidr-mask-size", "8"], ["node-cidr-mask-size", "8"]),
    (["--node-cidr-mask-size", "33"], ["node-cidr-mask-size", "33"]),
    (["--cluster-cidr", "10.96.0.0/16"], ["cluster-cidr", "10.96.0.0/16"]),
    (["--underlay-cidr", "10.0.2.0/24"], ["underlay-cidr", "10.0.2.0/24"]),
    (["--underlay-cidr", "172.17.5.0/24"], ["underlay-cidr", "172.17.5.0/24"]),
    (["--name", "Bad_Name"], ["lab name", "Bad_Name"]),
    (["--name", "a;reboot"], ["lab name", "a;reboot"]),
    (["--nodes", "0"], ["nodes", "0"]),
    (["--nodes", "abc"], ["nodes", "abc"]),
    (["--pods-per-node", "-1"], ["pods-per-node", "-1"]),
    (["--cni", "flannel"], ["cni", "flannel"]),
    (["-t", "/nonexistent.yaml"], ["topology", "/nonexistent.yaml"]),
]


@pytest.mark.parametrize("args, mentions", FLAG_CASES, ids=[" ".join(a) for a, _ in FLAG_CASES])
def test_bad_flag_is_refused_and_creates_nothing(lab, args, mentions):
    _assert_refused(lab, args, mentions)


@pytest.mark.parametrize("case", sorted(TOPOLOGIES))
def test_bad_topology_is_refused_and_creates_nothing(lab, tmp_path, case):
    text, mentions = TOPOLOGIES[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    _assert_refused(lab, ["-t", str(path)], mentions + ([str(path)] if case == "invalid-yaml" else []))


def _assert_refused(lab, args, mentions):
    before = own_view()
    argv = ["up", "-d"] + (["--name", lab.name] if "--name" not in args else []) + list(args)
    result = podnet(*argv, timeout=60)
    after = own_view()
    assert result.returncode == 2, explain(result)
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stdout == "", explain(result)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and result.stderr.endswith("\n"), explain(result)
    assert lines[0].startswith("podnet:"), lines[0]
    for word in mentions:
        assert word in lines[0], f"{word!r} not named in {lines[0]!r}"
    assert after == before
    assert not os.path.exists(os.path.join(RUN_DIR, lab.name))
    assert not any(n.startswith(lab.name + "-") for n in netns_list())


def test_zero_pods_per_node_is_a_valid_lab(lab):
    result = lab.up("--pods-per-node", "0")
    assert result.returncode == 0
    nodes = lab.nodes()
    assert sorted(nodes) == ["node-1", "node-2", "node-3"]
    for node in nodes.values():
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "True", node
    assert lab.pods() == {}
    assert check_running_lab(lab) == {}
    assert lab.namespaces() == lab.infra_ns() | {lab.ns(n) for n in ("node-1", "node-2", "node-3")}
