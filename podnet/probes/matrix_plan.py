"""The pairs of the reachability matrix: every ordered (source, target) pair, or a sample.

Mirrors the pair list of Kubernetes' e2e "Granular Checks": every Pod and every node to
every Pod, except a Pod to itself. Deviation: a big cluster's matrix can be a random but
reproducible sample of those pairs (``probe --all --sample N --seed S``). The sample is
drawn as indexes into the ordered pairs and each index is mapped back to its source and
target, so a 10,000-Pod lab's hundred million pairs are never listed; the same seed on the
same lab (the same Pods and nodes, in the same order) draws the same pairs.
"""

from __future__ import annotations

import random
from array import array
from dataclasses import dataclass

SEED_MAX = 2**32 - 1
DEFAULT_SEED_BELOW = 1_000_000  # a chosen seed is short enough to type again


@dataclass
class Sample:
    """What was asked for and what was drawn."""

    asked: int
    seed: int
    drawn: int = 0
    total: int = 0

    @property
    def everything(self) -> bool:
        """The sample asked for at least every pair there is: every pair runs."""
        return self.asked >= self.total

    def to_json(self) -> dict:
        return {"sample": self.asked, "seed": self.seed, "pairs_total": self.total, "pairs_sampled": self.drawn,
                "sample_all": self.everything}


def choose_seed() -> int:
    return random.SystemRandom().randrange(DEFAULT_SEED_BELOW)


class Pairs:
    """The ordered pairs of ``sources`` x ``targets`` without a Pod to itself.

    ``sources`` starts with the targets themselves (the Pods, in the same order) and may go
    on with sources that are not targets (the nodes). Pair number ``m`` counts row by row:
    a Pod's row has every other target, a node's row every target.
    """

    def __init__(self, sources: list[str], targets: list[str]):
        if sources[:len(targets)] != targets or set(sources[len(targets):]) & set(targets):
            raise ValueError("the sources must be the targets followed by sources that are not targets")
        self.sources, self.targets = sources, targets
        self.pods = len(targets)
        self.others = len(sources) - len(targets)
        self.total = self.pods * max(self.pods - 1, 0) + self.others * self.pods

    def locate(self, m: int) -> tuple[int, int]:
        """(source index, target index) of pair number ``m``."""
        if not 0 <= m < self.total:
            raise IndexError(m)
        width = self.pods - 1
        if m < self.pods * width:
            s, r = divmod(m, width)
            return s, r + (r >= s)
        s, t = divmod(m - self.pods * width, self.pods)
        return self.pods + s, t

    def every(self) -> tuple[array, array]:
        """Every pair, in order, as (source indexes, target indexes)."""
        src, dst = array("i"), array("i")
        others = list(range(self.pods))
        for s in range(self.pods):
            row = others[:s] + others[s + 1:]
            dst.extend(row)
            src.extend([s] * len(row))
        for s in range(self.pods, self.pods + self.others):
            dst.extend(others)
            src.extend([s] * self.pods)
        return src, dst

    def draw(self, sample: Sample) -> tuple[array, array]:
        """``sample.asked`` pairs drawn with ``sample.seed`` (every pair if that many or
        more are asked for), in pair order."""
        sample.total = self.total
        if sample.everything:
            sample.drawn = self.total
            return self.every()
        chosen = sorted(floyd(self.total, sample.asked, sample.seed))
        sample.drawn = len(chosen)
        src, dst = array("i"), array("i")
        for m in chosen:
            s, t = self.locate(m)
            src.append(s)
            dst.append(t)
        return src, dst


def floyd(total: int, n: int, seed: int) -> set[int]:
    """``n`` distinct numbers below ``total``, uniformly (Floyd's algorithm), drawn only from
    ``random.Random(seed).random()``: the one generator output Python promises to keep the
    same across versions for the same seed, so a seed names the same sample everywhere."""
    rng = random.Random(seed)
    chosen: set[int] = set()
    for j in range(total - n, total):
        r = int(rng.random() * (j + 1))
        chosen.add(j if r in chosen else r)
    return chosen
