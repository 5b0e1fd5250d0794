"""Processes found by the network namespace they live in, and ended by PID.

Mirrors what a container runtime does when it removes a sandbox: every process still inside
goes, first with SIGTERM, then (after a grace period) with SIGKILL. Processes are found by the
inode of their network namespace, never by name, so a student's own ``ping`` or another lab's
servers are never touched.
"""

from __future__ import annotations

import os
import signal
import time

from podnet.kernel.netns import is_same_process, pids_in


def end_processes_in(inodes: set[int], grace: float = 1.0) -> list[int]:
    """SIGTERM every process in one of the namespaces ``inodes``, SIGKILL what is left after
    ``grace`` seconds; returns the PIDs found at first."""
    pids = sorted(pids_in(inodes))
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and pids_in(inodes):
        time.sleep(0.02)
    for pid in pids_in(inodes):
        _signal(pid, signal.SIGKILL)
    return pids


def _signal(pid: int, number: int) -> None:
    try:
        os.kill(pid, number)
    except ProcessLookupError:
        pass


def end_recorded(pid: int | None, start: str | None, grace: float = 2.0) -> bool:
    """End one process this lab started, if ``pid`` is still that process (its recorded start
    time matches): SIGTERM, then SIGKILL after ``grace``. True if it was running."""
    if not is_same_process(pid, start):
        return False
    _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and is_same_process(pid, start):
        time.sleep(0.02)
    if is_same_process(pid, start):
        _signal(pid, signal.SIGKILL)
    return True
