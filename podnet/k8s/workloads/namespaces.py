"""Namespaces in the API: the four every cluster starts with, created, relabelled, deleted.

Mirrors the API server and the namespace controller: ``default``, ``kube-system``,
``kube-public`` and ``kube-node-lease`` exist from the start and may not be deleted ("this
namespace may not be deleted"); every Namespace carries ``kubernetes.io/metadata.name`` with
its own name (the API server sets it, whatever the manifest says); a namespaced object in a
namespace that does not exist is refused (``namespaces "x" not found``); deleting a Namespace
deletes everything in it. Deviation: deletion is immediate (no Terminating phase while
finalizers run). Pure.
"""

from __future__ import annotations

from podnet.core.errors import InputError
from podnet.core.model import LabState, NamespaceState
from podnet.k8s.workloads.manifests import NAMESPACE_NAME_LABEL
from podnet.k8s.workloads.objects import NamespaceObject
from podnet.k8s.workloads.results import ApplyResult, deleted, ref, remove_pod

INITIAL = ("default", "kube-node-lease", "kube-public", "kube-system")


class NotFound(InputError):
    """The API server's NotFound, worded as kubectl prints it."""

    def __init__(self, resource: str, name: str, namespace: str | None = None):
        self.field, self.value = resource, name
        where = f" in namespace {namespace}" if namespace else ""
        self.allowed = "not found"
        Exception.__init__(self, f'{resource} "{name}" not found{where}')


def initial_namespaces() -> dict[str, NamespaceState]:
    return {name: NamespaceState(name, {NAMESPACE_NAME_LABEL: name}) for name in INITIAL}


def require(state: LabState, namespace: str) -> None:
    """A namespaced object may only be made in a namespace that exists."""
    if namespace not in state.kube_namespaces:
        raise NotFound("namespaces", namespace)


def apply_namespace(state: LabState, obj: NamespaceObject, result: ApplyResult) -> None:
    labels = {**obj.labels, NAMESPACE_NAME_LABEL: obj.name}
    current = state.kube_namespaces.get(obj.name)
    if current is None:
        state.kube_namespaces[obj.name] = NamespaceState(obj.name, labels)
        result.lines.append(f"{ref('Namespace', obj.name)} created")
        return
    verb = "unchanged" if current.labels == labels else "configured"
    current.labels = labels
    result.lines.append(f"{ref('Namespace', obj.name)} {verb}")


def delete_namespace(state: LabState, name: str, result: ApplyResult) -> None:
    """Everything in it goes with it (its Pods lose their sandboxes when the kernel follows)."""
    if name in INITIAL:
        raise InputError("namespace", name, f'namespaces "{name}" is forbidden: this namespace may not be deleted')
    if name not in state.kube_namespaces:
        raise NotFound("namespaces", name)
    for pod in [p for p in state.pods.values() if p.namespace == name]:
        remove_pod(state, pod, result)
    for table in (state.deployments, state.services, state.policies):
        for key in [k for k, obj in table.items() if obj.namespace == name]:
            del table[key]
    del state.kube_namespaces[name]
    result.lines.append(deleted("Namespace", name))
