"""Where a lab's state lives on disk, and who may touch it.

Mirrors nothing in Kubernetes (whose state is in etcd); it plays the part of containerlab's
lab directory: ``/run/podnet/<lab>/`` holds ``state.json`` (spec, nodes, Pods, the list of
every namespace the lab may have made), the per-node CNI config and IPAM directories and a
lock. Creating the directory is the atomic claim on a lab name, so a second lab with the
same name is refused before anything is touched. Files are 0600, directories 0700.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass

from podnet.core.errors import LabConflict
from podnet.core.model import LabState

RUN_DIR = os.environ.get("PODNET_RUN_DIR", "/run/podnet")


@dataclass(frozen=True)
class LabPaths:
    lab: str

    @property
    def root(self) -> str:
        return os.path.join(RUN_DIR, self.lab)

    @property
    def state_file(self) -> str:
        return os.path.join(self.root, "state.json")

    @property
    def lock_file(self) -> str:
        return os.path.join(self.root, "lock")

    def cni_dir(self, node: str) -> str:
        return os.path.join(self.root, "cni", node)

    def ipam_dir(self, node: str) -> str:
        return os.path.join(self.root, "ipam", node)

    @property
    def dns_dir(self) -> str:
        return os.path.join(self.root, "dns")

    @property
    def dns_zone(self) -> str:
        """The cluster DNS's records, which its server reloads when they change."""
        return os.path.join(self.dns_dir, "zone.json")

    def resolv_conf(self, namespace: str) -> str:
        """The resolv.conf of the Pods of one Kubernetes namespace."""
        return os.path.join(self.dns_dir, f"resolv.{namespace}.conf")

    @property
    def logs_dir(self) -> str:
        return os.path.join(self.root, "logs")

    @property
    def activity_dir(self) -> str:
        """The last probes, traces, requests, matrices and checks, one file each (podnet web draws them)."""
        return os.path.join(self.root, "activity")


def claim(lab: str, initial: LabState) -> LabPaths:
    """Create the lab directory and its first state; refuse if a lab of that name exists
    (running or crashed). Either the claim completes or nothing of it is left."""
    os.makedirs(RUN_DIR, mode=0o700, exist_ok=True)
    paths = LabPaths(lab)
    try:
        os.mkdir(paths.root, 0o700)
    except FileExistsError:
        raise LabConflict(
            f"lab {lab!r} already exists: stop it with 'podnet down --name {lab}' "
            f"(or 'podnet clean --name {lab}' if it crashed), or pick another --name"
        ) from None
    try:
        os.mkdir(os.path.join(paths.root, "cni"), 0o700)
        os.mkdir(os.path.join(paths.root, "ipam"), 0o700)
        save(paths, initial)
    except BaseException:
        shutil.rmtree(paths.root, ignore_errors=True)
        raise
    return paths


def age(lab: str) -> float:
    """Seconds since the lab's directory was made (0 if there is none)."""
    try:
        return max(time.time() - os.stat(LabPaths(lab).root).st_mtime, 0.0)
    except FileNotFoundError:
        return 0.0


def exists(lab: str) -> bool:
    return os.path.isdir(LabPaths(lab).root)


def save(paths: LabPaths, state: LabState) -> None:
    """Write state.json atomically (temp file + rename), mode 0600."""
    fd, tmp = tempfile.mkstemp(prefix=".state-", dir=paths.root)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            # dumps, not dump: only a one-shot encode uses the C encoder (ten times faster)
            handle.write(json.dumps(state.to_json(), separators=(",", ":")))
        os.replace(tmp, paths.state_file)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def load(lab: str) -> LabState:
    paths = LabPaths(lab)
    try:
        with open(paths.state_file, encoding="utf-8") as handle:
            return LabState.from_json(json.load(handle))
    except FileNotFoundError:
        if os.path.isdir(paths.root):
            raise LabConflict(f"lab {lab!r} is still starting (or crashed before it saved its state)") from None
        raise LabConflict(f"no lab named {lab!r} is running (see 'podnet list')") from None


def load_raw(lab: str) -> dict | None:
    try:
        with open(LabPaths(lab).state_file, encoding="utf-8") as handle:
            return json.load(handle)
    except (FileNotFoundError, ValueError):
        return None


def list_labs() -> list[str]:
    try:
        return sorted(e for e in os.listdir(RUN_DIR) if os.path.isdir(os.path.join(RUN_DIR, e)))
    except FileNotFoundError:
        return []


def remove(paths: LabPaths) -> bool:
    if not os.path.isdir(paths.root):
        return False
    shutil.rmtree(paths.root, ignore_errors=True)
    return True


class LabLock:
    """An exclusive flock on the lab, held while a command changes it."""

    def __init__(self, paths: LabPaths):
        self.paths = paths
        self.fd = -1

    def __enter__(self) -> "LabLock":
        self.fd = os.open(self.paths.lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
