"""What ``get svc``, ``get endpoints``, ``get deployments`` and ``describe svc`` print.

Mirrors kubectl's columns: Services with TYPE, CLUSTER-IP, EXTERNAL-IP, PORT(S) (``80:31234/TCP``
for a NodePort) and SELECTOR in wide output; Endpoints as ``ip:port`` lists; Deployments with
READY, UP-TO-DATE and AVAILABLE. JSON follows the API objects' shapes for the fields the lab
models. Pure: builds strings and dicts from the lab state.
"""

from __future__ import annotations

from typing import Any

from podnet.core.model import RUNNING, DeploymentState, LabState, ServiceState
from podnet.core.tables import age, table
from podnet.views.cluster import containers_json
from podnet.views.cluster import _iso, events_block
from podnet.k8s.workloads.endpoints import not_ready, port_label, ready_endpoints


def ports_text(service: ServiceState) -> str:
    return ",".join(f"{p.port}{':' + str(p.node_port) if p.node_port else ''}/{p.protocol}" for p in service.ports)


def selector_text(selector: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or "<none>"


def services_table(state: LabState, services: list[ServiceState], wide: bool, all_namespaces: bool) -> str:
    headers = (["NAMESPACE"] if all_namespaces else []) + ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    if wide:
        headers.append("SELECTOR")
    rows = []
    for svc in services:
        row: list[object] = ([svc.namespace] if all_namespaces else []) + [
            svc.name, svc.type, svc.cluster_ip, "<none>", ports_text(svc), age(svc.created)]
        if wide:
            row.append(selector_text(svc.selector))
        rows.append(row)
    return table(headers, rows)


def endpoint_addresses(state: LabState, service: ServiceState) -> list[str]:
    seen = []
    for port in service.ports:
        for endpoint in ready_endpoints(state, service, port):
            if endpoint.address not in seen:
                seen.append(endpoint.address)
    return seen


def endpoints_table(state: LabState, services: list[ServiceState], all_namespaces: bool) -> str:
    headers = (["NAMESPACE"] if all_namespaces else []) + ["NAME", "ENDPOINTS", "AGE"]
    rows = []
    for svc in services:
        addresses = endpoint_addresses(state, svc)
        shown = ",".join(addresses[:3]) + (f" + {len(addresses) - 3} more..." if len(addresses) > 3 else "")
        rows.append(([svc.namespace] if all_namespaces else []) + [svc.name, shown or "<none>", age(svc.created)])
    return table(headers, rows)


def deployment_counts(state: LabState, deployment: DeploymentState) -> tuple[int, int, int]:
    owned = [p for p in state.pods.values() if p.owner == deployment.key]
    ready = sum(1 for p in owned if p.phase == RUNNING)
    return ready, len(owned), ready


def deployments_table(state: LabState, deployments: list[DeploymentState], wide: bool, all_namespaces: bool) -> str:
    headers = (["NAMESPACE"] if all_namespaces else []) + ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    if wide:
        headers += ["SELECTOR"]
    rows = []
    for d in deployments:
        ready, current, available = deployment_counts(state, d)
        row: list[object] = ([d.namespace] if all_namespaces else []) + [
            d.name, f"{ready}/{d.replicas}", current, available, age(d.created)]
        if wide:
            row.append(selector_text(d.selector))
        rows.append(row)
    return table(headers, rows)


def service_json(state: LabState, svc: ServiceState) -> dict[str, Any]:
    ports = []
    for p in svc.ports:
        item: dict[str, Any] = {"protocol": p.protocol, "port": p.port, "targetPort": p.target_port}
        if p.name:
            item["name"] = p.name
        if p.node_port:
            item["nodePort"] = p.node_port
        ports.append(item)
    spec: dict[str, Any] = {"type": svc.type, "clusterIP": svc.cluster_ip, "clusterIPs": [svc.cluster_ip],
                            "selector": dict(svc.selector), "ports": ports, "sessionAffinity": svc.session_affinity}
    if svc.session_affinity == "ClientIP":
        spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": svc.affinity_timeout}}
    if svc.type == "NodePort":
        spec["externalTrafficPolicy"] = "Cluster"
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": svc.name, "namespace": svc.namespace, "creationTimestamp": _iso(svc.created)},
            "spec": spec, "podnet": {"dnsName": f"{svc.name}.{svc.namespace}.svc.cluster.local"}}


