"""Which lab names belong to which pytest-xdist worker of this test run.

Every worker writes the names of the labs it makes to a file of its own in a directory shared
by the run (keyed by ``PYTEST_XDIST_TESTRUNUID``); a worker comparing host snapshots treats
the other workers' labs as someone else's. Without xdist there are no other workers.
"""

from __future__ import annotations

import os
import tempfile

RUN_ID = os.environ.get("PYTEST_XDIST_TESTRUNUID")
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
DIRECTORY = os.path.join(tempfile.gettempdir(), f"podnet-tests-{RUN_ID}") if RUN_ID else None


def register(name: str) -> None:
    """Record ``name`` as this worker's, before the lab exists."""
    if DIRECTORY is None:
        return
    os.makedirs(DIRECTORY, mode=0o700, exist_ok=True)
    with open(os.path.join(DIRECTORY, WORKER), "a", encoding="ascii") as handle:
        handle.write(name + "\n")


def other_workers_labs() -> set[str]:
    if DIRECTORY is None or not os.path.isdir(DIRECTORY):
        return set()
    names: set[str] = set()
    for entry in os.listdir(DIRECTORY):
        if entry == WORKER:
            continue
        try:
            with open(os.path.join(DIRECTORY, entry), encoding="ascii") as handle:
                names.update(line.strip() for line in handle if line.strip())
        except OSError:
            continue
    return names
