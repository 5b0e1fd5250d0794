"""``kubectl apply``, ``kubectl delete`` and ``kubectl label`` against a lab's state, checked first.

Mirrors the API server plus the controllers that act on what it stores: admission and
validation against what exists (a Pod's spec is immutable but its labels are not, a Service
keeps its ClusterIP, a taken nodePort is "provided port is already allocated", a namespaced
object needs its Namespace), the Deployment controller (:mod:`~podnet.k8s.workloads.deployments`),
Namespaces (:mod:`~podnet.k8s.workloads.namespaces`), NetworkPolicies
(:mod:`~podnet.k8s.workloads.policies_api`) and the scheduler
(:func:`podnet.k8s.workloads.scheduler.schedule`). Every call works on a copy: if any object
is invalid, the caller's state is untouched and nothing in the kernel has been asked to change.
Deviations: Pod names are unique across namespaces (each names a network namespace). Pure:
the caller makes the kernel follow (sandboxes, servers, rules).
"""

from __future__ import annotations

import copy
import secrets
from typing import Callable

from podnet.core.errors import InputError
from podnet.core.model import LabState, PodState
from podnet.core.naming import RESERVED_NAMES
from podnet.k8s.workloads.deployments import SAFE_ALPHABET, apply_deployment, reconcile_deployment, template_hash
from podnet.k8s.workloads.manifests import (
    DeploymentObject, InvalidObject, NamespaceObject, NetworkPolicyObject, PodObject, WorkloadObject,
)
from podnet.k8s.workloads.namespaces import apply_namespace, delete_namespace, require
from podnet.k8s.workloads.policies_api import apply_policy, delete_policy
from podnet.k8s.workloads.results import ApplyResult, ref, remove_pod
from podnet.k8s.workloads.scheduler import schedule
from podnet.k8s.workloads.services_api import apply_service

__all__ = ["SAFE_ALPHABET", "ApplyResult", "KINDS", "apply_objects", "delete_listed", "delete_objects", "template_hash"]

KINDS = {"pod": "Pod", "pods": "Pod", "po": "Pod", "deployment": "Deployment", "deployments": "Deployment",
         "deploy": "Deployment", "service": "Service", "services": "Service", "svc": "Service",
         "namespace": "Namespace", "namespaces": "Namespace", "ns": "Namespace",
         "networkpolicy": "NetworkPolicy", "networkpolicies": "NetworkPolicy", "netpol": "NetworkPolicy"}
KIND_WORDS = "pod, deployment, service, namespace or networkpolicy (po, deploy, svc, ns, netpol)"


def apply_objects(state: LabState, objects: list[WorkloadObject],
                  rand: Callable[[int], int] = secrets.randbelow) -> tuple[LabState, ApplyResult]:
    """The state after applying ``objects`` (in order), and what changed. Raises InputError
    (nothing changed) if any object is invalid here."""
    new = copy.deepcopy(state)
    result = ApplyResult()
    if new.spec.model == "docker":
        raise InputError("kind", objects[0].kind if objects else "", "a Docker-model lab has no Kubernetes API: "
                         "start a Kubernetes lab to apply manifests")
    for obj in objects:
        if isinstance(obj, NamespaceObject):
            apply_namespace(new, obj, result)
            continue
        require(new, obj.namespace)
        if isinstance(obj, PodObject):
            _apply_pod(new, obj, result, rand)
        elif isinstance(obj, DeploymentObject):
            apply_deployment(new, obj, result, rand)
        elif isinstance(obj, NetworkPolicyObject):
            apply_policy(new, obj, result)
        else:
            apply_service(new, obj, result)
    schedule(new)
    return new, result


