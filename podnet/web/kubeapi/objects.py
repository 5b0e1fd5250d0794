"""The lab's state as the Kubernetes API serves it: every object with apiVersion, kind and full
metadata (uid, resourceVersion, creationTimestamp, labels, annotations, ownerReferences).

Mirrors what kube-apiserver returns for Namespaces, Nodes, Pods, Services, Endpoints, Events,
Deployments, ReplicaSets and NetworkPolicies, built from the same state ``podnet get -o json``
reads (:mod:`podnet.views`), so both clients see one truth. Deviations: a uid is derived
(a name-based UUID of the lab, the kind, the object and its creation time), a Deployment's
ReplicaSet is the one its current template hash names (old ones are not kept), Events are
the objects' own event lists, and podnet's extra fields move into ``podnet.io/*``
annotations. Pure, but for what every node reports of the one machine they share: its kernel
release, CPUs and memory.
"""

from __future__ import annotations

import os
import uuid
from functools import lru_cache
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

from podnet.core.model import RUNNING, LabState
from podnet.views.cluster import containers_json, node_json, pod_json
from podnet.views.policies import namespace_json, policy_json
from podnet.views.services import deployment_json, endpoints_json, service_json

Key = tuple[str, str, str]  # (resource, namespace or "", name)
DEFAULT_IMAGE = "registry.k8s.io/e2e-test-images/agnhost:2.47"  # what a container with ports runs here: an echo server
PAUSE_IMAGE = "registry.k8s.io/pause:3.9"


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def uid(lab: str, kind: str, namespace: str, name: str, created: float) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"podnet://{lab}/{kind}/{namespace}/{name}/{created:.6f}"))


def _finish(state: LabState, obj: dict[str, Any], created: float) -> dict[str, Any]:
    """Full metadata; podnet's own fields become annotations."""
    meta = obj.setdefault("metadata", {})
    meta.setdefault("creationTimestamp", iso(created))
    meta["uid"] = uid(state.name, obj["kind"], meta.get("namespace", ""), meta["name"], created)
    extra = obj.pop("podnet", None)
    if extra:
        notes = {f"podnet.io/{k}": str(v) for k, v in extra.items() if v not in (None, "", [], {})}
        if notes:
            meta["annotations"] = {**meta.get("annotations", {}), **notes}
    if not meta.get("labels"):
        meta.pop("labels", None)
    return obj


def namespaces(state: LabState) -> Iterator[dict]:
    for ns in state.kube_namespaces.values():
        obj = namespace_json(state, ns)
        obj["spec"] = {"finalizers": ["kubernetes"]}
        yield _finish(state, obj, ns.created)


def nodes(state: LabState) -> Iterator[dict]:
    for node in state.nodes.values():
        obj = node_json(state, node)
        obj["metadata"]["labels"] = {"kubernetes.io/hostname": node.name, "kubernetes.io/os": "linux",
                                     **obj["metadata"]["labels"]}
        obj["status"]["nodeInfo"] = {"kubeletVersion": "v1.30.0-podnet", "osImage": "podnet (Mininet node)",
                                     "containerRuntimeVersion": "podnet://0.1.0", "kernelVersion": os.uname().release,
                                     "operatingSystem": "linux", "architecture": "amd64"}
        obj["status"]["capacity"] = obj["status"]["allocatable"] = {
            "cpu": str(os.cpu_count() or 1), "memory": _memory(), "pods": str(state.spec.max_pods)}
        for condition in obj["status"]["conditions"]:
            condition.setdefault("lastTransitionTime", iso(node.created))
        yield _finish(state, obj, node.created)


