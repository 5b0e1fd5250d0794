"""The API server's view of the lab: every object with a resourceVersion, and the stream of
changes a watch reads.

Mirrors kube-apiserver's watch cache over etcd: one revision counter for the whole cluster; an
object's ``metadata.resourceVersion`` is the revision that last changed it, a list carries the
current revision, and a watch from revision N replays every change after N (410 Gone when N is
older than the events kept). The source of truth is the lab's state file, whoever saved it
(podnet or kubectl through this server): the store re-reads it when the file changes (polled
every POLL seconds, and at once after this server's own writes) and diffs the objects.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
import traceback
from collections import deque
from typing import Any

from podnet.core.errors import PodnetError
from podnet.kernel import state_file
from podnet.web.kubeapi.annotations import Annotations
from podnet.web.kubeapi.objects import Key, iso, snapshot

POLL = 0.05
KEEP_EVENTS = 4096


class Gone(Exception):
    """The resourceVersion asked for is older than the events kept."""


class Store:
    def __init__(self, lab: str, annotations_path: str | None = None):
        self.lab = lab
        self.annotations = Annotations(annotations_path or os.path.join(state_file.LabPaths(lab).root, "apiserver",
                                                                        "annotations.json"))
        self.revision = 1
        self.current: tuple[dict[Key, dict], int] = ({}, 1)  # the objects and revision of one moment
        self.events: deque = deque(maxlen=KEEP_EVENTS)  # (revision, type, key, object)
        self.oldest = 1
        self.gone = False
        self._mtime: tuple[int, int, int] = (-1, -1, -1)
        self._lock = threading.Lock()
        self._waiters: set[asyncio.Event] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.refresh()

    def _state_mtime(self) -> tuple[int, int, int]:
        """The state file's version: it is replaced on every save (a new inode), so inode, time
        and size together tell saves apart even within one tick of the file system's clock."""
        try:
            info = os.stat(state_file.LabPaths(self.lab).state_file)
        except OSError:
            return (0, 0, 0)
        return (info.st_ino, info.st_mtime_ns, info.st_size)

    def refresh(self, force: bool = False) -> bool:
        """Re-read the state if it changed (or when forced); True when any object did."""
        with self._lock:
            mtime = self._state_mtime()
            if mtime == self._mtime and not force:
                return False
            self._mtime = mtime
            try:
                state = state_file.load(self.lab) if mtime[0] else None
            except (PodnetError, OSError, ValueError):
                state = None
            self.gone = state is None
            new = snapshot(state) if state is not None else {}
            if state is not None:
                self._annotate(new)
            return self._apply(new)

    def _annotate(self, objects: dict[Key, dict]) -> None:
        keys = {self.annotations.key(*key) for key in objects}
        self.annotations.keep_only(keys)
        for key, obj in objects.items():
            extra = self.annotations.get(*key)
            if extra:
                obj["metadata"]["annotations"] = {**obj["metadata"].get("annotations", {}), **extra}

    def _apply(self, new: dict[Key, dict]) -> bool:
        changed = []
        for key, obj in new.items():
            old = self.objects.get(key)
            if old is None:
                changed.append(("ADDED", key, obj))
            elif _body(old) != _body(obj):
                changed.append(("MODIFIED", key, obj))
            else:
                obj["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        deleted = [("DELETED", key, _deleted(self.objects[key])) for key in self.objects if key not in new]
        for kind, key, obj in deleted + changed:  # a Pod goes before its replacement comes, as in a cluster
            self.revision += 1
            obj = dict(obj, metadata=dict(obj["metadata"], resourceVersion=str(self.revision)))
            if kind != "DELETED":
                new[key] = obj
            if len(self.events) == self.events.maxlen:
                self.oldest = self.events[0][0] + 1
            self.events.append((self.revision, kind, key, obj))
        for key, obj in new.items():
            obj["metadata"].setdefault("resourceVersion", str(self.revision))
        self.current = (new, self.revision)  # published together: a list reads both from one moment
        if changed or deleted:
            self._wake()
        return bool(changed or deleted)

    # -- reading ---------------------------------------------------------------------------------

    @property
    def objects(self) -> dict[Key, dict]:
        return self.current[0]

    def get(self, resource: str, namespace: str, name: str) -> dict | None:
        return self.objects.get((resource, namespace, name))

    def list(self, resource: str, namespace: str | None) -> list[dict]:
        return self.view(resource, namespace)[0]

    def view(self, resource: str, namespace: str | None) -> tuple[list[dict], int]:
        """One resource's objects and the revision they are as of, from one consistent moment
        (a refresh on another thread publishes both together)."""
        objects, revision = self.current
        items = [o for (r, ns, _), o in objects.items() if r == resource and (namespace is None or ns == namespace)]
        return sorted(items, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"])), revision

    def since(self, revision: int, resource: str, namespace: str | None) -> list[tuple[int, str, dict]]:
        """The changes of one resource after ``revision``; Gone if they are no longer kept."""
        if revision and revision < self.oldest - 1:
            raise Gone(revision)
        return [(rev, kind, obj) for rev, kind, (r, ns, _), obj in list(self.events)
                if rev > revision and r == resource and (namespace is None or ns == namespace)]

    # -- waiting ---------------------------------------------------------------------------------

    def waiter(self) -> asyncio.Event:
        event = asyncio.Event()
        self._waiters.add(event)
        return event

    def drop(self, event: asyncio.Event) -> None:
        self._waiters.discard(event)

    def _wake(self) -> None:
        if self._loop is None:
            return
        for event in list(self._waiters):
            self._loop.call_soon_threadsafe(event.set)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        while True:
            try:
                await self._loop.run_in_executor(None, self.refresh)
            except Exception:  # a bug must not stop every watch: say so in the server's log, go on
                traceback.print_exc(file=sys.stderr)
                await asyncio.sleep(1)
            await asyncio.sleep(POLL)


def _deleted(obj: dict[str, Any]) -> dict[str, Any]:
    """An object's last state, as a DELETED event carries it: with its deletion time."""
    meta = dict(obj["metadata"], deletionGracePeriodSeconds=0)
    meta.setdefault("deletionTimestamp", iso(time.time()))
    return dict(obj, metadata=meta)


def _body(obj: dict[str, Any]) -> str:
    """An object without its resourceVersion, for comparing."""
    meta = {k: v for k, v in obj["metadata"].items() if k != "resourceVersion"}
    return json.dumps(dict(obj, metadata=meta), sort_keys=True)