def endpoints_json(state: LabState, svc: ServiceState) -> dict[str, Any]:
    """The Endpoints object: one subset per port (kubectl shows them merged)."""
    subsets = []
    for port in svc.ports:
        if not ready_endpoints(state, svc, port) and not not_ready(state, svc):
            continue  # no address at all: the API leaves the subset out
        ready = ready_endpoints(state, svc, port)
        subset: dict[str, Any] = {
            "addresses": [{"ip": e.ip, "nodeName": e.node, "targetRef": {"kind": "Pod", "name": e.pod,
                                                                           "namespace": svc.namespace}} for e in ready],
            "ports": [dict({"port": e.port, "protocol": port.protocol}, **({"name": port.name} if port.name else {}))
                      for e in ready[:1]],
            "podnet": {"servicePort": port_label(svc, port)},
        }
        waiting = [p for p in not_ready(state, svc)]
        if waiting:
            subset["notReadyAddresses"] = [{"ip": p.ip, "nodeName": p.node, "targetRef": {
                "kind": "Pod", "name": p.name, "namespace": p.namespace}} for p in waiting]
        subsets.append(subset)
    return {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": svc.name, "namespace": svc.namespace},
            "subsets": subsets}


def deployment_json(state: LabState, d: DeploymentState) -> dict[str, Any]:
    ready, current, available = deployment_counts(state, d)
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": d.name, "namespace": d.namespace, "creationTimestamp": _iso(d.created)},
            "spec": {"replicas": d.replicas, "selector": {"matchLabels": dict(d.selector)},
                     "template": {"metadata": {"labels": dict(d.template_labels)},
                                  "spec": {"nodeName": d.node_name,
                                           "containers": containers_json(d.containers, d.ports)}}},
            "status": {"replicas": current, "readyReplicas": ready, "availableReplicas": available},
            "podnet": {"pods": sorted(p.name for p in state.pods.values() if p.owner == d.key),
                       "templateHash": d.template_hash}}


def describe_service(state: LabState, svc: ServiceState) -> str:
    lines = [
        f"Name:              {svc.name}",
        f"Namespace:         {svc.namespace}",
        f"Selector:          {selector_text(svc.selector)}",
        f"Type:              {svc.type}",
        f"IP:                {svc.cluster_ip}",
        f"DNS name:          {svc.name}.{svc.namespace}.svc.cluster.local",
    ]
    for p in svc.ports:
        name = p.name or "<unset>"
        lines.append(f"Port:              {name}  {p.port}/{p.protocol}")
        lines.append(f"TargetPort:        {p.target_port}/{p.protocol}")
        if p.node_port:
            lines.append(f"NodePort:          {name}  {p.node_port}/{p.protocol}")
        addresses = [e.address for e in ready_endpoints(state, svc, p)]
        lines.append(f"Endpoints:         {','.join(addresses) or '<none>'}")
    lines.append(f"Session Affinity:  {svc.session_affinity}"
                 + (f" ({svc.affinity_timeout}s)" if svc.session_affinity == "ClientIP" else ""))
    if svc.type == "NodePort":
        lines.append("External Traffic Policy:  Cluster")
    lines += events_block(svc.events)
    return "\n".join(lines)


def describe_deployment(state: LabState, d: DeploymentState) -> str:
    ready, current, available = deployment_counts(state, d)
    lines = [
        f"Name:               {d.name}",
        f"Namespace:          {d.namespace}",
        f"Selector:           {selector_text(d.selector)}",
        f"Replicas:           {d.replicas} desired | {current} updated | {current} total | {available} available",
        f"Pod Template:       labels {selector_text(d.template_labels)}; ports "
        + (", ".join(f"{p['containerPort']}/{p['protocol']}" for p in d.ports) or "<none>"),
        f"Template hash:      {d.template_hash}",
        "Pods:",
    ]
    owned = [p for p in state.pods.values() if p.owner == d.key]
    for line in table(["Name", "Status", "IP", "Node"], [[p.name, p.phase, p.ip, p.node] for p in owned]).splitlines():
        lines.append("  " + line)
    lines += events_block(d.events)
    return "\n".join(lines)
