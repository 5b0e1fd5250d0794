"""``podnet probe --all --sample N [--seed S]``: a random but reproducible sample of the matrix.

The same seed on the same lab probes the same pairs; without a seed one is chosen and printed
so the run can be repeated; the sample is stated in the table (first and last line) and in
``-o json``; asking for more pairs than there are runs every pair and says so; a bad N is one
line, exit 2, and nothing runs. A sampled pair that is broken (a Pod whose default route is
deleted inside its own namespace) is still named as failing, and only the pairs it breaks are.
"""

from __future__ import annotations

import os
import re

import pytest

from tests.support.labs import assert_refused, probe_cmd, probe_json
from tests.support.processes import explain

pytestmark = pytest.mark.root

PODS = [f"pod-{n}-{j}" for n in (1, 2, 3) for j in (1, 2)]
NODES = ["node-1", "node-2", "node-3"]
ORDERED_PAIRS = 6 * 5 + 3 * 6  # every Pod and node to every other Pod


def sampled(m: dict) -> set[tuple[str, str]]:
    return {(r["source"], r["target"]) for r in m["results"]}


def activity(lab) -> list[str]:
    directory = os.path.join(lab.run_dir, "activity")
    return sorted(os.listdir(directory)) if os.path.isdir(directory) else []


def test_the_same_seed_probes_the_same_pairs_and_says_so(lab):
    lab.up()
    first = probe_json(lab, "--all", "--sample", "10", "--seed", "2024")
    again = probe_json(lab, "--all", "--sample", "10", "--seed", "2024")
    other = probe_json(lab, "--all", "--sample", "10", "--seed", "2025")
    assert len(sampled(first)) == 10 and sampled(first) == sampled(again), (sampled(first), sampled(again))
    assert sampled(other) != sampled(first)
    for m in (first, again):
        assert m["ok"] is True and m["failed"] == 0, m["failures"]
        assert (m["sample"], m["seed"], m["pairs_total"], m["pairs_sampled"], m["sample_all"]) == \
            (10, 2024, ORDERED_PAIRS, 10, False)
        assert m["pairs"] == 20 and m["protocols"] == ["udp", "tcp"]  # each sampled pair over both protocols
        assert set(m["sources"]) == {s for s, _ in sampled(m)} and set(m["targets"]) == {t for _, t in sampled(m)}
    for source, target in sampled(first):
        assert source != target and target in PODS and source in PODS + NODES

    text = probe_cmd(lab, "--all", "--sample", "10", "--seed", "2024")
    assert text.returncode == 0, explain(text)
    lines = text.stdout.splitlines()
    assert lines[0] == f"sample: 10 of {ORDERED_PAIRS} ordered pairs (source -> target, each over udp+tcp), seed 2024"
    assert lines[-1].endswith("the same pairs again: --sample 10 --seed 2024"), lines[-1]
    listed = {tuple(line.split()[:2]) for line in lines[2:12]}
    assert listed == sampled(first), lines  # a small sample lists its own pairs, nothing else
    assert all(line.split()[2] == "ok" for line in lines[2:12]), lines
    assert any(line.startswith("PASS: 20/20 pairs passed") for line in lines), text.stdout


def test_without_a_seed_one_is_chosen_printed_and_repeats_the_sample(lab):
    lab.up()
    text = probe_cmd(lab, "--all", "--sample", "12", "--protocols", "udp")
    assert text.returncode == 0, explain(text)
    found = re.search(r"--sample 12 --seed (\d+)$", text.stdout.splitlines()[-1])
    assert found, text.stdout
    seed = found.group(1)
    assert f"seed {seed}" in text.stdout.splitlines()[0]
    shown = {tuple(line.split()[:2]) for line in text.stdout.splitlines()[2:14]}
    repeated = probe_json(lab, "--all", "--sample", "12", "--seed", seed, "--protocols", "udp")
    assert repeated["seed"] == int(seed) and sampled(repeated) == shown, (shown, sampled(repeated))


