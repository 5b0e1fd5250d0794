"""``kubectl apply`` and ``kubectl delete`` against a lab's state, all checked before any change.

Mirrors the API server plus the controllers that act on what it stores: admission and
validation against what exists (a Pod's spec is immutable, a Service keeps its ClusterIP,
a taken nodePort is "provided port is already allocated"), the Deployment controller (as
many Pods as ``replicas``, named ``<deployment>-<template hash>-<5 random characters>``;
a deleted Pod is replaced under a new name, and so gets a new IP), and the scheduler (via
:func:`podnet.k8s.workloads.scheduler.schedule`). Every call works on a copy: if any object is invalid, the
caller's state is untouched and nothing in the kernel has been asked to change.
Deviations: a changed Pod template replaces all of a Deployment's Pods at once (the
Recreate strategy, not a rolling update); scaling down removes the newest Pods first. Pure:
the caller makes the kernel follow (sandboxes, servers, rules).
"""

from __future__ import annotations

import copy
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Callable

from podnet.core.errors import InputError
from podnet.core.model import DeploymentState, LabState, PodState, ServicePortState, ServiceState, add_event
from podnet.core.naming import RESERVED_NAMES
from podnet.k8s.workloads.scheduler import schedule
from podnet.k8s.workloads import allocator
from podnet.k8s.workloads.manifests import (DeploymentObject, InvalidObject, PodObject, ServiceObject, WorkloadObject)

SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # what Kubernetes uses for generated names
DNS_DEPLOYMENT = "kube-system/coredns"
KINDS = {"pod": "Pod", "pods": "Pod", "po": "Pod", "deployment": "Deployment", "deployments": "Deployment",
         "deploy": "Deployment", "service": "Service", "services": "Service", "svc": "Service"}


@dataclass
class ApplyResult:
    lines: list[str] = field(default_factory=list)  # kubectl's "deployment.apps/web created"
    created_pods: list[str] = field(default_factory=list)
    removed_pods: list[PodState] = field(default_factory=list)


def _random_suffix(rand: Callable[[int], int]) -> str:
    return "".join(SAFE_ALPHABET[rand(len(SAFE_ALPHABET))] for _ in range(5))


def template_hash(obj: DeploymentObject) -> str:
    text = repr((sorted(obj.template_labels.items()), obj.node_name, [p.to_json() for p in obj.ports]))
    digest = hashlib.sha256(text.encode()).digest()
    return "".join(SAFE_ALPHABET[b % len(SAFE_ALPHABET)] for b in digest[:10])


def _ref(kind: str, name: str) -> str:
    return {"Pod": "pod", "Deployment": "deployment.apps", "Service": "service"}[kind] + "/" + name


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
        if isinstance(obj, PodObject):
            _apply_pod(new, obj, result)
        elif isinstance(obj, DeploymentObject):
            _apply_deployment(new, obj, result, rand)
        else:
            _apply_service(new, obj, result)
    schedule(new)
    return new, result


def _check_node(state: LabState, kind: str, name: str, path: str, node: str | None) -> None:
    if node is not None and node not in state.nodes:
        raise InvalidObject(kind, name, path, node, "must name a node of the lab (" + ", ".join(state.nodes) + ")")


def _apply_pod(state: LabState, obj: PodObject, result: ApplyResult) -> None:
    _check_node(state, "Pod", obj.name, "spec.nodeName", obj.node_name)
    if obj.name in state.nodes or obj.name in RESERVED_NAMES:
        raise InputError("metadata.name", obj.name, "is the name of a node or of the lab's own hosts "
                         "(underlay, router, internet, external); Pods and nodes share network namespace names")
    ports = [p.to_json() for p in obj.ports]
    existing = state.pods.get(obj.name)
    if existing is not None:
        if existing.namespace != obj.namespace:
            raise InputError("metadata.name", obj.name, f"a Pod of that name exists in namespace {existing.namespace}; "
                             "podnet keeps Pod names unique across namespaces (each names a network namespace)")
        if existing.owner:
            raise InputError("metadata.name", obj.name, f"belongs to Deployment {existing.owner}; change the Deployment")
        same = (existing.labels == obj.labels and existing.ports == ports
                and (obj.node_name is None or obj.node_name == existing.node))
        if not same:
            raise InputError(f'Pod "{obj.name}"', "spec", "Pod updates may not change fields other than a few; "
                             f"delete it first (podnet delete pod {obj.name}), then apply")
        result.lines.append(f"{_ref('Pod', obj.name)} unchanged")
        return
    pod = PodState(name=obj.name, node=obj.node_name, namespace=obj.namespace, labels=dict(obj.labels), ports=ports)
    state.pods[obj.name] = pod
    result.created_pods.append(obj.name)
    result.lines.append(f"{_ref('Pod', obj.name)} created")


