"""Shared fixtures for podnet's pure-logic unit tests (no root, no kernel changes)."""

from __future__ import annotations

import textwrap

import pytest

from podnet.plan import initial_state
from podnet.spec import build_spec


@pytest.fixture
def write_yaml(tmp_path):
    """Write dedented YAML text to a file under tmp_path; return its path as str."""

    def _write(text: str, name: str = "topology.yaml") -> str:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return str(path)

    return _write


@pytest.fixture
def make_spec():
    """Factory: a valid spec with nodes node-1..node-N (node-1 is the control plane)."""

    def _make(node_count: int = 3, pods: list | None = None, **kwargs):
        nodes = [
            (f"node-{i}", "control-plane" if i == 1 else "worker")
            for i in range(1, node_count + 1)
        ]
        return build_spec(nodes=nodes, pods=pods or [], **kwargs)

    return _make


@pytest.fixture
def three_node_state(make_spec):
    """Plan of a 3-node lab with one pinned and one unbound Pod."""
    return initial_state(make_spec(3, pods=[("pod-a", "node-1"), ("pod-b", None)]))
