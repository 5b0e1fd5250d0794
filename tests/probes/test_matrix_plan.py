"""The matrix's pairs and its samples (podnet.probes.matrix_plan): every ordered pair once,
in order, without a Pod to itself; a sample that is drawn from indexes (never from a list of
every pair), the same for the same seed, and every pair when more are asked for than exist.
Pure logic: no lab."""

from __future__ import annotations

import time

import pytest

from podnet.probes.matrix_plan import Pairs, Sample, floyd


def names(pods: int, nodes: int) -> tuple[list[str], list[str]]:
    targets = [f"pod-{i}" for i in range(pods)]
    return targets + [f"node-{i}" for i in range(nodes)], targets


@pytest.mark.parametrize("pods, nodes", [(1, 0), (1, 2), (2, 0), (6, 3), (7, 1)])
def test_every_pair_once_in_order_and_locate_agrees(pods, nodes):
    sources, targets = names(pods, nodes)
    plan = Pairs(sources, targets)
    wanted = [(s, t) for s in range(len(sources)) for t in range(pods) if sources[s] != targets[t]]
    src, dst = plan.every()
    assert list(zip(src, dst)) == wanted
    assert plan.total == len(wanted) == pods * (pods - 1) + nodes * pods
    assert [plan.locate(m) for m in range(plan.total)] == wanted
    for outside in (-1, plan.total):
        with pytest.raises(IndexError):
            plan.locate(outside)


def test_sources_must_start_with_the_targets():
    with pytest.raises(ValueError):
        Pairs(["node-1", "pod-1"], ["pod-1"])
    with pytest.raises(ValueError):
        Pairs(["pod-1", "pod-1"], ["pod-1"])


def test_a_sample_is_the_same_for_the_same_seed_and_another_for_another():
    sources, targets = names(100, 10)
    plan = Pairs(sources, targets)
    first = plan.draw(Sample(500, 7))
    again = plan.draw(Sample(500, 7))
    other = plan.draw(Sample(500, 8))
    pairs = list(zip(*first))
    assert pairs == list(zip(*again))
    assert pairs != list(zip(*other))
    assert len(set(pairs)) == 500 and pairs == sorted(pairs)
    assert all(sources[s] != targets[t] for s, t in pairs)


def test_asking_for_more_than_there_is_runs_every_pair():
    sources, targets = names(3, 1)
    plan = Pairs(sources, targets)
    sample = Sample(10**6, 1)
    assert list(zip(*plan.draw(sample))) == list(zip(*plan.every()))
    assert sample.everything and sample.drawn == sample.total == plan.total == 9
    assert sample.to_json() == {"sample": 10**6, "seed": 1, "pairs_total": 9, "pairs_sampled": 9, "sample_all": True}
    exact = Sample(9, 1)
    plan.draw(exact)
    assert exact.everything


def test_a_ten_thousand_pod_lab_is_sampled_without_listing_its_pairs():
    sources, targets = names(10_000, 100)
    plan = Pairs(sources, targets)
    assert plan.total == 10_000 * 9_999 + 100 * 10_000 == 100_990_000
    started = time.perf_counter()
    sample = Sample(2_000, 12345)
    src, dst = plan.draw(sample)
    elapsed = time.perf_counter() - started
    print(f"2,000 of {plan.total:,} pairs drawn in {elapsed * 1000:.1f} ms")
    assert sample.drawn == len(src) == len(set(zip(src, dst))) == 2_000
    assert all(sources[s] != targets[t] for s, t in zip(src, dst))
    assert any(s >= 10_000 for s in src) and any(s < 10_000 for s in src)  # node rows and Pod rows, ~1% and ~99%
    assert list(zip(src, dst)) == list(zip(*plan.draw(Sample(2_000, 12345))))


def test_floyd_draws_distinct_numbers_below_the_total_and_covers_the_range():
    chosen = floyd(1000, 999, 3)
    assert len(chosen) == 999 and chosen <= set(range(1000))
    counts = [0] * 10
    for seed in range(200):
        for m in floyd(100, 10, seed):
            counts[m // 10] += 1
    assert min(counts) > 100 and max(counts) < 300, counts  # 200 on average in each tenth
