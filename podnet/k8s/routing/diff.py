"""Diff desired against actual state, the way every Kubernetes controller's sync loop does.

Mirrors the level-triggered reconcile of flannel's route manager and kube-proxy's sync:
compute what should exist, read what does, change only the difference. Pure: the kernel
side (reading and applying) lives in :mod:`podnet.netlink`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from podnet.core.netobjects import Route


@dataclass
class RouteDiff:
    add: list[Route] = field(default_factory=list)
    delete: list[Route] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.add and not self.delete


def diff_routes(desired: set[Route], actual: set[Route]) -> RouteDiff:
    """Routes to delete (owned but unwanted or changed) and to add (wanted but missing).

    A changed route (same destination, other gateway or device) is deleted and re-added.
    """
    return RouteDiff(add=sorted(desired - actual), delete=sorted(actual - desired))
