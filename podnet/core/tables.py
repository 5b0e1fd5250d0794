"""Text tables and ages, printed the way kubectl prints them.

Mirrors kubectl's human-readable printer: left-aligned columns three spaces apart, an empty
cell shown as ``<none>``, and ages as ``45s``, ``12m``, ``5h``, ``3d``. Pure; used by every
view and by the planner's report.
"""

from __future__ import annotations

import time
from typing import Iterable, Sequence


def age(since: float, now: float | None = None) -> str:
    seconds = max(int((now or time.time()) - since), 0)
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 48:
        return f"{hours}h"
    return f"{hours // 24}d"


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Left-aligned columns separated by three spaces, as kubectl prints them."""
    text_rows = [[("<none>" if cell is None or cell == "" else str(cell)) for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in text_rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = ["   ".join(h.ljust(widths[i]) for i, h in enumerate(headers)).rstrip()]
    for row in text_rows:
        lines.append("   ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    return "\n".join(lines)
