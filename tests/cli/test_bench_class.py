"""``podnet bench --class N``: a class of labs up at once, every matrix passing, all gone after."""

from __future__ import annotations

import json
import os

import pytest

from podnet.cli import bench_class
from podnet.core.errors import InputError
from tests.support.processes import explain, netns_list, podnet

pytestmark = pytest.mark.xdist_group("bench-class")  # its lab names are fixed: one run at a time


@pytest.mark.parametrize("value", ["x", "-1", "61", "1.5", ""])
def test_a_bad_class_size_is_refused(value):
    with pytest.raises(InputError, match="class"):
        bench_class.check_class(value)


def test_a_bad_class_size_on_the_command_line_is_one_line_and_exit_2():
    result = podnet("bench", "--class", "sixty")
    assert result.returncode == 2 and result.stdout == "", explain(result)
    (line,) = result.stderr.splitlines()
    assert line.startswith("podnet bench: ") and "class" in line and "'sixty'" in line, line


def test_the_plan_is_the_default_lab_with_the_web_service():
    (seat, spec), = bench_class.class_plan(1)
    assert seat.lab == "bclass-01" and len(spec.nodes) == 3
    kinds = sorted({doc["kind"] for doc in spec.workloads})
    assert kinds == ["Deployment", "Pod", "Service"], kinds


@pytest.mark.root
def test_a_class_of_two_comes_up_passes_its_matrices_and_leaves_nothing():
    if os.geteuid() != 0:
        pytest.skip("needs root")
    result = podnet("bench", "--class", "2", "-o", "json", timeout=600)
    assert result.returncode == 0, explain(result)
    row = json.loads(result.stdout)
    assert row["labs"] == 2 and row["up"] == 2 and row["matrices_passed"] == 2, row
    assert row["matrix_pairs"] > 0 and row["left"] == [] and row["up_s"] > 0 and row["down_s"] >= 0, row
    assert not [ns for ns in netns_list() if ns.startswith(bench_class.CLASS_PREFIX + "-")]
