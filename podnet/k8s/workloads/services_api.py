"""Services in the API: a ClusterIP (and NodePorts) allocated once and kept across updates.

Mirrors the API server's Service registry: a new Service gets its ClusterIP (requested, or
allocated by :mod:`~podnet.k8s.workloads.allocator`) and a nodePort per port when it is a
NodePort; an update keeps them (``spec.clusterIP: field is immutable``), and one Service may
use the same nodePort for TCP and UDP. Pure.
"""

from __future__ import annotations

from podnet.core.model import LabState, ServicePortState, ServiceState
from podnet.k8s.workloads import allocator
from podnet.k8s.workloads.api_fields import InvalidObject
from podnet.k8s.workloads.objects import ServiceObject
from podnet.k8s.workloads.results import ApplyResult, ref


def apply_service(state: LabState, obj: ServiceObject, result: ApplyResult) -> None:
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
        result.lines.append(f"{ref('Service', obj.name)} {'unchanged' if same else 'configured'}")
    else:
        result.lines.append(f"{ref('Service', obj.name)} created")
    state.services[key] = service
