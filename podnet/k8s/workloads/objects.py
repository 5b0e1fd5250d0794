"""The workload objects a lab's API holds once a manifest is valid: Pods, Deployments, Services.

Mirrors the typed API objects kube-apiserver stores (``corev1.Pod``, ``appsv1.Deployment``,
``corev1.Service``), reduced to the fields a networking lab uses: labels, ``spec.nodeName``,
container ports, a Deployment's replicas, selector and template, a Service's type, selector,
ports and session affinity. Pure data.
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


WorkloadObject = PodObject | DeploymentObject | ServiceObject