def test_more_than_there_are_runs_every_pair_and_says_so(lab):
    lab.up()
    m = probe_json(lab, "--all", "--sample", "1000", "--seed", "5")
    assert m["sample_all"] is True and m["pairs_sampled"] == ORDERED_PAIRS == len(sampled(m)), m["pairs_sampled"]
    assert m["sample_note"] == f"asked for 1,000 pairs, the lab has {ORDERED_PAIRS}: every pair ran"
    assert m["pairs"] == 2 * ORDERED_PAIRS and m["ok"] is True
    assert m["sources"] == PODS + NODES and m["targets"] == PODS
    text = probe_cmd(lab, "--all", "--sample", "1000", "--seed", "5", "--protocols", "tcp")
    assert text.returncode == 0, explain(text)
    assert text.stdout.splitlines()[0] == (f"sample: 1,000 pairs asked, the lab has only {ORDERED_PAIRS} ordered "
                                           "pairs: every pair ran (seed 5)")


@pytest.mark.parametrize("args, mentions", [
    (["--sample", "0"], ["sample", "'0'", "at least 1"]),
    (["--sample", "-4"], ["sample", "'-4'"]),
    (["--sample", "ten"], ["sample", "'ten'"]),
    (["--sample", "2.5"], ["sample", "'2.5'"]),
    (["--sample", ""], ["sample"]),
    (["--sample", "5", "--seed", "-1"], ["seed", "'-1'"]),
    (["--sample", "5", "--seed", "x"], ["seed", "'x'"]),
    (["--seed", "3"], ["seed", "goes with --sample"]),
], ids=["zero", "negative", "word", "fraction", "empty", "negative-seed", "word-seed", "seed-alone"])
def test_a_bad_sample_is_refused_and_nothing_runs(lab, args, mentions):
    lab.up()
    before = activity(lab)
    assert_refused(probe_cmd(lab, "--all", *args, "-o", "json"), *mentions)
    assert_refused(probe_cmd(lab, "--all", *args), *mentions)
    assert activity(lab) == before  # no matrix was recorded: nothing ran


def test_sample_without_all_is_refused(lab):
    lab.up()
    assert_refused(probe_cmd(lab, "pod-1-1", "pod-2-1", "--sample", "3"), "sample", "goes with --all")


def test_a_broken_pod_is_named_in_the_sample_and_only_its_pairs_fail(lab):
    lab.up()
    removed = lab.in_ns("pod-3-1", "ip", "route", "del", "default")
    assert removed.returncode == 0, explain(removed)
    m = probe_json(lab, "--all", "--sample", "40", "--seed", "77", expect=1)
    pairs = sampled(m)
    assert len(pairs) == 40 and m["sample"] == 40 and m["seed"] == 77
    # pod-3-1 reaches only its own node's subnet, and only that subnet's answers find their way back:
    # its node (which speaks to it from the bridge's address) and pod-3-2 still pass
    same_node = {"pod-3-2", "node-3"}
    broken = {(s, t) for s, t in pairs if (s == "pod-3-1" and t not in same_node)
              or (t == "pod-3-1" and s not in same_node)}
    assert broken, f"the sample of seed 77 holds no pair through pod-3-1: {sorted(pairs)}"
    failed = {(f["source"], f["target"]) for f in m["failures"]}
    assert failed == broken, sorted(failed ^ broken)
    assert {(f["source"], f["target"], f["proto"]) for f in m["failures"]} == \
        {(s, t, p) for s, t in broken for p in ("udp", "tcp")}
    for f in m["failures"]:
        assert f["answered"] is False and f["ok"] is False, f
        if f["source"] == "pod-3-1":
            # refused by its own kernel at once: no route
            assert f["error"] == {"udp": "send failed: Network is unreachable",
                                  "tcp": "connect failed: ENETUNREACH"}[f["proto"]], f
        else:
            assert f["error"].startswith("no answer within"), f  # the answer has no way back
    text = probe_cmd(lab, "--all", "--sample", "40", "--seed", "77", "--protocols", "udp")
    assert text.returncode == 1, explain(text)
    for source, target in broken:
        assert re.search(rf"^  UDP {source} -> {target}: ", text.stdout, re.M), (source, target, text.stdout)