def _apply_deployment(state: LabState, obj: DeploymentObject, result: ApplyResult, rand) -> None:
    _check_node(state, "Deployment", obj.name, "spec.template.spec.nodeName", obj.node_name)
    key = f"{obj.namespace}/{obj.name}"
    ports = [p.to_json() for p in obj.ports]
    wanted_hash = template_hash(obj)
    current = state.deployments.get(key)
    if current is None:
        current = DeploymentState(obj.name, obj.namespace, obj.replicas, dict(obj.selector), dict(obj.template_labels),
                                  ports, obj.node_name, wanted_hash)
        state.deployments[key] = current
        verb = "created"
    else:
        changed_template = current.template_hash != wanted_hash
        verb = "configured" if changed_template or current.replicas != obj.replicas or current.selector != obj.selector else "unchanged"
        if current.selector != obj.selector:
            raise InvalidObject("Deployment", obj.name, "spec.selector", "{...}", "field is immutable")
        if changed_template:
            for pod in [p for p in state.pods.values() if p.owner == key]:
                _remove_pod(state, pod, result)
            add_event(current.events, "Normal", "ScalingReplicaSet",
                      f"Replaced all Pods of template {current.template_hash} with template {wanted_hash}", "deployment-controller")
        current.replicas, current.template_labels, current.ports = obj.replicas, dict(obj.template_labels), ports
        current.node_name, current.template_hash = obj.node_name, wanted_hash
    reconcile_deployment(state, current, result, rand)
    result.lines.append(f"{_ref('Deployment', obj.name)} {verb}")


def reconcile_deployment(state: LabState, deployment: DeploymentState, result: ApplyResult, rand=secrets.randbelow) -> None:
    """Create or remove Pods until the Deployment has ``replicas`` of them."""
    owned = sorted((p for p in state.pods.values() if p.owner == deployment.key), key=lambda p: p.created)
    for pod in owned[deployment.replicas:][::-1]:
        _remove_pod(state, pod, result)
        add_event(deployment.events, "Normal", "ScalingReplicaSet", f"Deleted pod: {pod.name}", "replicaset-controller")
    prefix = f"{deployment.name}-{deployment.template_hash}"[:57]
    for _ in range(deployment.replicas - len(owned)):
        while True:
            name = f"{prefix}-{_random_suffix(rand)}"
            if name not in state.pods and name not in _taken_names(state) and \
                    name not in {p.name for p in result.removed_pods}:
                break
        pod = PodState(name=name, node=deployment.node_name, namespace=deployment.namespace,
                       labels=dict(deployment.template_labels), ports=copy.deepcopy(deployment.ports),
                       owner=deployment.key, role="dns" if deployment.key == DNS_DEPLOYMENT else "echo")
        state.pods[name] = pod
        result.created_pods.append(name)
        add_event(deployment.events, "Normal", "SuccessfulCreate", f"Created pod: {name}", "replicaset-controller")


def _taken_names(state: LabState) -> set[str]:
    """Node names share the namespace-name space with Pods."""
    return set(state.nodes)


def _remove_pod(state: LabState, pod: PodState, result: ApplyResult) -> None:
    del state.pods[pod.name]
    if pod.name in result.created_pods:
        result.created_pods.remove(pod.name)
    else:
        result.removed_pods.append(pod)


