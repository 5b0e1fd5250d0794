"""The workload objects a lab's API holds once a manifest is valid: Pods, Deployments, Services.

Mirrors the typed API objects kube-apiserver stores (``corev1.Pod``, ``appsv1.Deployment``,
``corev1.Service``, ``corev1.Namespace``, ``networkingv1.NetworkPolicy``), reduced to the
fields a networking lab uses: labels, ``spec.nodeName``, container ports, a Deployment's
replicas, selector and template, a Service's type, selector, ports and session affinity, a
Namespace's labels, a NetworkPolicy's whole spec. Pure data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

NODE_PORT_RANGE = (30000, 32767)


@dataclass(frozen=True)
class ContainerPort:
    container_port: int
    protocol: str = "TCP"
    name: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "containerPort": self.container_port, "protocol": self.protocol}


@dataclass(frozen=True)
class PodObject:
    name: str
    namespace: str
    labels: dict[str, str] = field(default_factory=dict, hash=False)
    node_name: str | None = None
    ports: tuple[ContainerPort, ...] = ()
    kind: str = "Pod"
    containers: tuple = field(default=(), hash=False)  # ({"name", "image", "ports"}, ...) as given


@dataclass(frozen=True)
class DeploymentObject:
    name: str
    namespace: str
    replicas: int
    selector: dict[str, str] = field(hash=False)
    template_labels: dict[str, str] = field(hash=False)
    node_name: str | None = None
    ports: tuple[ContainerPort, ...] = ()
    kind: str = "Deployment"
    containers: tuple = field(default=(), hash=False)


@dataclass(frozen=True)
class ServicePort:
    name: str
    protocol: str
    port: int
    target_port: int | str
    node_port: int | None = None


@dataclass(frozen=True)
class ServiceObject:
    name: str
    namespace: str
    type: str
    selector: dict[str, str] = field(hash=False)
    ports: tuple[ServicePort, ...]
    cluster_ip: str | None = None  # requested spec.clusterIP, or None to allocate
    session_affinity: str = "None"
    affinity_timeout: int = 10800
    kind: str = "Service"


@dataclass(frozen=True)
class NamespaceObject:
    name: str
    labels: dict[str, str] = field(default_factory=dict, hash=False)
    kind: str = "Namespace"

    @property
    def namespace(self) -> str:  # a Namespace is cluster-scoped; kubectl's "namespace" of it is its own name
        return self.name


@dataclass(frozen=True)
class NetworkPolicyObject:
    name: str
    namespace: str
    spec: dict[str, Any] = field(hash=False)  # the API's JSON form, defaults filled in
    kind: str = "NetworkPolicy"


WorkloadObject = PodObject | DeploymentObject | ServiceObject | NamespaceObject | NetworkPolicyObject
