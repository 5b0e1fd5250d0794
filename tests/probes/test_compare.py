"""``podnet compare``: Kubernetes' flat network and Docker's bridge, built side by side on
identical machines and measured with the same probes. Nothing in the result is canned, so
each side's numbers must match what the model does; the two labs are gone afterwards
unless ``--keep``, and a lab of someone else's is never touched."""

from __future__ import annotations

import json
import os

import pytest

from tests.support.labs import assert_refused, new_lab_name
from tests.support.processes import RUN_DIR, UP_TIMEOUT, explain, netns_inode, netns_list, podnet
from tests.support.snapshots import own_view, root_iptables_save

pytestmark = pytest.mark.root


ASPECTS = [
    "addressable unit", "address uniqueness", "another host's workload by its address",
    "source address seen by the receiver", "port mapping needed", "NAT rules on the path between workloads",
]


def lab_exists(name: str) -> bool:
    return os.path.exists(os.path.join(RUN_DIR, name)) or any(n.startswith(name + "-") for n in netns_list())


def run_compare(prefix: str, *args: str):
    return podnet("compare", "--name", prefix, *args, "-o", "json", timeout=UP_TIMEOUT)


def check_sides(data: dict, prefix: str) -> None:
    assert [r["aspect"] for r in data["rows"]] == ASPECTS, data["rows"]
    for row in data["rows"]:
        assert row["kubernetes"] and row["docker"], row

    k8s = data["kubernetes"]
    assert k8s["model"] == "kubernetes" and k8s["lab"] == f"{prefix}-k8s"
    assert k8s["workloads"] == 6 and k8s["uniqueAddresses"] == k8s["workloads"], k8s
    assert k8s["repeatedAddresses"] == {}
    cross = k8s["crossHostByAddress"]
    assert cross["status"] == "reached" and cross["ok"] is True and cross["wrongTarget"] is False, cross
    assert cross["receiver"] == cross["probe"]["target"], cross
    to = k8s["toWorkload"]
    assert to["status"] == "reached" and to["receiver"] == to["probe"]["target"], to
    assert to["source_nat"] is False and to["destination_nat"] is False and to["ok"] is True, to
    assert to["seen_src"] == to["probe"]["source_ip"], to
    assert k8s["natRules"] == 0

    docker = data["docker"]
    assert docker["model"] == "docker" and docker["lab"] == f"{prefix}-docker"
    assert docker["workloads"] == 6 and docker["uniqueAddresses"] < docker["workloads"], docker
    assert docker["uniqueAddresses"] == 2 and len(docker["repeatedAddresses"]) == 2, docker["repeatedAddresses"]
    cross = docker["crossHostByAddress"]
    assert cross["status"] == "reached" and cross["wrongTarget"] is True and cross["ok"] is False, cross
    assert cross["receiver"] != cross["probe"]["target"], cross
    to = docker["toWorkload"]
    assert to["status"] == "reached", to
    assert to["source_nat"] is True and to["destination_nat"] is True and to["ok"] is False, to
    assert to["seen_src"] == "192.168.77.11" and to["seen_dport"] == 80, to
    assert docker["natRules"] > 0, docker["natRules"]
    rows = {r["aspect"]: r for r in data["rows"]}
    assert rows["NAT rules on the path between workloads"] == {"aspect": "NAT rules on the path between workloads", "kubernetes": "0",
                                              "docker": str(docker["natRules"])}


def test_compare_measures_both_models_and_leaves_nothing(make_lab):
    prefix = new_lab_name()
    labs = [make_lab(f"{prefix}-k8s"), make_lab(f"{prefix}-docker")]  # downed afterwards, whatever happens
    root_before = root_iptables_save()
    result = run_compare(prefix)
    assert result.returncode == 0, explain(result)
    check_sides(json.loads(result.stdout), prefix)
    for lab in labs:
        assert not lab_exists(lab.name), f"compare left {lab.name} behind"
        assert lab.namespaces() == set()
    listed = json.loads(podnet("list", "-o", "json", check=True).stdout)
    assert not {r["name"] for r in listed} & {lab.name for lab in labs}, listed
    assert root_iptables_save() == root_before


def test_compare_keep_leaves_both_labs_running(make_lab):
    prefix = new_lab_name()
    k8s, docker = make_lab(f"{prefix}-k8s"), make_lab(f"{prefix}-docker")
    result = run_compare(prefix, "--keep")
    assert result.returncode == 0, explain(result)
    check_sides(json.loads(result.stdout), prefix)
    for lab in (k8s, docker):
        assert lab_exists(lab.name), f"--keep did not keep {lab.name}"
        assert {lab.ns(p) for p in lab.pods()} <= lab.namespaces()
        assert all(p["status"]["phase"] == "Running" for p in lab.pods().values())
    assert {n["spec"]["podCIDR"] for n in docker.nodes().values()} == {"172.17.0.0/16"}
    assert len({n["spec"]["podCIDR"] for n in k8s.nodes().values()}) == 3
    # the text form says so too
    prefix2 = new_lab_name()
    kept = [make_lab(f"{prefix2}-k8s"), make_lab(f"{prefix2}-docker")]
    text = podnet("compare", "--name", prefix2, "--keep", "--nodes", "2", "--pods-per-node", "1", timeout=UP_TIMEOUT)
    assert text.returncode == 0, explain(text)
    assert f"Both labs are still up: --name {prefix2}-k8s and --name {prefix2}-docker" in text.stdout, text.stdout
    assert all(lab_exists(lab.name) for lab in kept)
    assert len(kept[0].pods()) == 2 and len(kept[1].nodes()) == 2


@pytest.mark.parametrize("existing", ["k8s", "docker"])
def test_compare_refuses_when_a_lab_of_that_name_exists(make_lab, existing):
    prefix = new_lab_name()
    other_name = f"{prefix}-{'docker' if existing == 'k8s' else 'k8s'}"
    other = make_lab(other_name)  # must never be created; downed afterwards if it was
    lab = make_lab(f"{prefix}-{existing}")
    lab.up("--pods-per-node", "1")
    namespaces = {n: netns_inode(n) for n in lab.namespaces()}
    pods = lab.pods()
    with open(os.path.join(lab.run_dir, "state.json"), "rb") as handle:
        state = handle.read()

    assert_refused(run_compare(prefix), f"{prefix}-{existing}", "already exists")

    assert {n: netns_inode(n) for n in lab.namespaces()} == namespaces
    assert lab.pods() == pods
    with open(os.path.join(lab.run_dir, "state.json"), "rb") as handle:
        assert handle.read() == state
    assert not lab_exists(other.name)


@pytest.mark.parametrize("args, mentions", [
    (["--nodes", "1"], ["nodes", "1"]),
    (["--nodes", "x"], ["nodes", "x"]),
    (["--pods-per-node", "0"], ["pods-per-node", "0"]),
])
def test_compare_refuses_bad_input(args, mentions):
    prefix = new_lab_name()
    before = own_view()
    assert_refused(podnet("compare", "--name", prefix, *args, timeout=UP_TIMEOUT), *mentions)
    assert own_view() == before
    assert not lab_exists(f"{prefix}-k8s") and not lab_exists(f"{prefix}-docker")


def test_compare_refuses_a_bad_prefix():
    before = own_view()
    assert_refused(podnet("compare", "--name", "Bad_Prefix"), "lab name", "Bad_Prefix")
    assert own_view() == before
