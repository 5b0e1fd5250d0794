"""Discovery documents of the lab's API (podnet.web.kubeapi.resources), as kubectl reads them
to resolve ``po``, ``svc``, ``deploy`` and ``kubectl get all``: names, singular names, kinds,
scopes, verbs, short names and the ``all`` category per resource, each group-version's
APIResourceList with its subresources, and the APIGroupList with preferred versions."""

from __future__ import annotations

import pytest

from podnet.web.kubeapi.resources import (BY_PATH, GROUPS, READ, RESOURCES, WRITE, api_versions, group, group_list,
                                          resource_list)


def listed(group_name: str) -> dict[str, dict]:
    return {r["name"]: r for r in resource_list(group_name)["resources"]}


@pytest.mark.parametrize("group_name, name, short, kind, namespaced", [
    ("", "pods", "po", "Pod", True), ("", "services", "svc", "Service", True),
    ("", "namespaces", "ns", "Namespace", False), ("", "nodes", "no", "Node", False),
    ("", "endpoints", "ep", "Endpoints", True), ("", "events", "ev", "Event", True),
    ("apps", "deployments", "deploy", "Deployment", True), ("apps", "replicasets", "rs", "ReplicaSet", True),
    ("networking.k8s.io", "networkpolicies", "netpol", "NetworkPolicy", True),
])
def test_short_names_kinds_and_scopes(group_name, name, short, kind, namespaced):
    entry = listed(group_name)[name]
    assert entry["shortNames"] == [short]
    assert (entry["kind"], entry["namespaced"]) == (kind, namespaced)


def test_singular_names():
    assert {r.name: r.singular for r in RESOURCES} == {
        "namespaces": "namespace", "nodes": "node", "pods": "pod", "services": "service", "endpoints": "endpoints",
        "events": "event", "deployments": "deployment", "replicasets": "replicaset", "networkpolicies": "networkpolicy",
        "endpointslices": "endpointslice"}


def test_kubectl_get_all_is_the_all_category():
    in_all = {r.name for r in RESOURCES if "all" in r.categories}
    assert in_all == {"pods", "services", "deployments", "replicasets"}
    assert "categories" not in listed("")["endpoints"] and "categories" not in listed("")["nodes"]
    assert listed("apps")["deployments"]["categories"] == ["all"]


def test_verbs():
    pods, nodes, namespaces = listed("")["pods"], listed("")["nodes"], listed("")["namespaces"]
    assert pods["verbs"] == WRITE and sorted(WRITE) == WRITE
    assert set(WRITE) == {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
    assert nodes["verbs"] == READ == ["get", "list", "watch"]
    assert "deletecollection" not in namespaces["verbs"] and {"create", "delete", "watch"} <= set(namespaces["verbs"])
    assert listed("apps")["replicasets"]["verbs"] == READ
    assert listed("networking.k8s.io")["networkpolicies"]["verbs"] == WRITE


def test_resource_lists_per_group_version():
    core = resource_list("")
    assert (core["kind"], core["apiVersion"], core["groupVersion"]) == ("APIResourceList", "v1", "v1")
    assert set(listed("")) == {"namespaces", "nodes", "pods", "services", "endpoints", "events",
                               "pods/log", "pods/exec", "pods/status"}
    assert resource_list("apps")["groupVersion"] == "apps/v1"
    assert set(listed("apps")) == {"deployments", "replicasets", "deployments/scale"}
    scale = listed("apps")["deployments/scale"]
    assert (scale["kind"], scale["group"], scale["version"]) == ("Scale", "autoscaling", "v1")
    assert "patch" in scale["verbs"] and listed("")["pods/exec"]["verbs"] == ["create", "get"]
    assert set(listed("networking.k8s.io")) == {"networkpolicies"}
    assert listed("discovery.k8s.io")["endpointslices"]["verbs"] == ["get", "list", "watch"]  # the controller writes them
    assert resource_list("batch") is None


def test_group_list_and_groups_with_preferred_versions():
    out = group_list()
    assert (out["kind"], out["apiVersion"]) == ("APIGroupList", "v1")
    assert [g["name"] for g in out["groups"]] == list(GROUPS) == ["apps", "networking.k8s.io", "discovery.k8s.io"]
    for entry in out["groups"]:
        version = {"groupVersion": f"{entry['name']}/v1", "version": "v1"}
        assert entry["versions"] == [version] and entry["preferredVersion"] == version
        assert group(entry["name"]) == {"kind": "APIGroup", "apiVersion": "v1", **entry}
    assert group("batch") is None and group("") is None


def test_api_versions_and_the_path_index():
    out = api_versions("10.0.0.1:6443")
    assert out["kind"] == "APIVersions" and out["versions"] == ["v1"]
    assert out["serverAddressByClientCIDRs"] == [{"clientCIDR": "0.0.0.0/0", "serverAddress": "10.0.0.1:6443"}]
    assert BY_PATH[("apps", "deployments")].kind == "Deployment" and ("", "deployments") not in BY_PATH
    assert {r.group_version for r in RESOURCES} == {"v1", "apps/v1", "networking.k8s.io/v1", "discovery.k8s.io/v1"}
