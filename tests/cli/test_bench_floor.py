"""``podnet bench --vs-floor``: the same cluster built by ``ip -batch`` and by plain Mininet.

The floors are real (namespaces, veths, bridges, routes, a ping between Pods on two nodes)
and must leave nothing: no namespace of theirs, no link in the root namespace, no shell.
"""

from __future__ import annotations

import json
import os

import pytest

from podnet.cli import bench, bench_floor
from podnet.cli.bench_report import format_table
from podnet.kernel import floor_ipbatch
from podnet.kernel.floor_plan import leftover_namespaces, make_plan
from tests.support.processes import podnet
from tests.support.processes import explain

SPEC = bench.size_spec(3, 2, "builtin", "flr")


def test_the_plan_is_the_labs_nodes_and_every_pod_with_coredns():
    plan = bench_floor.plan_for(SPEC, "ip-batch")
    assert len(plan.nodes) == 3 and len(plan.pods) == 3 * 2 + 1  # CoreDNS is a Pod of the lab too
    assert [n.ip for n in plan.nodes] == ["192.168.77.11", "192.168.77.12", "192.168.77.13"]
    assert all(ns.startswith(plan.tag + "-") for ns in plan.namespaces())
    assert len(set(plan.namespaces())) == len(plan.namespaces())


def test_the_ip_batch_scripts_make_veth_ends_in_their_final_namespaces():
    plan = make_plan("pnfloor-test", [("10.0.0.1", 24, "10.1.0.0/24"), ("10.0.0.2", 24, "10.1.1.0/24")], [1, 1])
    root = floor_ipbatch.root_script(plan)
    assert "link add eth0 netns pnfloor-test-p1-1 type veth peer name veth1 netns pnfloor-test-n1" in root
    inside = floor_ipbatch.namespace_scripts(plan)
    assert "route add 10.1.1.0/24 via 10.0.0.2 dev eth0" in inside["pnfloor-test-n1"]
    assert "route add default via 10.1.0.1 dev eth0" in inside["pnfloor-test-p1-1"]


def test_ratios_divide_podnets_figures_by_the_floors():
    row = {"up_s": 2.0, "down_s": 0.5, "mem_mb": 30.0}
    assert bench_floor.ratios(row, {"up_s": 1.0, "down_s": 0.25, "mem_mb": 0.1}) == {"up": 2.0, "down": 2.0, "mem": None}


@pytest.mark.root
@pytest.mark.parametrize("kind", bench_floor.FLOORS)
def test_a_floor_is_built_verified_by_a_ping_and_leaves_nothing(kind):
    if os.geteuid() != 0:
        pytest.skip("needs root")
    links = bench_floor.root_links()
    sample = bench_floor.measure_floor(kind, SPEC)
    assert sample["verified"].startswith("ping ") and "answered" in sample["verified"], sample
    assert sample["pods"] == 7 and sample["leftovers"] == 0 and sample["root_links_added"] == [], sample
    assert sample["up_s"] > 0 and sample["down_s"] >= 0
    assert bench_floor.root_links() == links
    assert leftover_namespaces(f"pnfloor-{os.getpid()}-") == []


@pytest.mark.root
def test_the_benchmark_prints_podnets_ratios_to_both_floors():
    result = podnet("bench", "--sizes", "3x2", "--vs-floor", "-o", "json", timeout=300)
    assert result.returncode == 0, explain(result)
    (row,) = json.loads(result.stdout)
    assert set(row["floors"]) == set(bench_floor.FLOORS) and set(row["ratios"]) == set(bench_floor.FLOORS)
    for kind in bench_floor.FLOORS:
        floor, ratio = row["floors"][kind], row["ratios"][kind]
        assert floor["leftovers"] == 0 and floor["root_links_added"] == [] and "answered" in floor["verified"]
        assert ratio["up"] == pytest.approx(row["up_s"] / floor["up_s"])
    table = format_table([row])
    header = table.splitlines()[0]
    assert "ip-batch up s" in header and "x ip-batch up" in header and "x mininet mem" in header
    assert f"{row['ratios']['ip-batch']['up']:.2f}" in table.splitlines()[1]
