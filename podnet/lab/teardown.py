"""Taking a lab down by identity, and finding labs whose owner died.

Mirrors ``containerlab destroy`` rather than anything in Kubernetes: what the lab recorded
(every namespace name, written before the namespace was made) is deleted, after the
processes inside those namespaces are ended by PID; nothing is ever found by name. It is
idempotent and best effort: what is already gone is reported, not an error. A lab is stale
when its foreground owner is gone, or its bring-up never finished.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from podnet.core.naming import UNDERLAY_NAME, netns_name
from podnet.kernel import netns, state_file
from podnet.kernel.processes import end_processes_in
from podnet.lab import apiserver

CLAIM_GRACE = 30.0  # seconds a lab directory may exist without its state file


@dataclass
class TeardownReport:
    lab: str
    deleted: list[str] = field(default_factory=list)
    already_gone: list[str] = field(default_factory=list)
    killed: list[int] = field(default_factory=list)
    state_removed: bool = False

    def to_json(self) -> dict:
        return {
            "lab": self.lab, "deletedNamespaces": self.deleted,
            "alreadyGone": self.already_gone, "killedPids": self.killed,
            "stateRemoved": self.state_removed,
        }


def teardown(name: str, namespaces: list[str] | None = None) -> TeardownReport:
    """Delete what lab ``name`` recorded: processes in its namespaces, the namespaces, its files."""
    report = TeardownReport(name)
    server = apiserver.stop(name)  # the lab's API server, in the root namespace: by its recorded PID
    raw = state_file.load_raw(name)
    if namespaces is None:
        namespaces = list(raw.get("namespaces", [])) if raw else []
    expected = _namespaces_that_should_exist(name, raw)
    inodes = {ino for ino in (netns.inode(ns) for ns in namespaces) if ino is not None}
    report.killed = end_processes_in(inodes) + ([server] if server else [])
    for ns in namespaces:
        if netns.delete(ns):
            report.deleted.append(ns)
        elif ns in expected:
            report.already_gone.append(ns)  # made by the lab, removed by someone else
    report.state_removed = state_file.remove(state_file.LabPaths(name))
    return report


def _namespaces_that_should_exist(name: str, raw: dict | None) -> set[str]:
    """Namespaces the saved state says exist (not the whole intent list: a Pending Pod never
    had one)."""
    if not raw or raw.get("status") == "starting":
        return set()
    names = {netns_name(name, UNDERLAY_NAME)}
    names.update(netns_name(name, n["name"]) for n in raw.get("nodes", []))
    names.update(netns_name(name, p["name"]) for p in raw.get("pods", []) if p.get("phase") == "Running")
    return names


def stale_labs() -> list[str]:
    """Labs whose owner died without tearing down: a foreground lab whose process is gone, or a
    bring-up that never finished."""
    stale = []
    for name in state_file.list_labs():
        raw = state_file.load_raw(name)
        if raw is None:
            # No state yet: a lab being claimed this instant, or one that died right then.
            if state_file.age(name) > CLAIM_GRACE:
                stale.append(name)
            continue
        if raw.get("status") == "running" and raw.get("detached"):
            continue
        if not netns.is_same_process(raw.get("ownerPid"), raw.get("ownerStart")):
            stale.append(name)
    return stale