@lru_cache(maxsize=1)
def _memory() -> str:
    """The machine's memory as a kubelet reports it (every emulated node shares the machine)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            return handle.readline().split()[1] + "Ki"
    except (OSError, IndexError):
        return "0"


def pods(state: LabState) -> Iterator[dict]:
    for pod in state.pods.values():
        obj = pod_json(state, pod)
        for ref in obj["metadata"].get("ownerReferences", []):
            deployment = state.deployments.get(pod.owner or "")
            ref.update(apiVersion="apps/v1", kind="ReplicaSet", controller=True, blockOwnerDeletion=True,
                       name=replica_set_name(deployment) if deployment else ref["name"])
            if deployment:
                ref["uid"] = uid(state.name, "ReplicaSet", deployment.namespace, ref["name"], deployment.created)
        for container in obj["spec"]["containers"]:
            container.setdefault("image", DEFAULT_IMAGE if pod.ports else PAUSE_IMAGE)
        obj["spec"].update(restartPolicy="Always", dnsPolicy="ClusterFirst", schedulerName="default-scheduler")
        status = obj["status"]
        status["conditions"] = [{"type": t, "status": "True" if pod.phase == RUNNING else "False"}
                                for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")]
        model = status["containerStatuses"][0]
        status["containerStatuses"] = [dict(model, name=c["name"], image=c["image"]) for c in obj["spec"]["containers"]]
        if pod.started:
            status["startTime"] = iso(pod.started)
        yield _finish(state, obj, pod.created)


def services(state: LabState) -> Iterator[dict]:
    for svc in state.services.values():
        obj = service_json(state, svc)
        obj["metadata"]["labels"] = {}
        obj["spec"].update(ipFamilies=["IPv4"], ipFamilyPolicy="SingleStack")
        obj["status"] = {"loadBalancer": {}}
        yield _finish(state, obj, svc.created)


def endpoints(state: LabState) -> Iterator[dict]:
    for svc in state.services.values():
        obj = endpoints_json(state, svc)
        for subset in obj["subsets"]:
            subset.pop("podnet", None)
            for key in ("addresses", "notReadyAddresses"):
                if key in subset:  # a Pod with no IP yet is in no Endpoints object
                    subset[key] = [a for a in subset[key] if a.get("ip")]
                    if not subset[key]:
                        del subset[key]
            for address in subset.get("addresses", []) + subset.get("notReadyAddresses", []):
                pod = state.pods.get(address["targetRef"]["name"])
                if pod is not None:
                    address["targetRef"]["uid"] = uid(state.name, "Pod", pod.namespace, pod.name, pod.created)
        obj["subsets"] = [s for s in obj["subsets"] if s.get("addresses") or s.get("notReadyAddresses")]
        yield _finish(state, obj, svc.created)


def replica_set_name(deployment) -> str:
    return f"{deployment.name}-{deployment.template_hash}"


def deployments(state: LabState) -> Iterator[dict]:
    for d in state.deployments.values():
        obj = deployment_json(state, d)
        obj["metadata"]["annotations"] = {"deployment.kubernetes.io/revision": "1"}
        for container in obj["spec"]["template"]["spec"]["containers"]:
            container.setdefault("image", DEFAULT_IMAGE if container.get("ports") else PAUSE_IMAGE)
        obj["spec"]["strategy"] = {"type": "RollingUpdate"}
        status = obj["status"]
        status["updatedReplicas"] = status["replicas"]
        status["observedGeneration"] = 1
        status["conditions"] = [{"type": "Available", "status": "True" if status["availableReplicas"] >= d.replicas
                                 else "False", "reason": "MinimumReplicasAvailable"}]
        yield _finish(state, obj, d.created)


def replica_sets(state: LabState) -> Iterator[dict]:
    for d in state.deployments.values():
        owned = [p for p in state.pods.values() if p.owner == d.key]
        ready = sum(1 for p in owned if p.phase == RUNNING)
        labels = {**d.template_labels, "pod-template-hash": d.template_hash}
        obj = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
               "metadata": {"name": replica_set_name(d), "namespace": d.namespace, "labels": labels,
                            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": d.name,
                                                 "uid": uid(state.name, "Deployment", d.namespace, d.name, d.created),
                                                 "controller": True, "blockOwnerDeletion": True}]},
               "spec": {"replicas": d.replicas, "selector": {"matchLabels": {**d.selector, "pod-template-hash": d.template_hash}},
                        "template": {"metadata": {"labels": labels},
                                     "spec": {"containers": [dict(c, image=c.get("image") or DEFAULT_IMAGE) for c in
                                                             containers_json(d.containers, d.ports)]}}},
               "status": {"replicas": len(owned), "readyReplicas": ready, "availableReplicas": ready,
                          "fullyLabeledReplicas": len(owned), "observedGeneration": 1}}
        yield _finish(state, obj, d.created)


def network_policies(state: LabState) -> Iterator[dict]:
    for policy in state.policies.values():
        yield _finish(state, policy_json(state, policy), policy.created)


def events(state: LabState) -> Iterator[dict]:
    """Each object's events as Event objects naming it (involvedObject), in its namespace."""
    sources = [("Node", "", n.name, n.created, n.events) for n in state.nodes.values()]
    sources += [("Pod", p.namespace, p.name, p.created, p.events) for p in state.pods.values()]
    sources += [("Service", s.namespace, s.name, s.created, s.events) for s in state.services.values()]
    sources += [("Deployment", d.namespace, d.name, d.created, d.events) for d in state.deployments.values()]
    sources += [("NetworkPolicy", p.namespace, p.name, p.created, p.events) for p in state.policies.values()]
    for kind, namespace, name, created, items in sources:
        for index, event in enumerate(items):
            api_version = {"Deployment": "apps/v1", "NetworkPolicy": "networking.k8s.io/v1"}.get(kind, "v1")
            event_name = f"{name}.{int(event.first * 1e6):x}{index:02d}"
            yield {
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": event_name, "namespace": namespace or "default",
                             "creationTimestamp": iso(event.first),
                             "uid": uid(state.name, "Event", namespace, event_name, event.first)},
                "involvedObject": {"kind": kind, "name": name, "namespace": namespace or None,
                                   "apiVersion": api_version, "uid": uid(state.name, kind, namespace, name, created)},
                "reason": event.reason, "message": event.message, "type": event.type, "count": event.count,
                "source": {"component": event.source}, "firstTimestamp": iso(event.first),
                "lastTimestamp": iso(event.last), "reportingComponent": event.source,
            }


