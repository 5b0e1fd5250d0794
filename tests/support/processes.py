"""Processes and namespaces, as the root tests see them: the CLI as a child, ``ip netns``, /proc.

Every command runs with an argument list and a timeout, from the repository's root; the CLI
is always ``python -m podnet`` in a child process. Namespaces and processes are looked up by
name and by the inode of their network namespace, never by process name.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterable



REPO = Path(__file__).resolve().parents[2]
TOPOLOGIES = REPO / "topologies"
PODNET = [sys.executable, "-m", "podnet"]
NETNS_DIR = "/run/netns"
# Under pytest-xdist each worker has a lab directory of its own (set by tests/conftest.py),
# so "the only running lab", `podnet list` and `podnet clean` see only that worker's labs.
RUN_DIR = os.environ.get("PODNET_RUN_DIR", "/run/podnet")
CMD_TIMEOUT = 60
UP_TIMEOUT = 120


def run(argv: Iterable[str], *, timeout: float = CMD_TIMEOUT, input: str | None = None,
        check: bool = False) -> subprocess.CompletedProcess:
    argv = [str(a) for a in argv]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input, cwd=REPO)
    if check and result.returncode != 0:
        raise AssertionError(explain(result))
    return result


def explain(result: subprocess.CompletedProcess) -> str:
    return (f"command {result.args!r} exited {result.returncode}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}")


def podnet(*args: str, timeout: float = CMD_TIMEOUT, input: str | None = None,
           check: bool = False) -> subprocess.CompletedProcess:
    return run([*PODNET, *args], timeout=timeout, input=input, check=check)


def wait_until(predicate: Callable[[], object], timeout: float, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def netns_list() -> set[str]:
    """Names printed by ``ip netns list`` (without the ``(id: N)`` suffix)."""
    out = run(["ip", "netns", "list"], check=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def netns_inode(name: str) -> int | None:
    try:
        return os.stat(os.path.join(NETNS_DIR, name)).st_ino
    except FileNotFoundError:
        return None


def _net_inode_of(pid: int) -> int | None:
    try:
        link = os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return None
    match = re.fullmatch(r"net:\[(\d+)\]", link)
    return int(match.group(1)) if match else None


ROOT_NET_INODE = _net_inode_of(os.getpid())


def pids_in(inodes: set[int]) -> set[int]:
    """Live (non-zombie) processes whose network namespace is one of ``inodes``."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _net_inode_of(int(entry)) in inodes:
            found.add(int(entry))
    return found


def alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def run_dir_listing(lab: str | None = None) -> list[str]:
    root = os.path.join(RUN_DIR, lab) if lab else RUN_DIR
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        for entry in dirnames + filenames:
            found.append(os.path.relpath(os.path.join(dirpath, entry), RUN_DIR))
    return sorted(found)


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def kill_pid(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass

