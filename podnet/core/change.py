"""What changed in a lab's cluster model, as the components that reconcile it are told.

Mirrors the events a Kubernetes component's informers deliver: each component watches some
kinds of objects and, when one of them changes, makes the kernel agree with the new state
(level-triggered: it recomputes what it wants, it does not replay the event). Topics name
what changed: ``lab`` (bring-up: everything), ``cni`` (the CNI config), ``routing`` (the
routing mode), ``pods``, ``services``, ``policies``, and ``resync`` (a periodic or ``podnet
sync`` pass that repairs drift). ``before`` is the model as it was, for components that
must undo what disappeared (kube-proxy's stale UDP conntrack entries); ``removed_pods``
are the Pods whose sandboxes must go. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from podnet.core.model import LabState, PodState

LAB, CNI, ROUTING, PODS, SERVICES, POLICIES, RESYNC = "lab", "cni", "routing", "pods", "services", "policies", "resync"
TOPICS = (LAB, CNI, ROUTING, PODS, SERVICES, POLICIES, RESYNC)

Progress = Callable[[str, int, int], None]


def quiet(_stage: str, _done: int, _total: int) -> None:
    return None


@dataclass
class Change:
    topics: frozenset[str]
    before: LabState | None = None
    removed_pods: list[PodState] = field(default_factory=list)
    strict: bool = True  # the first kernel error raises; otherwise problems are collected

    def __post_init__(self) -> None:
        unknown = set(self.topics) - set(TOPICS)
        if unknown:
            raise ValueError(f"unknown change topics {sorted(unknown)}")

    def touches(self, watched: frozenset[str]) -> bool:
        """Bring-up touches every component; otherwise the watched topics decide."""
        return LAB in self.topics or bool(self.topics & watched)

    @classmethod
    def of(cls, *topics: str, **kwargs) -> "Change":
        return cls(frozenset(topics), **kwargs)