def endpoint_slices(state: LabState) -> Iterator[dict]:
    """Each Service's endpoints as the EndpointSlice controller writes them: one slice per set
    of Pods that serve the same ports (a named port may mean different numbers on different
    Pods), one endpoint per Pod address with its readiness, its node and the Pod it belongs to."""
    for ep in endpoints(state):
        name, namespace = ep["metadata"]["name"], ep["metadata"]["namespace"]
        svc = state.services[f"{namespace}/{name}"]
        groups: dict[str, dict] = {}
        for subset in ep["subsets"]:
            ports = [{"name": p.get("name", ""), "port": p["port"], "protocol": p.get("protocol", "TCP")}
                     for p in subset.get("ports", [])]
            members: dict[str, dict] = {}
            for ready, key in ((True, "addresses"), (False, "notReadyAddresses")):
                for address in subset.get(key, []):  # (a Pod with no IP yet is in no Endpoints)
                    members.setdefault(address["ip"], {
                        "addresses": [address["ip"]], "conditions": {"ready": ready, "serving": ready, "terminating": False},
                        **({"nodeName": address["nodeName"]} if address.get("nodeName") else {}),
                        **({"targetRef": address["targetRef"]} if address.get("targetRef") else {})})
            group = groups.setdefault(repr(sorted((str(ip), m["conditions"]["ready"]) for ip, m in members.items())),
                                      {"ports": [], "endpoints": members})
            group["ports"] += [p for p in ports if p not in group["ports"]]
        for index, group in enumerate(groups.values() or [{"ports": [], "endpoints": {}}]):
            suffix = uid(state.name, "EndpointSlice", namespace, f"{name}/{index}", svc.created).replace("-", "")
            slice_name = f"{name}-{''.join(c for c in suffix if c.isalpha())[:5] or 'slice'}"
            obj = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                   "metadata": {"name": slice_name, "generateName": f"{name}-", "namespace": namespace,
                                "labels": {"kubernetes.io/service-name": name,
                                           "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"},
                                "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": name,
                                                     "uid": uid(state.name, "Service", namespace, name, svc.created),
                                                     "controller": True, "blockOwnerDeletion": True}]},
                   "addressType": "IPv4", "endpoints": list(group["endpoints"].values()), "ports": group["ports"]}
            yield _finish(state, obj, svc.created)


BUILDERS: dict[str, Callable[[LabState], Iterator[dict]]] = {
    "namespaces": namespaces, "nodes": nodes, "pods": pods, "services": services, "endpoints": endpoints,
    "endpointslices": endpoint_slices,
    "events": events, "deployments": deployments, "replicasets": replica_sets, "networkpolicies": network_policies,
}


def snapshot(state: LabState) -> dict[Key, dict]:
    """Every object of the lab, by (resource, namespace, name)."""
    out: dict[Key, dict] = {}
    for resource, build in BUILDERS.items():
        for obj in build(state):
            meta = obj["metadata"]
            out[(resource, meta.get("namespace", "") if resource not in ("namespaces", "nodes") else "",
                 meta["name"])] = obj
    return out
