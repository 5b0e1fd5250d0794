"""Request paths of the lab's API read into what they name (podnet.web.kubeapi.paths): the
core group under ``/api/v1``, the others under ``/apis/GROUP/v1``, a resource in every
namespace or in one, an object, its subresource, the Namespace object itself, and
UnknownPath for whatever kube-apiserver would answer 404."""

from __future__ import annotations

import pytest

from podnet.web.kubeapi.paths import UnknownPath, parse


def read(path: str) -> tuple:
    t = parse(path)
    return t.resource.group, t.resource.name, t.namespace, t.name, t.sub


@pytest.mark.parametrize("path, named", [
    ("/api/v1/pods", ("", "pods", None, None, None)),
    ("/api/v1/namespaces/default/pods", ("", "pods", "default", None, None)),
    ("/api/v1/namespaces/default/pods/x", ("", "pods", "default", "x", None)),
    ("/api/v1/namespaces/default/pods/x/log", ("", "pods", "default", "x", "log")),
    ("/api/v1/namespaces/default/pods/x/exec", ("", "pods", "default", "x", "exec")),
    ("/apis/apps/v1/deployments", ("apps", "deployments", None, None, None)),
    ("/apis/apps/v1/namespaces/ns/deployments/d/scale", ("apps", "deployments", "ns", "d", "scale")),
    ("/apis/apps/v1/namespaces/ns/replicasets", ("apps", "replicasets", "ns", None, None)),
    ("/apis/networking.k8s.io/v1/namespaces/ns/networkpolicies/deny", ("networking.k8s.io", "networkpolicies", "ns",
                                                                        "deny", None)),
    ("/api/v1/nodes", ("", "nodes", None, None, None)),
    ("/api/v1/nodes/node-1", ("", "nodes", None, "node-1", None)),
    ("/api/v1/namespaces", ("", "namespaces", None, None, None)),
    ("/api/v1/namespaces/team", ("", "namespaces", None, "team", None)),  # the Namespace itself: cluster-scoped
    ("/api/v1/namespaces/team/status", ("", "namespaces", None, "team", "status")),
    ("/api/v1/namespaces/pods", ("", "namespaces", None, "pods", None)),  # a Namespace named like a resource
    ("/api/v1/namespaces/pods/pods", ("", "pods", "pods", None, None)),
    ("/api/v1/namespaces/kube-system/events/", ("", "events", "kube-system", None, None)),
])
def test_paths(path, named):
    assert read(path) == named


def test_the_target_carries_the_resource():
    target = parse("/api/v1/namespaces/default/endpoints/web")
    assert (target.resource.kind, target.resource.namespaced, target.resource.group_version) == ("Endpoints", True, "v1")


@pytest.mark.parametrize("path", [
    "/", "/api", "/api/v1", "/apis/apps", "/apis/apps/v1",
    "/api/v2/pods", "/apis/apps/v1beta1/deployments",
    "/api/v1/widgets", "/apis/unknown.example.com/v1/widgets",
    "/apis/apps/v1/pods",  # pods are in the core group
    "/api/v1/deployments",  # deployments are in apps
    "/api/v1/namespaces/default/nodes",  # nodes are cluster-scoped
    "/api/v1/namespaces/default/namespaces/x",
    "/api/v1/namespaces/default/pods/x/log/more",
    "/version/pods",
])
def test_unknown_paths(path):
    with pytest.raises(UnknownPath):
        parse(path)
