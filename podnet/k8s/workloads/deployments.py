"""The Deployment controller: a Deployment's Pods, as many as ``replicas``, from its template.

Mirrors the Deployment and ReplicaSet controllers as a networking lab sees them: Pods named
``<deployment>-<template hash>-<5 random characters>`` (so a replacement has a new name and,
from IPAM, a new IP), scaling down removes the newest first, and a changed template replaces
every Pod (the Recreate strategy, not a rolling update). Pure.
"""

from __future__ import annotations

import copy
import hashlib
import secrets
from typing import Callable

from podnet.core.model import DeploymentState, LabState, PodState, add_event
from podnet.k8s.workloads.api_fields import InvalidObject
from podnet.k8s.workloads.objects import DeploymentObject
from podnet.k8s.workloads.results import ApplyResult, ref, remove_pod

SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # what Kubernetes uses for generated names
DNS_DEPLOYMENT = "kube-system/coredns"
POD_TEMPLATE_HASH = "pod-template-hash"  # the label a ReplicaSet's Pods carry


def _check_node(state: LabState, kind: str, name: str, path: str, node: str | None) -> None:
    if node is not None and node not in state.nodes:
        raise InvalidObject(kind, name, path, node, "must name a node of the lab (" + ", ".join(state.nodes) + ")")


def _random_suffix(rand: Callable[[int], int]) -> str:
    return "".join(SAFE_ALPHABET[rand(len(SAFE_ALPHABET))] for _ in range(5))


def template_hash(obj: DeploymentObject) -> str:
    """The Pod template's hash, as the Deployment controller names ReplicaSets and labels their
    Pods (``pod-template-hash``): labels, node, ports and, when the manifest lists them, the
    containers (a new image rolls the Deployment)."""
    parts = (sorted(obj.template_labels.items()), obj.node_name, [p.to_json() for p in obj.ports])
    text = repr(parts + (list(obj.containers),) if obj.containers else parts)
    digest = hashlib.sha256(text.encode()).digest()
    return "".join(SAFE_ALPHABET[b % len(SAFE_ALPHABET)] for b in digest[:10])


def apply_deployment(state: LabState, obj: DeploymentObject, result: ApplyResult, rand) -> None:
    _check_node(state, "Deployment", obj.name, "spec.template.spec.nodeName", obj.node_name)
    key = f"{obj.namespace}/{obj.name}"
    ports = [p.to_json() for p in obj.ports]
    wanted_hash = template_hash(obj)
    current = state.deployments.get(key)
    if current is None:
        current = DeploymentState(obj.name, obj.namespace, obj.replicas, dict(obj.selector), dict(obj.template_labels),
                                  ports, obj.node_name, wanted_hash, containers=list(obj.containers))
        state.deployments[key] = current
        verb = "created"
    else:
        changed_template = current.template_hash != wanted_hash
        verb = ("configured" if changed_template or current.replicas != obj.replicas
                or current.selector != obj.selector else "unchanged")
        if current.selector != obj.selector:
            raise InvalidObject("Deployment", obj.name, "spec.selector", "{...}", "field is immutable")
        if changed_template:
            for pod in [p for p in state.pods.values() if p.owner == key]:
                remove_pod(state, pod, result)
            add_event(current.events, "Normal", "ScalingReplicaSet",
                      f"Replaced all Pods of template {current.template_hash} with template {wanted_hash}", "deployment-controller")
        current.replicas, current.template_labels, current.ports = obj.replicas, dict(obj.template_labels), ports
        current.node_name, current.template_hash = obj.node_name, wanted_hash
        if obj.containers:
            current.containers = list(obj.containers)
    reconcile_deployment(state, current, result, rand)
    result.lines.append(f"{ref('Deployment', obj.name)} {verb}")


def reconcile_deployment(state: LabState, deployment: DeploymentState, result: ApplyResult, rand=secrets.randbelow) -> None:
    """Create or remove Pods until the Deployment has ``replicas`` of them."""
    owned = sorted((p for p in state.pods.values() if p.owner == deployment.key), key=lambda p: p.created)
    for pod in owned[deployment.replicas:][::-1]:
        remove_pod(state, pod, result)
        add_event(deployment.events, "Normal", "ScalingReplicaSet", f"Deleted pod: {pod.name}", "replicaset-controller")
    prefix = f"{deployment.name}-{deployment.template_hash}"[:57]
    gone = {p.name for p in result.removed_pods}  # a name just freed is not handed out again at once
    for _ in range(deployment.replicas - len(owned)):
        while True:
            name = f"{prefix}-{_random_suffix(rand)}"
            if name not in state.pods and name not in state.nodes and name not in gone:
                break
        pod = PodState(name=name, node=deployment.node_name, namespace=deployment.namespace,
                       labels={**deployment.template_labels, POD_TEMPLATE_HASH: deployment.template_hash},
                       ports=copy.deepcopy(deployment.ports),
                       containers=copy.deepcopy(deployment.containers),
                       owner=deployment.key, role="dns" if deployment.key == DNS_DEPLOYMENT else "echo")
        state.pods[name] = pod
        result.created_pods.append(name)
        add_event(deployment.events, "Normal", "SuccessfulCreate", f"Created pod: {name}", "replicaset-controller")
