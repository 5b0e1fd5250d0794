"""The page's live feed: the lab's figure and its last activity, pushed when either changes.

Mirrors a Kubernetes watch (``kubectl get -w``): a client gets the current state first, then
every change, whoever made it. Here the source of truth is the lab's state file (every
command that changes the lab saves it) and its activity records (:mod:`podnet.lab.activity`),
polled every POLL seconds by modification time, so a change from any terminal reaches every
page within about a tenth of a second; each subscriber has a queue of its own, and a slow one
only ever gets the newest figure (older ones are dropped, never queued up).
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from podnet.core.errors import PodnetError
from podnet.kernel import state_file
from podnet.lab import activity
from podnet.web.picture import picture

POLL = 0.1


class Feed:
    def __init__(self, lab: str):
        self.lab = lab
        self.picture: dict[str, Any] | None = None
        self.items: list[dict[str, Any]] = []
        self.gone = False
        self._state_version = self._activity_version = -1
        self._subscribers: set[asyncio.Queue] = set()
        self._task: asyncio.Task | None = None

    # -- reading the lab ------------------------------------------------------------------------

    def _state_mtime(self) -> int:
        try:
            return os.stat(state_file.LabPaths(self.lab).state_file).st_mtime_ns
        except OSError:
            return 0

    def refresh(self) -> list[dict[str, Any]]:
        """Reload what changed; return the messages to send (none when nothing did)."""
        messages = []
        mtime = self._state_mtime()
        if mtime != self._state_version:
            self._state_version = mtime
            messages.append(self._load_picture(mtime))
        version = activity.version(self.lab)
        if version != self._activity_version:
            self._activity_version = version
            self.items = activity.recent(self.lab)
            messages.append(self.activity_message())
        return messages

    def _load_picture(self, mtime: int) -> dict[str, Any]:
        if mtime == 0:
            self.gone, self.picture = True, None
            return {"type": "gone", "lab": self.lab, "at": time.time()}
        try:
            state = state_file.load(self.lab)
        except (PodnetError, OSError, ValueError):
            self.gone, self.picture = True, None
            return {"type": "gone", "lab": self.lab, "at": time.time()}
        self.gone = False
        self.picture = picture(state, version=mtime)
        return self.picture_message()

    def picture_message(self) -> dict[str, Any]:
        if self.picture is None:
            return {"type": "gone", "lab": self.lab, "at": time.time()}
        return {"type": "picture", "picture": self.picture, "at": time.time()}

    def activity_message(self) -> dict[str, Any]:
        return {"type": "activity", "items": self.items, "at": time.time()}

    # -- pushing ---------------------------------------------------------------------------------

    def subscribe(self) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(maxsize=8)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self._subscribers.discard(queue)

    def publish(self, message: dict[str, Any]) -> None:
        for queue in list(self._subscribers):
            if queue.full():
                _drop_oldest(queue)
            queue.put_nowait(message)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            for message in await loop.run_in_executor(None, self.refresh):
                self.publish(message)
            await asyncio.sleep(POLL)

    def start(self) -> None:
        self.refresh()
        self._task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass


def _drop_oldest(queue: asyncio.Queue) -> None:
    try:
        queue.get_nowait()
    except asyncio.QueueEmpty:
        pass
