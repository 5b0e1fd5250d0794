"""Which lab names belong to this test process, and which to anyone else's test run.

Every test process (a pytest-xdist worker, or a plain pytest run) writes the names of the labs
it makes to a file of its own, in a directory per test run (keyed by
``PYTEST_XDIST_TESTRUNUID``, or by the process without xdist), under one parent directory that
all runs on the machine share. A process comparing host snapshots treats every lab named in any
other file, of its own run or of another run going on at the same time, as someone else's.
"""

from __future__ import annotations

import glob
import os
import tempfile
import time

PARENT = os.path.join(tempfile.gettempdir(), "podnet-tests")
RUN_ID = os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"pid-{os.getpid()}"
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
DIRECTORY = os.path.join(PARENT, RUN_ID)
OWN_FILE = os.path.join(DIRECTORY, WORKER)


def register(name: str) -> None:
    """Record ``name`` as this process's, before the lab exists."""
    os.makedirs(DIRECTORY, mode=0o700, exist_ok=True)
    with open(OWN_FILE, "a", encoding="ascii") as handle:
        handle.write(name + "\n")


def other_workers_labs() -> set[str]:
    """Labs registered by every other test process on this machine (this run's or another's)."""
    names: set[str] = set()
    for path in glob.glob(os.path.join(PARENT, "*", "*")):
        if path == OWN_FILE:
            continue
        try:
            with open(path, encoding="ascii") as handle:
                names.update(line.strip() for line in handle if line.strip())
        except OSError:
            continue
    return names



def prune_old_runs(max_age: float = 86400.0) -> None:
    """Forget test runs older than a day. A finished run's file is kept until then: another
    run's host snapshot may still be comparing across a lab of it that was going away."""
    now = time.time()
    for path in glob.glob(os.path.join(PARENT, "*")):
        if path == DIRECTORY:
            continue
        try:
            if now - os.path.getmtime(path) > max_age:
                for entry in os.listdir(path):
                    os.remove(os.path.join(path, entry))
                os.rmdir(path)
        except OSError:
            continue
