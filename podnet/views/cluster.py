"""What ``get`` and ``describe`` print: kubectl's columns, tables and JSON shapes.

Mirrors ``kubectl get nodes|pods [-o wide|json]`` and ``kubectl describe node|pod``.
Deviations: ``get nodes`` shows INTERNAL-IP and POD-CIDR without ``-o wide`` (they are what
this lab teaches), wide output adds the namespace you can ``ip netns exec`` into, and the
JSON carries only the fields the lab models. Pure: no I/O beyond building strings.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from ipaddress import IPv4Network
from typing import Any

from podnet.core.model import CONTAINER_CREATING, RUNNING, Event, LabState, NodeState, PodState
from podnet.core.naming import netns_name
from podnet.core.tables import age, table
from podnet.k8s.routing.vxlan import vtep_mac as vtep_mac_of


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def routing_mode(spec) -> str:
    """How Pod traffic crosses nodes: host-gw, vxlan, or (VPC-native) the subnet itself."""
    if spec.model == "docker":
        return "none"
    if spec.cni == "vpc":
        return "vpc-native"
    return spec.routing


def nodes_table(state: LabState, wide: bool = False) -> str:
    headers = ["NAME", "STATUS", "ROLES", "AGE", "INTERNAL-IP", "POD-CIDR"]
    if wide:
        headers += ["ROUTING", "VTEP", "CNI", "NETNS"]
    rows = []
    for node in state.nodes.values():
        row: list[object] = [node.name, node.status_text, node.role, age(node.created), node.internal_ip, node.pod_cidr]
        if wide:
            vtep = None
            if state.spec.routing == "vxlan" and node.pod_cidr:
                vtep = f"{IPv4Network(node.pod_cidr).network_address} {vtep_mac_of(node)}"
            row += [routing_mode(state.spec), vtep, state.spec.cni, netns_name(state.name, node.name)]
        rows.append(row)
    return table(headers, rows)


def pod_status_text(pod: PodState) -> str:
    return pod.phase


def pods_table(state: LabState, wide: bool = False, all_namespaces: bool = False) -> str:
    headers = (["NAMESPACE"] if all_namespaces else []) + ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    if wide:
        headers += ["IP", "NODE", "NETNS"]
    rows = []
    for pod in state.pods.values():
        row: list[object] = ([pod.namespace] if all_namespaces else []) + [
            pod.name, pod.ready_text, pod_status_text(pod), pod.restarts, age(pod.created)]
        if wide:
            ns = netns_name(state.name, pod.name) if pod.phase == RUNNING else None
            row += [pod.ip, pod.node, ns]
        rows.append(row)
    return table(headers, rows)


def node_json(state: LabState, node: NodeState) -> dict[str, Any]:
    conditions = [{
        "type": "Ready", "status": "True" if node.ready else "False",
        "reason": node.ready_reason, "message": node.ready_message,
    }]
    if node.network_unavailable:
        conditions.append({"type": "NetworkUnavailable", "status": "True", "reason": node.network_unavailable,
                           "message": "no podCIDR could be allocated from the cluster CIDR"})
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": node.name, "creationTimestamp": _iso(node.created),
                     "labels": {f"node-role.kubernetes.io/{node.role}": ""}},
        "spec": {"podCIDR": node.pod_cidr, "podCIDRs": [node.pod_cidr] if node.pod_cidr else [],
                 "taints": [_taint(t) for t in node.taints]},
        "status": {"addresses": [{"type": "InternalIP", "address": node.internal_ip},
                                 {"type": "Hostname", "address": node.name}],
                   "conditions": conditions},
        "podnet": {"netns": netns_name(state.name, node.name), "routing": routing_mode(state.spec),
                   "vtep": ({"device": "flannel.1", "address": str(IPv4Network(node.pod_cidr).network_address),
                             "mac": vtep_mac_of(node)} if state.spec.routing == "vxlan" and node.pod_cidr else None),
                   "cni": state.spec.cni, "cniConfig": node.cni_config},
    }


def _taint(text: str) -> dict[str, str]:
    key, effect = text.split(":")
    return {"key": key, "effect": effect}


def pod_json(state: LabState, pod: PodState) -> dict[str, Any]:
    node = state.nodes.get(pod.node) if pod.node else None
    if pod.phase == RUNNING:
        container_state: dict[str, Any] = {"running": {"startedAt": _iso(pod.started or pod.created)}}
    elif pod.phase == CONTAINER_CREATING:
        container_state = {"waiting": {"reason": CONTAINER_CREATING, "message": pod.message}}
    else:
        container_state = {"waiting": {"reason": "Pending", "message": pod.message}}
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": dict({"name": pod.name, "namespace": pod.namespace, "creationTimestamp": _iso(pod.created),
                          "labels": dict(pod.labels)},
                         **({"ownerReferences": [{"kind": "Deployment", "name": pod.owner.split("/", 1)[1]}]}
                            if pod.owner else {})),
        "spec": {"nodeName": pod.node, "containers": containers_json(pod.containers, pod.ports)},
        "status": {
            "phase": pod.api_phase,
            "podIP": pod.ip, "podIPs": [{"ip": pod.ip}] if pod.ip else [],
            "hostIP": node.internal_ip if node else None,
            "containerStatuses": [{"name": "app", "ready": pod.phase == RUNNING,
                                   "restartCount": pod.restarts, "state": container_state}],
        },
        "podnet": {"netns": netns_name(state.name, pod.name) if pod.phase == RUNNING else None,
                   "sandboxID": pod.sandbox_id, "hostVeth": pod.host_veth, "status": pod.phase},
    }


def containers_json(containers: list[dict], ports: list[dict]) -> list[dict]:
    """The containers as the manifest gave them (name, image, ports), or one container ``app``
    holding every port when the object came without (a Pod of the topology, say)."""
    if containers:
        return [{"name": c["name"], **({"image": c["image"]} if c.get("image") else {}), "ports": list(c.get("ports", []))}
                for c in containers]
    return [{"name": "app", "ports": list(ports)}]


def as_list(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "List", "items": items}


def events_block(events: list[Event]) -> list[str]:
    if not events:
        return ["Events:  <none>"]
    lines = ["Events:"]
    rows = []
    now = time.time()
    for event in events:
        when = age(event.last, now) if event.count == 1 else f"{age(event.last, now)} (x{event.count} over {age(event.first, now)})"
        rows.append([event.type, event.reason, when, event.source, event.message])
    for line in table(["Type", "Reason", "Age", "From", "Message"], rows).splitlines():
        lines.append("  " + line)
    return lines


def describe_node(state: LabState, node: NodeState) -> str:
    lines = [
        f"Name:               {node.name}",
        f"Roles:              {node.role}",
        f"CreationTimestamp:  {_iso(node.created)}",
        f"Taints:             {', '.join(node.taints) or '<none>'}",
        "Conditions:",
        f"  Ready              {'True' if node.ready else 'False'}   {node.ready_reason}   {node.ready_message}",
    ]
    if node.network_unavailable:
        lines.append(f"  NetworkUnavailable True   {node.network_unavailable}   no podCIDR could be allocated")
    lines += [
        "Addresses:",
        f"  InternalIP:  {node.internal_ip}",
        f"  Hostname:    {node.name}",
        f"PodCIDR:            {node.pod_cidr or '<none>'}",
        f"PodCIDRs:           {node.pod_cidr or '<none>'}",
        f"Network namespace:  {netns_name(state.name, node.name)}",
        f"CNI config:         {node.cni_config or '<none>'}",
        "Non-terminated Pods:",
    ]
    pods = [p for p in state.pods.values() if p.node == node.name]
    if pods:
        for line in table(["Name", "Status", "IP"], [[p.name, p.phase, p.ip] for p in pods]).splitlines():
            lines.append("  " + line)
    else:
        lines.append("  <none>")
    lines += events_block(node.events)
    return "\n".join(lines)


def describe_pod(state: LabState, pod: PodState) -> str:
    node = state.nodes.get(pod.node) if pod.node else None
    lines = [
        f"Name:         {pod.name}",
        f"Namespace:    {pod.namespace}",
        "Labels:       " + (", ".join(f"{k}={v}" for k, v in sorted(pod.labels.items())) or "<none>"),
        f"Controlled By: Deployment/{pod.owner.split('/', 1)[1]}" if pod.owner else "Controlled By: <none>",
        f"Node:         {pod.node + '/' + node.internal_ip if node else '<none>'}",
        f"Start Time:   {_iso(pod.started) if pod.started else '<none>'}",
        f"Status:       {pod.api_phase}",
        f"IP:           {pod.ip or '<none>'}",
        "IPs:" + ("\n  IP:  " + pod.ip if pod.ip else "          <none>"),
        "Containers:",
        "  app:",
        f"    State:          {'Running' if pod.phase == RUNNING else 'Waiting'}",
    ]
    if pod.phase != RUNNING:
        lines.append(f"      Reason:       {pod.phase}")
        if pod.message:
            lines.append(f"      Message:      {pod.message}")
    lines += [
        f"    Ready:          {'True' if pod.phase == RUNNING else 'False'}",
        f"    Restart Count:  {pod.restarts}",
        "    Ports:          " + (", ".join(f"{p['containerPort']}/{p.get('protocol', 'TCP')}" for p in pod.ports) or "<none>")
        + (f"  (podnet echo server, PID {pod.server_pid})" if pod.server_pid else ""),
        f"Sandbox:      {pod.sandbox_id[:12] if pod.sandbox_id else '<none>'}"
        + (f"  (netns {netns_name(state.name, pod.name)}, host veth {pod.host_veth or '-'})" if pod.sandbox_id else ""),
    ]
    lines += events_block(pod.events)
    return "\n".join(lines)
