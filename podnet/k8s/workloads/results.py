"""What an API request did: kubectl's result lines, the Pods created and the Pods removed.

Mirrors the lines kubectl prints (``deployment.apps/web created``, ``service "web"
deleted``) and the bookkeeping the controllers need between a change of the API's objects
and the kernel following it: a Pod created and removed in the same request never existed.
Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from podnet.core.model import LabState, PodState

REFS = {"Pod": "pod", "Deployment": "deployment.apps", "Service": "service", "Namespace": "namespace",
        "NetworkPolicy": "networkpolicy.networking.k8s.io"}


@dataclass
class ApplyResult:
    lines: list[str] = field(default_factory=list)  # kubectl's "deployment.apps/web created"
    created_pods: list[str] = field(default_factory=list)
    removed_pods: list[PodState] = field(default_factory=list)


def ref(kind: str, name: str) -> str:
    """kubectl's ``resource/name`` of an object."""
    return f"{REFS[kind]}/{name}"


def deleted(kind: str, name: str) -> str:
    """kubectl's ``resource "name" deleted``."""
    return f'{REFS[kind]} "{name}" deleted'


def remove_pod(state: LabState, pod: PodState, result: ApplyResult) -> None:
    del state.pods[pod.name]
    if pod.name in result.created_pods:
        result.created_pods.remove(pod.name)
    else:
        result.removed_pods.append(pod)