def _apply_pod(state: LabState, obj: PodObject, result: ApplyResult, rand) -> None:
    if obj.node_name is not None and obj.node_name not in state.nodes:
        raise InvalidObject("Pod", obj.name, "spec.nodeName", obj.node_name,
                            "must name a node of the lab (" + ", ".join(state.nodes) + ")")
    if obj.name in state.nodes or obj.name in RESERVED_NAMES:
        raise InputError("metadata.name", obj.name, "is the name of a node or of the lab's own hosts "
                         "(underlay, router, internet, external); Pods and nodes share network namespace names")
    ports = [p.to_json() for p in obj.ports]
    existing = state.pods.get(obj.name)
    if existing is None:
        state.pods[obj.name] = PodState(name=obj.name, node=obj.node_name, namespace=obj.namespace,
                                        labels=dict(obj.labels), ports=ports, containers=list(obj.containers))
        result.created_pods.append(obj.name)
        result.lines.append(f"{ref('Pod', obj.name)} created")
        return
    if existing.namespace != obj.namespace:
        raise InputError("metadata.name", obj.name, f"a Pod of that name exists in namespace {existing.namespace}; "
                         "podnet keeps Pod names unique across namespaces (each names a network namespace)")
    if existing.owner:
        raise InputError("metadata.name", obj.name, f"belongs to Deployment {existing.owner}; change the Deployment")
    if existing.ports != ports or (obj.node_name is not None and obj.node_name != existing.node):
        raise InputError(f'Pod "{obj.name}"', "spec", "Pod updates may not change fields other than a few; "
                         f"delete it first (podnet delete pod {obj.name}), then apply")
    containers_changed = bool(obj.containers) and existing.containers != list(obj.containers)
    if containers_changed:
        existing.containers = list(obj.containers)  # an image changed: the API keeps what was asked
    if existing.labels == obj.labels:
        result.lines.append(f"{ref('Pod', obj.name)} {'configured' if containers_changed else 'unchanged'}")
        return
    relabel_pod(state, existing, dict(obj.labels), result, rand)
    result.lines.append(f"{ref('Pod', obj.name)} configured")


def relabel_pod(state: LabState, pod: PodState, labels: dict[str, str], result: ApplyResult, rand) -> None:
    """New labels on a Pod. A Deployment's Pod that no longer matches its selector is orphaned,
    and the Deployment makes a replacement, as the ReplicaSet controller does."""
    pod.labels = labels
    deployment = state.deployments.get(pod.owner) if pod.owner else None
    if deployment is not None and any(labels.get(k) != v for k, v in deployment.selector.items()):
        pod.owner = None
        reconcile_deployment(state, deployment, result, rand)


def delete_objects(state: LabState, kind: str, names: list[str], namespace: str,
                   rand: Callable[[int], int] = secrets.randbelow, missing_ok: bool = False) -> tuple[LabState, ApplyResult]:
    """``kubectl delete KIND NAME...``: a Deployment's Pod is replaced (new name, new IP)."""
    canonical = KINDS.get(kind.lower())
    if canonical is None:
        raise InputError("resource type", kind, "use " + KIND_WORDS)
    new = copy.deepcopy(state)
    result = ApplyResult()
    for name in names:
        try:
            _delete_one(new, canonical, name, namespace, result, rand)
        except InputError:
            if not missing_ok or _exists(new, canonical, name, namespace):
                raise
    schedule(new)
    return new, result


def _exists(state: LabState, kind: str, name: str, namespace: str) -> bool:
    if kind == "Pod":
        return name in state.pods and state.pods[name].namespace == namespace
    if kind == "Namespace":
        return name in state.kube_namespaces
    table = {"Deployment": state.deployments, "Service": state.services, "NetworkPolicy": state.policies}[kind]
    return f"{namespace}/{name}" in table


def _delete_one(state: LabState, kind: str, name: str, namespace: str, result: ApplyResult, rand) -> None:
    key = f"{namespace}/{name}"
    if kind == "Pod":
        pod = state.pods.get(name)
        if pod is None or pod.namespace != namespace:
            raise InputError("pod", name, f'pods "{name}" not found in namespace {namespace}')
        remove_pod(state, pod, result)
        result.lines.append(f'pod "{name}" deleted')
        if pod.owner and pod.owner in state.deployments:
            reconcile_deployment(state, state.deployments[pod.owner], result, rand)
    elif kind == "Deployment":
        if key not in state.deployments:
            raise InputError("deployment", name, f'deployments.apps "{name}" not found in namespace {namespace}')
        del state.deployments[key]
        for pod in [p for p in state.pods.values() if p.owner == key]:
            remove_pod(state, pod, result)
        result.lines.append(f'deployment.apps "{name}" deleted')
    elif kind == "Service":
        if key not in state.services:
            raise InputError("service", name, f'services "{name}" not found in namespace {namespace}')
        del state.services[key]
        result.lines.append(f'service "{name}" deleted')
    elif kind == "Namespace":
        delete_namespace(state, name, result)
    else:
        delete_policy(state, name, namespace, result)


def delete_listed(state: LabState, objects: list[WorkloadObject]) -> tuple[LabState, ApplyResult]:
    """``kubectl delete -f FILE``: every object the file names (missing ones are skipped)."""
    current = state
    total = ApplyResult()
    for obj in objects:
        current, result = delete_objects(current, obj.kind, [obj.name], obj.namespace, missing_ok=True)
        total.lines += result.lines
        total.created_pods += result.created_pods
        total.removed_pods += result.removed_pods
    return current, total
