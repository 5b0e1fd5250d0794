"""Fixtures for every podnet test, and the rules that keep tests from touching each other.

Tests marked ``root`` (every module that builds real labs sets ``pytestmark``) are skipped
when not run as root; CI runs as root. Under pytest-xdist each worker gets a lab directory of
its own (``PODNET_RUN_DIR``), so "the only running lab", ``podnet list`` and ``podnet clean``
only ever see that worker's labs, and tests that must not run beside others share an
``xdist_group``. After the session, nothing of a lab this session made may be left behind.
"""

from __future__ import annotations

import os
import subprocess
import textwrap

import pytest

if os.environ.get("PYTEST_XDIST_WORKER") and "PODNET_RUN_DIR" not in os.environ:
    os.environ["PODNET_RUN_DIR"] = f"/run/podnet-test-{os.environ['PYTEST_XDIST_WORKER']}"

from tests.support import registry  # noqa: E402
from tests.support.labs import OUR_LABS, Lab  # noqa: E402  (reads PODNET_RUN_DIR)
from tests.support.processes import RUN_DIR, UP_TIMEOUT, explain, netns_inode, netns_list, podnet, run, run_dir_listing  # noqa: E402


def pytest_collection_modifyitems(config, items):
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="root integration tests need root (CI runs them as root)")
    for item in items:
        if "root" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _nothing_of_ours_left_behind():
    """After the session: no namespace and no lab directory of a lab this session made.
    Whatever is found is removed (down --name) and reported as an error."""
    yield
    if os.geteuid() != 0:
        return
    leftovers = []
    for lab in sorted(OUR_LABS):
        names = sorted(n for n in netns_list() if n.startswith(lab + "-"))
        if names or os.path.exists(os.path.join(RUN_DIR, lab)):
            leftovers.append(f"{lab}: {names} {run_dir_listing(lab)[:5]}")
            podnet("down", "--name", lab, timeout=UP_TIMEOUT)
            for name in names:
                if netns_inode(name) is not None:
                    run(["ip", "netns", "del", name])
    if RUN_DIR != "/run/podnet" and os.path.isdir(RUN_DIR) and not os.listdir(RUN_DIR):
        os.rmdir(RUN_DIR)  # this worker's own lab directory, empty again
    registry.prune_old_runs()
    assert not leftovers, "the tests left these behind:\n" + "\n".join(leftovers)


@pytest.fixture
def make_lab():
    """Factory of labs; every lab it made is taken down afterwards, whatever happened."""
    made: list[Lab] = []

    def _make(name: str | None = None) -> Lab:
        lab = Lab(name)
        made.append(lab)
        return lab

    yield _make
    problems = []
    for lab in made:
        try:
            result = lab.down()
            if result.returncode != 0:
                problems.append(explain(result))
        except subprocess.TimeoutExpired as exc:
            problems.append(f"down of {lab.name} timed out: {exc}")
    assert not problems, "\n".join(problems)


@pytest.fixture
def lab(make_lab) -> Lab:
    return make_lab()


# -- pure tests ----------------------------------------------------------------------------------

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
    from podnet.core.spec import build_spec

    def _make(node_count: int = 3, pods: list | None = None, **kwargs):
        nodes = [(f"node-{i}", "control-plane" if i == 1 else "worker") for i in range(1, node_count + 1)]
        return build_spec(nodes=nodes, pods=pods or [], **kwargs)

    return _make


@pytest.fixture
def three_node_state(make_spec):
    """Plan of a 3-node lab with one pinned and one unbound Pod."""
    from podnet.lab.initial import initial_state

    return initial_state(make_spec(3, pods=[("pod-a", "node-1"), ("pod-b", None)]))
