"""What was last done to a lab from any terminal or page: probes, traces, requests, matrices,
lab checks, captures. ``podnet web`` draws them as they arrive.

Mirrors nothing in Kubernetes (an apiserver audit log is the closest relative). Each record is
one JSON file in the lab's ``activity/`` directory, written whole and renamed into place, so
readers in other processes never see half a record; the newest KEEP stay. Recording never
fails the command that records: a full disk or a lab torn down meanwhile only loses the record.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from typing import Any

from podnet.kernel.state_file import LabPaths

KEEP = 40
KINDS = ("probe", "trace", "connect", "matrix", "check", "capture")


def origin() -> str:
    """Who asked: ``web`` when podnet web ran the command for its page, else ``cli``."""
    return "web" if os.environ.get("PODNET_ACTIVITY_ORIGIN") == "web" else "cli"


def record(lab: str, kind: str, data: dict[str, Any]) -> str | None:
    """Store one record; returns its id, or None when it could not be stored."""
    if kind not in KINDS:
        raise ValueError(f"unknown activity kind {kind!r}")
    directory = LabPaths(lab).activity_dir
    stamp = time.time()
    ident = f"{time.time_ns():020d}-{os.getpid()}-{kind}"
    try:
        if not os.path.isdir(LabPaths(lab).root):
            return None  # the lab is gone: nothing to draw it on
        os.makedirs(directory, mode=0o700, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump({"id": ident, "kind": kind, "at": stamp, "origin": origin(), "data": data}, out)
        os.rename(tmp, os.path.join(directory, ident + ".json"))
        _prune(directory)
    except OSError:
        return None
    return ident


def _prune(directory: str) -> None:
    names = sorted(n for n in os.listdir(directory) if n.endswith(".json"))
    for name in names[:-KEEP]:
        try:
            os.remove(os.path.join(directory, name))
        except OSError:
            pass


def version(lab: str) -> int:
    """Changes whenever a record is added or pruned (the directory's mtime, in ns)."""
    try:
        return os.stat(LabPaths(lab).activity_dir).st_mtime_ns
    except OSError:
        return 0


def recent(lab: str, limit: int = KEEP) -> list[dict[str, Any]]:
    """The newest records, oldest first; unreadable ones are skipped."""
    directory = LabPaths(lab).activity_dir
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith(".json"))[-limit:]
    except OSError:
        return []
    out = []
    for name in names:
        try:
            with open(os.path.join(directory, name), encoding="utf-8") as handle:
                out.append(json.load(handle))
        except (OSError, ValueError):
            continue
    return out
