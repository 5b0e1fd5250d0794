"""A Service manifest validated as the API server validates it: type, clusterIP, selector,
session affinity and ports.

Mirrors ``ValidateService`` for the fields a networking lab uses: ``type`` ClusterIP or
NodePort (LoadBalancer and ExternalName refused by name), ``clusterIP`` (headless refused),
``sessionAffinity`` with ``sessionAffinityConfig.clientIP.timeoutSeconds``, and ``ports``
with ``name`` (required when there are several, unique), ``protocol``, ``port``,
``targetPort`` (a number or an IANA_SVC_NAME) and ``nodePort`` (NodePort Services only, in
30000-32767). Pure.
"""

from __future__ import annotations

from podnet.k8s.workloads.api_fields import (
    PORT_NAME, Forbidden, InvalidObject, RequiredValue, UnsupportedValue, int_field, labels_field, protocol_field,
)
from podnet.k8s.workloads.objects import NODE_PORT_RANGE, ServiceObject, ServicePort

SERVICE_TYPES = ("ClusterIP", "NodePort")
MAX_AFFINITY_TIMEOUT = 86400
KIND = "Service"


def parse_service(name: str, namespace: str, spec: dict) -> ServiceObject:
    svc_type = spec.get("type", "ClusterIP")
    if svc_type not in SERVICE_TYPES:
        note = (" (LoadBalancer and ExternalName are valid in Kubernetes; podnet emulates ClusterIP and NodePort)"
                if svc_type in ("LoadBalancer", "ExternalName") else "")
        raise UnsupportedValue(KIND, name, "spec.type", svc_type, SERVICE_TYPES, note)
    cluster_ip = spec.get("clusterIP")
    if cluster_ip is not None and (not isinstance(cluster_ip, str) or cluster_ip == ""):
        raise InvalidObject(KIND, name, "spec.clusterIP", cluster_ip, "must be a valid IP address")
    if cluster_ip == "None":
        raise InvalidObject(KIND, name, "spec.clusterIP", cluster_ip, "headless Services are not emulated by podnet")
    selector = labels_field(KIND, name, "spec.selector", spec.get("selector"))
    affinity, timeout = _affinity(name, spec)
    raw_ports = spec.get("ports")
    if not isinstance(raw_ports, list) or not raw_ports:
        raise RequiredValue(KIND, name, "spec.ports")
    ports: list[ServicePort] = []
    for index, raw in enumerate(raw_ports):
        ports.append(_port(name, svc_type, f"spec.ports[{index}]", raw, len(raw_ports), ports))
    return ServiceObject(name, namespace, svc_type, selector, tuple(ports), cluster_ip, affinity, timeout)


def _affinity(name: str, spec: dict) -> tuple[str, int]:
    affinity = spec.get("sessionAffinity", "None")
    if affinity not in ("None", "ClientIP"):
        raise UnsupportedValue(KIND, name, "spec.sessionAffinity", affinity, ("ClientIP", "None"))
    timeout = 10800
    config = spec.get("sessionAffinityConfig")
    if config is not None:
        if affinity != "ClientIP":
            raise InvalidObject(KIND, name, "spec.sessionAffinityConfig", "{...}",
                                "must not be set when `sessionAffinity` is None")
        client_ip = config.get("clientIP") if isinstance(config, dict) else None
        raw_timeout = client_ip.get("timeoutSeconds", 10800) if isinstance(client_ip, dict) else config
        timeout = int_field(KIND, name, "spec.sessionAffinityConfig.clientIP.timeoutSeconds", raw_timeout, 1,
                            MAX_AFFINITY_TIMEOUT, f"must be greater than 0 and less than {MAX_AFFINITY_TIMEOUT}")
    return affinity, timeout


def _port(name: str, svc_type: str, path: str, raw: object, count: int, ports: list[ServicePort]) -> ServicePort:
    if not isinstance(raw, dict):
        raise InvalidObject(KIND, name, path, raw, "must be a mapping with port")
    port_name = raw.get("name", "")
    if count > 1 and not port_name:
        raise RequiredValue(KIND, name, f"{path}.name")
    if port_name and (not isinstance(port_name, str) or len(port_name) > 15 or not PORT_NAME.fullmatch(port_name)):
        raise InvalidObject(KIND, name, f"{path}.name", port_name, "must be a DNS-1123 label of at most 15 characters")
    if port_name and any(p.name == port_name for p in ports):
        raise InvalidObject(KIND, name, f"{path}.name", port_name, "Duplicate value")
    port = int_field(KIND, name, f"{path}.port", raw.get("port"), 1, 65535)
    protocol = protocol_field(KIND, name, f"{path}.protocol", raw.get("protocol"))
    if any(p.port == port and p.protocol == protocol for p in ports):
        raise InvalidObject(KIND, name, f"{path}.port", port, "Duplicate value")
    target = _target_port(name, path, raw.get("targetPort", port))
    node_port = raw.get("nodePort")
    if node_port is not None:
        if svc_type != "NodePort":
            raise Forbidden(KIND, name, f"{path}.nodePort", "may not be used when `type` is 'ClusterIP'")
        low, high = NODE_PORT_RANGE
        node_port = int_field(KIND, name, f"{path}.nodePort", node_port, low, high,
                              f"provided port is not in the valid range. The range of valid ports is {low}-{high}")
        if any(p.node_port == node_port and p.protocol == protocol for p in ports):
            raise InvalidObject(KIND, name, f"{path}.nodePort", node_port, "Duplicate value")
    return ServicePort(port_name or "", protocol, port, target, node_port)


def _target_port(name: str, path: str, target: object) -> int | str:
    if isinstance(target, str):
        if target.isdigit():
            target = int(target)
        elif not PORT_NAME.fullmatch(target) or len(target) > 15:
            raise InvalidObject(KIND, name, f"{path}.targetPort", target, "must be a port number or an IANA_SVC_NAME")
    if isinstance(target, int):
        return int_field(KIND, name, f"{path}.targetPort", target, 1, 65535)
    if not isinstance(target, str):
        raise InvalidObject(KIND, name, f"{path}.targetPort", target, "must be a port number or a port name")
    return target
