"""What a component needs in hand to act on a lab: its state, its files, its kernel handles.

Mirrors nothing in Kubernetes (a real component has its own process, informers and a node's
kernel); in podnet every component of a lab runs in one process and shares one namespace
worker thread and one netlink socket per namespace. ``save`` writes the state file, so a
component can put an intent on record (a namespace it is about to make) before acting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from podnet.core.model import LabState
from podnet.kernel.netlink import Sockets
from podnet.kernel.netns import NetnsWorker
from podnet.kernel.state_file import LabPaths


@dataclass
class KernelContext:
    state: LabState
    paths: LabPaths
    worker: NetnsWorker
    sockets: Sockets
    save: Callable[[], None]

    @property
    def lab(self) -> str:
        return self.state.name
