"""How probe results read for people: the reachability grid and its legend.

Mirrors the summary Kubernetes' e2e networking tests log ("N/M endpoints answered, missing:
...") as a picture: one row per source, one column per target; under NetworkPolicies, the
network-policy e2e tests' truth table (expected against observed), with every mismatch
named. Pure formatting.
"""

from __future__ import annotations

from podnet.probes.matrix import MatrixResult

OK, NAT, MISS, ERR, SELF, OTHER = "ok", "NAT", "--", "ERR", ".", "other"
DROPPED, LEAK = "x", "LEAK"
FULL_GRID_LIMIT = 16
NAMED_COLUMNS_UP_TO = 10  # longer target names: numbered columns


def cell(result: MatrixResult, src: str, dst: str) -> str:
    if src == dst:
        return SELF
    pairs = [result.pairs[(src, dst, p)] for p in result.protocols if (src, dst, p) in result.pairs]
    if all(p.ok for p in pairs):
        return OK if all(p.expected for p in pairs) else DROPPED if not any(p.expected for p in pairs) else OK + "/" + DROPPED
    if any(not p.expected and p.answered for p in pairs):
        return LEAK
    if any(p.error and not p.answered and "no answer" not in p.error for p in pairs):
        return ERR
    if any(not p.answered for p in pairs):
        return MISS
    if any(not p.name_ok for p in pairs):
        return OTHER
    return NAT


def grid(result: MatrixResult, node_of: dict[str, str]) -> str:
    """A full grid for small labs; a node-by-node grid of answered pairs for big ones."""
    if len(result.targets) <= FULL_GRID_LIMIT:
        return _full_grid(result)
    return _node_grid(result, node_of)


def _full_grid(result: MatrixResult) -> str:
    if max(len(t) for t in result.targets) > NAMED_COLUMNS_UP_TO:
        return _numbered_grid(result)
    width = max([len(t) for t in result.targets] + [3])
    head_width = max(len(s) for s in result.sources)
    lines = [" " * head_width + "  " + " ".join(t.rjust(width) for t in result.targets)]
    for src in result.sources:
        lines.append(src.ljust(head_width) + "  " + " ".join(cell(result, src, t).rjust(width) for t in result.targets))
    return "\n".join(lines)


def _numbered_grid(result: MatrixResult) -> str:
    """Long names (a Deployment's Pods): columns are numbered, each row names its number."""
    number = {t: str(i) for i, t in enumerate(result.targets, 1)}
    width = max(len(LEAK), len(str(len(result.targets))))
    label = {s: f"{number.get(s, ''):>{len(str(len(result.targets)))}} {s}" for s in result.sources}
    head_width = max(len(v) for v in label.values())
    lines = [" " * head_width + "  " + " ".join(number[t].rjust(width) for t in result.targets)]
    for src in result.sources:
        lines.append(label[src].ljust(head_width) + "  "
                     + " ".join(cell(result, src, t).rjust(width) for t in result.targets))
    return "\n".join(lines)


def _node_grid(result: MatrixResult, node_of: dict[str, str]) -> str:
    nodes = sorted({node_of[t] for t in result.targets}, key=lambda n: (len(n), n))
    rows = sorted({node_of.get(s, s) for s in result.sources}, key=lambda n: (len(n), n))
    counts: dict[tuple[str, str], list[int]] = {}
    for (src, dst, _proto), pair in result.pairs.items():
        key = (node_of.get(src, src), node_of[dst])
        total = counts.setdefault(key, [0, 0])
        total[1] += 1
        total[0] += pair.ok
    cells = {k: f"{v[0]}/{v[1]}" for k, v in counts.items()}
    width = max([len(c) for c in cells.values()] + [len(n) for n in nodes])
    head = max(len(r) for r in rows) + 2
    lines = ["(pairs that passed, grouped by the source's and the target's node)",
             "from \\ to".ljust(head) + " ".join(n.rjust(width) for n in nodes)]
    for row in rows:
        lines.append(row.ljust(head) + " ".join(cells.get((row, n), "-").rjust(width) for n in nodes))
    return "\n".join(lines)


def legend(result: MatrixResult) -> str:
    protocols = " and ".join(f"{p.upper()} {result.ports[p]}" for p in result.protocols)
    text = (f"{OK}: answered with its own name on {protocols}, and saw the client's own address "
            f"(no NAT)   {NAT}: answered, but saw another source address   {OTHER}: another workload "
            f"answered   {MISS}: no answer   "
            f"{ERR}: the probe could not run")
    if result.policies:
        text += (f"\nunder NetworkPolicies ({', '.join(result.policies)}): {DROPPED}: denied, and dropped as "
                 f"expected   {OK}/{DROPPED}: one protocol allowed, the other denied, both as expected   "
                 f"{LEAK}: answered although denied   {MISS}: not answered although allowed")
    return text


def summary_line(result: MatrixResult) -> str:
    if not result.targets:
        return "FAIL: no Running Pod to probe (see 'podnet get pods')"
    failed = len(result.failures)
    pairs = len(result.pairs)
    rate = pairs / result.seconds if result.seconds else 0.0
    verdict = "PASS" if result.ok else "FAIL"
    shape = (f"({len(result.sources)} sources x {len(result.targets)} Pods, {'+'.join(result.protocols)}) "
             f"in {result.seconds:.2f}s ({rate:,.0f} pairs/s)")
    if not result.policies:
        return f"{verdict}: {pairs - failed}/{pairs} pairs passed {shape}"
    denied = result.denied
    return (f"{verdict}: {pairs - failed}/{pairs} pairs behaved as the NetworkPolicies say "
            f"({pairs - denied} allowed, {denied} denied; {failed} mismatch{'es' if failed != 1 else ''}) {shape}")


def failure_lines(result: MatrixResult, limit: int = 20) -> list[str]:
    lines = []
    for pair in result.failures[:limit]:
        if not pair.expected and pair.answered:
            why = f"answered, but the policies deny it ({pair.why})"
        elif pair.expected and result.policies and pair.error and pair.error.startswith("no answer"):
            why = f"{pair.error}, but the policies allow it ({pair.why})"
        elif pair.error:
            why = pair.error
        elif not pair.name_ok:
            why = f"answered as {pair.answer}: the address reached another workload"
        else:
            why = f"the target saw {pair.seen_source}, not the client's own address"
        lines.append(f"  {pair.proto.upper()} {pair.source} -> {pair.target}: {why}")
    if len(result.failures) > limit:
        lines.append(f"  ... and {len(result.failures) - limit} more (-o json lists them all)")
    return lines


def grid_json(result: MatrixResult, limit: int = 500) -> dict:
    """The grid as the live page draws it: a word per cell, the summary, and each failure's
    evidence (at most ``limit``), without the per-pair records of ``-o json``."""
    return {
        "sources": result.sources, "targets": result.targets, "protocols": list(result.protocols),
        "cells": [[cell(result, src, dst) for dst in result.targets] for src in result.sources],
        "summary": summary_line(result), "legend": legend(result), "ok": result.ok, "policies": result.policies,
        "failures": [{"source": p.source, "target": p.target, "protocol": p.proto, "why": line.split(": ", 1)[1]}
                     for p, line in zip(result.failures[:limit], failure_lines(result, limit))],
    }
