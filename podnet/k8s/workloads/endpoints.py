"""Endpoints: which Pod addresses and ports stand behind each port of a Service.

Mirrors the endpoints controller (and EndpointSlices): a Service's selector picks the Pods
of its own namespace whose labels contain it; Running (Ready) Pods are ``addresses``, the
others ``notReadyAddresses``; a numeric ``targetPort`` is used as is, a named one is looked
up among each Pod's container ports (a Pod without that name is left out of that port).
Deviation: Pods are Ready as soon as their sandbox is Running (no readiness probes). Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

from podnet.core.model import RUNNING, LabState, PodState, ServicePortState, ServiceState


@dataclass(frozen=True)
class Endpoint:
    pod: str
    ip: str
    node: str
    port: int

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"


def selects(service: ServiceState, pod: PodState) -> bool:
    if not service.selector or pod.namespace != service.namespace:
        return False
    return all(pod.labels.get(k) == v for k, v in service.selector.items())


def target_port(port: ServicePortState, pod: PodState) -> int | None:
    if isinstance(port.target_port, int):
        return port.target_port
    for declared in pod.ports:
        if declared.get("name") == port.target_port and declared.get("protocol", "TCP") == port.protocol:
            return int(declared["containerPort"])
    return None


def selected_pods(state: LabState, service: ServiceState) -> list[PodState]:
    return [p for p in state.pods.values() if selects(service, p)]


def ready_endpoints(state: LabState, service: ServiceState, port: ServicePortState) -> list[Endpoint]:
    """Ready endpoints of one Service port, in a stable order (by Pod IP, as kube-proxy sorts)."""
    found = []
    for pod in selected_pods(state, service):
        if pod.phase != RUNNING or not pod.ip or not pod.node:
            continue
        number = target_port(port, pod)
        if number is not None:
            found.append(Endpoint(pod.name, pod.ip, pod.node, number))
    return sorted(found, key=lambda e: (tuple(int(x) for x in e.ip.split(".")), e.port))


def not_ready(state: LabState, service: ServiceState) -> list[PodState]:
    return [p for p in selected_pods(state, service) if p.phase != RUNNING]


def port_label(service: ServiceState, port: ServicePortState) -> str:
    """kube-proxy's ServicePortName: ``namespace/name:port-name`` (``namespace/name`` when unnamed)."""
    return f"{service.namespace}/{service.name}" + (f":{port.name}" if port.name else "")
