"""Server-side printing: the Table objects ``kubectl get`` asks for, with kube-apiserver's
columns.

Mirrors the printers kube-apiserver registers (pkg/printers/internalversion): the same
column names, types and priorities (priority 1 is what ``-o wide`` adds), ages as
``HumanDuration`` writes them, and each row carrying its object's metadata (a
PartialObjectMetadata, or the whole object when ``includeObject=Object``), which is where
kubectl reads namespaces for ``-A`` and labels for ``--show-labels``. Pure.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any, Callable

COLUMN_DOCS = {"Name": "Name must be unique within a namespace.", "Age": "CreationTimestamp of the object."}


def _seconds_since(stamp: str | None, now: float) -> float:
    if not stamp:
        return 0.0
    return max(0.0, now - datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp())


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"  # a second of clock skew is "now"
    if s < 60 * 2:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rest = (s % 3600) // 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d{rest}h" if rest else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = hours // 24 % 365
        return f"{hours // 24 // 365}y{days}d" if days else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def age(obj: dict, now: float) -> str:
    return human_duration(_seconds_since(obj["metadata"].get("creationTimestamp"), now))


def _labels(selector: dict | None) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((selector or {}).items())) or "<none>"


def _pod_row(o: dict, now: float) -> list:
    status = o["status"]
    reason = (status.get("containerStatuses") or [{}])[0].get("state", {}).get("waiting", {}).get("reason")
    shown = status["phase"] if status["phase"] == "Running" else (reason or status["phase"])
    if o["metadata"].get("deletionTimestamp"):
        shown = "Terminating"  # as kubectl prints a Pod being deleted
    ready = sum(1 for c in status.get("containerStatuses", []) if c.get("ready"))
    restarts = sum(c.get("restartCount", 0) for c in status.get("containerStatuses", []))
    return [o["metadata"]["name"], f"{ready}/{len(o['spec']['containers'])}", shown, restarts, age(o, now),
            status.get("podIP") or "<none>", o["spec"].get("nodeName") or "<none>", "<none>", "<none>"]


def _node_row(o: dict, now: float) -> list:
    ready = next((c for c in o["status"]["conditions"] if c["type"] == "Ready"), {})
    roles = sorted(k.split("/", 1)[1] for k in o["metadata"].get("labels", {}) if k.startswith("node-role.kubernetes.io/"))
    internal = next((a["address"] for a in o["status"]["addresses"] if a["type"] == "InternalIP"), "<none>")
    info = o["status"].get("nodeInfo", {})
    return [o["metadata"]["name"], "Ready" if ready.get("status") == "True" else "NotReady", ",".join(roles) or "<none>",
            age(o, now), info.get("kubeletVersion", ""), internal, "<none>", info.get("osImage", ""),
            info.get("kernelVersion", ""), info.get("containerRuntimeVersion", "")]


def _service_row(o: dict, now: float) -> list:
    spec = o["spec"]
    ports = ",".join(f"{p['port']}" + (f":{p['nodePort']}" if p.get("nodePort") else "") + f"/{p['protocol']}"
                     for p in spec.get("ports", [])) or "<none>"
    return [o["metadata"]["name"], spec["type"], spec.get("clusterIP") or "<none>", "<none>", ports, age(o, now),
            _labels(spec.get("selector"))]


def _endpoints_row(o: dict, now: float) -> list:
    pairs = [f"{a['ip']}:{p['port']}" if p is not None else a["ip"] for s in o.get("subsets", [])
             for p in (s.get("ports") or [None]) for a in s.get("addresses", [])]  # ports outside, as kubectl
    text = ",".join(pairs[:3]) + (f" + {len(pairs) - 3} more..." if len(pairs) > 3 else "")
    return [o["metadata"]["name"], text or "<none>", age(o, now)]


def _slice_row(o: dict, now: float) -> list:
    ports = ",".join(str(p["port"]) for p in o.get("ports") or []) or "<unset>"
    addresses = [a for e in o.get("endpoints") or [] for a in e.get("addresses", [])]
    text = ",".join(addresses[:3]) + (f" + {len(addresses) - 3} more..." if len(addresses) > 3 else "")
    return [o["metadata"]["name"], o["addressType"], ports, text or "<unset>", age(o, now)]


def _workload_row(o: dict, now: float, replica_set: bool) -> list:
    spec, status = o["spec"], o["status"]
    containers = spec["template"]["spec"]["containers"]
    tail = [age(o, now), ",".join(c["name"] for c in containers), ",".join(c.get("image", "") for c in containers),
            _labels(spec["selector"].get("matchLabels"))]
    if replica_set:
        return [o["metadata"]["name"], spec["replicas"], status.get("replicas", 0), status.get("readyReplicas", 0), *tail]
    return [o["metadata"]["name"], f"{status.get('readyReplicas', 0)}/{spec['replicas']}", status.get("updatedReplicas", 0),
            status.get("availableReplicas", 0), *tail]


def _event_row(o: dict, now: float) -> list:
    last = human_duration(_seconds_since(o.get("lastTimestamp"), now))
    involved = o["involvedObject"]
    return [last, o["type"], o["reason"], f"{involved['kind'].lower()}/{involved['name']}", o["message"]]


def _column(name: str, kind: str = "string", priority: int = 0, fmt: str = "") -> dict:
    return {"name": name, "type": kind, "format": fmt, "description": COLUMN_DOCS.get(name, name), "priority": priority}


NAME, AGE = _column("Name", fmt="name"), _column("Age")
COLUMNS: dict[str, list[dict]] = {
    "pods": [NAME, _column("Ready"), _column("Status"), _column("Restarts", "integer"), AGE, _column("IP", priority=1),
             _column("Node", priority=1), _column("Nominated Node", priority=1), _column("Readiness Gates", priority=1)],
    "nodes": [NAME, _column("Status"), _column("Roles"), AGE, _column("Version"), _column("Internal-IP", priority=1),
              _column("External-IP", priority=1), _column("OS-Image", priority=1), _column("Kernel-Version", priority=1),
              _column("Container-Runtime", priority=1)],
    "services": [NAME, _column("Type"), _column("Cluster-IP"), _column("External-IP"), _column("Port(s)"), AGE,
                 _column("Selector", priority=1)],
    "endpoints": [NAME, _column("Endpoints"), AGE],
    "endpointslices": [NAME, _column("AddressType"), _column("Ports"), _column("Endpoints"), AGE],
    "namespaces": [NAME, _column("Status"), AGE],
    "deployments": [NAME, _column("Ready"), _column("Up-to-date", "integer"), _column("Available", "integer"), AGE,
                    _column("Containers", priority=1), _column("Images", priority=1), _column("Selector", priority=1)],
    "replicasets": [NAME, _column("Desired", "integer"), _column("Current", "integer"), _column("Ready", "integer"), AGE,
                    _column("Containers", priority=1), _column("Images", priority=1), _column("Selector", priority=1)],
    "networkpolicies": [NAME, _column("Pod-Selector"), AGE],
    "events": [_column("Last Seen"), _column("Type"), _column("Reason"), _column("Object"), _column("Message")],
}
ROWS: dict[str, Callable[[dict, float], list]] = {
    "pods": _pod_row, "nodes": _node_row, "services": _service_row, "endpoints": _endpoints_row,
    "namespaces": lambda o, now: [o["metadata"]["name"], o["status"]["phase"], age(o, now)],
    "deployments": lambda o, now: _workload_row(o, now, False),
    "replicasets": lambda o, now: _workload_row(o, now, True),
    "networkpolicies": lambda o, now: [o["metadata"]["name"], _labels(o["spec"]["podSelector"].get("matchLabels"))
                                       if o["spec"]["podSelector"] else "<none>", age(o, now)],
    "events": _event_row, "endpointslices": _slice_row,
}


def partial(obj: dict) -> dict:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]}


def table(resource: str, objects: list[dict], revision: str, include: str = "Metadata",
          now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    rows = [{"cells": ROWS[resource](o, now), "object": o if include == "Object" else partial(o)} for o in objects]
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": revision},
            "columnDefinitions": COLUMNS[resource], "rows": rows}