def _apply_service(state: LabState, obj: ServiceObject, result: ApplyResult) -> None:
    key = f"{obj.namespace}/{obj.name}"
    current = state.services.get(key)
    others = [s for k, s in state.services.items() if k != key]
    taken_ips = [s.cluster_ip for s in others]
    taken_ports = [p.node_port for s in others for p in s.ports if p.node_port]
    cidr = state.spec.service_cidr
    if current is not None:
        if obj.cluster_ip and obj.cluster_ip != current.cluster_ip:
            raise InvalidObject("Service", obj.name, "spec.clusterIP", obj.cluster_ip, "field is immutable")
        cluster_ip = current.cluster_ip
    elif obj.cluster_ip:
        cluster_ip = allocator.check_requested_ip(obj.name, obj.cluster_ip, cidr, taken_ips)
    else:
        cluster_ip = allocator.allocate_ip(key, cidr, taken_ips)
    ports = []
    for index, port in enumerate(obj.ports):
        node_port = None
        if obj.type == "NodePort":
            own = [p.node_port for p in ports if p.node_port]  # one Service may use a port for TCP and UDP
            if port.node_port is not None and port.node_port in own:
                node_port = port.node_port
            elif port.node_port is not None:
                node_port = allocator.check_requested_node_port(obj.name, index, port.node_port, taken_ports)
            else:
                kept = [p.node_port for p in (current.ports if current else [])
                        if p.node_port and (p.name, p.protocol, p.port) == (port.name, port.protocol, port.port)]
                node_port = kept[0] if kept else allocator.allocate_node_port(f"{key}:{port.name}:{port.port}", taken_ports)
            taken_ports.append(node_port)
        ports.append(ServicePortState(port.name, port.protocol, port.port, port.target_port, node_port))
    service = ServiceState(obj.name, obj.namespace, obj.type, cluster_ip, dict(obj.selector), ports,
                           obj.session_affinity, obj.affinity_timeout)
    if current is not None:
        service.created, service.events = current.created, current.events
        same = (current.type, current.selector, current.ports, current.session_affinity, current.affinity_timeout) == (
            service.type, service.selector, service.ports, service.session_affinity, service.affinity_timeout)
        result.lines.append(f"{_ref('Service', obj.name)} {'unchanged' if same else 'configured'}")
    else:
        result.lines.append(f"{_ref('Service', obj.name)} created")
    state.services[key] = service


def delete_objects(state: LabState, kind: str, names: list[str], namespace: str,
                   rand: Callable[[int], int] = secrets.randbelow, missing_ok: bool = False) -> tuple[LabState, ApplyResult]:
    """``kubectl delete KIND NAME...``: a Deployment's Pod is replaced (new name, new IP)."""
    canonical = KINDS.get(kind.lower())
    if canonical is None:
        raise InputError("resource type", kind, "use pod, deployment or service (po, deploy, svc)")
    new = copy.deepcopy(state)
    result = ApplyResult()
    for name in names:
        if canonical == "Pod":
            pod = new.pods.get(name)
            if pod is None or pod.namespace != namespace:
                if missing_ok:
                    continue
                raise InputError("pod", name, f'pods "{name}" not found in namespace {namespace}')
            _remove_pod(new, pod, result)
            result.lines.append(f'pod "{name}" deleted')
            if pod.owner and pod.owner in new.deployments:
                reconcile_deployment(new, new.deployments[pod.owner], result, rand)
        elif canonical == "Deployment":
            key = f"{namespace}/{name}"
            if key not in new.deployments:
                if missing_ok:
                    continue
                raise InputError("deployment", name, f'deployments.apps "{name}" not found in namespace {namespace}')
            del new.deployments[key]
            for pod in [p for p in new.pods.values() if p.owner == key]:
                _remove_pod(new, pod, result)
            result.lines.append(f'deployment.apps "{name}" deleted')
        else:
            key = f"{namespace}/{name}"
            if key not in new.services:
                if missing_ok:
                    continue
                raise InputError("service", name, f'services "{name}" not found in namespace {namespace}')
            del new.services[key]
            result.lines.append(f'service "{name}" deleted')
    schedule(new)
    return new, result


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
