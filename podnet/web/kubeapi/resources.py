"""The resources the lab's API serves, and their discovery documents.

Mirrors kube-apiserver's discovery: ``/api`` and ``/apis`` (APIVersions, APIGroupList), each
group-version's APIResourceList with the real names, singular names, kinds, verbs, short names
and categories (``kubectl get all`` uses the ``all`` category), and ``/version``. The served
groups are the legacy core group (v1), ``apps/v1``, ``networking.k8s.io/v1`` and
``discovery.k8s.io/v1`` (EndpointSlices). Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

SERVER_VERSION = {"major": "1", "minor": "30", "gitVersion": "v1.30.0+podnet", "gitCommit": "podnet",
                  "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "python",
                  "compiler": "podnet", "platform": "linux/amd64"}
WRITE = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
READ = ["get", "list", "watch"]


@dataclass(frozen=True)
class Resource:
    name: str
    singular: str
    kind: str
    group: str  # "" for the core group
    namespaced: bool
    verbs: tuple[str, ...]
    short: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    @property
    def group_version(self) -> str:
        return f"{self.group}/v1" if self.group else "v1"

    def to_json(self) -> dict:
        out = {"name": self.name, "singularName": self.singular, "namespaced": self.namespaced, "kind": self.kind,
               "verbs": list(self.verbs)}
        if self.short:
            out["shortNames"] = list(self.short)
        if self.categories:
            out["categories"] = list(self.categories)
        return out


RESOURCES = (
    Resource("namespaces", "namespace", "Namespace", "", False, tuple(w for w in WRITE if w != "deletecollection"), ("ns",)),
    Resource("nodes", "node", "Node", "", False, tuple(READ), ("no",)),
    Resource("pods", "pod", "Pod", "", True, tuple(WRITE), ("po",), ("all",)),
    Resource("services", "service", "Service", "", True, tuple(WRITE), ("svc",), ("all",)),
    Resource("endpoints", "endpoints", "Endpoints", "", True, tuple(READ), ("ep",)),
    Resource("events", "event", "Event", "", True, tuple(READ), ("ev",)),
    Resource("deployments", "deployment", "Deployment", "apps", True, tuple(WRITE), ("deploy",), ("all",)),
    Resource("replicasets", "replicaset", "ReplicaSet", "apps", True, tuple(READ), ("rs",), ("all",)),
    Resource("networkpolicies", "networkpolicy", "NetworkPolicy", "networking.k8s.io", True, tuple(WRITE), ("netpol",)),
    Resource("endpointslices", "endpointslice", "EndpointSlice", "discovery.k8s.io", True, tuple(READ)),
)
BY_PATH = {(r.group, r.name): r for r in RESOURCES}
SUBRESOURCES = {
    "": [{"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod", "verbs": ["get"]},
         {"name": "pods/exec", "singularName": "", "namespaced": True, "kind": "PodExecOptions", "verbs": ["create", "get"]},
         {"name": "pods/status", "singularName": "", "namespaced": True, "kind": "Pod", "verbs": ["get"]}],
    "apps": [{"name": "deployments/scale", "singularName": "", "namespaced": True, "kind": "Scale", "group": "autoscaling",
              "version": "v1", "verbs": ["get", "patch", "update"]}],
}
GROUPS = ("apps", "networking.k8s.io", "discovery.k8s.io")


def api_versions(address: str) -> dict:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}]}


def group_list() -> dict:
    groups = [{"name": g, "versions": [{"groupVersion": f"{g}/v1", "version": "v1"}],
               "preferredVersion": {"groupVersion": f"{g}/v1", "version": "v1"}} for g in GROUPS]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def group(name: str) -> dict | None:
    if name not in GROUPS:
        return None
    version = {"groupVersion": f"{name}/v1", "version": "v1"}
    return {"kind": "APIGroup", "apiVersion": "v1", "name": name, "versions": [version], "preferredVersion": version}


def resource_list(group_name: str) -> dict | None:
    if group_name and group_name not in GROUPS:
        return None
    resources = [r.to_json() for r in RESOURCES if r.group == group_name] + SUBRESOURCES.get(group_name, [])
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group_name}/v1" if group_name else "v1",
            "resources": resources}
