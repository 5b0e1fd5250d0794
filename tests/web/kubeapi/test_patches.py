"""The three patch types the lab's API applies (podnet.web.kubeapi.patches), as kubectl sends
them: a JSON merge patch (maps merge, ``null`` deletes, lists are replaced), a strategic merge
patch (``kubectl apply``: containers and env merged by ``name``, a container's ports by
``containerPort``, a Service's ports by ``port``, ``$patch``, ``$setElementOrder`` and
``$deleteFromPrimitiveList`` directives) and a JSON patch (RFC 6902); none of them changes
its inputs, and a patch that does not apply raises PatchError."""

from __future__ import annotations

import copy

import pytest

from podnet.web.kubeapi.patches import PatchError, apply_patch, json_patch, merge_patch, strategic_merge


def deployment() -> dict:
    return {"metadata": {"name": "web", "labels": {"app": "web", "tier": "front"}},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [
                {"name": "app", "image": "agnhost:2.47", "args": ["netexec"],
                 "ports": [{"containerPort": 8080, "name": "http"}, {"containerPort": 9090, "name": "metrics"}],
                 "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
                {"name": "sidecar", "image": "pause:3.9"}]}}}}


def containers(obj: dict) -> list[dict]:
    return obj["spec"]["template"]["spec"]["containers"]


# -- JSON merge patch (RFC 7386) -----------------------------------------------------------------

def test_merge_patch_merges_maps_and_null_deletes_a_key():
    out = merge_patch(deployment(), {"metadata": {"labels": {"tier": None, "new": "x"}}, "spec": {"replicas": 5}})
    assert out["metadata"]["labels"] == {"app": "web", "new": "x"}
    assert out["spec"]["replicas"] == 5
    assert containers(out) == containers(deployment())


def test_merge_patch_replaces_lists_whole():
    out = merge_patch(deployment(), {"spec": {"template": {"spec": {"containers": [{"name": "only"}]}}}})
    assert containers(out) == [{"name": "only"}]


def test_merge_patch_creates_missing_maps_without_their_nulls():
    assert merge_patch({}, {"metadata": {"annotations": {"a": "1", "b": None}}}) == {"metadata": {"annotations": {"a": "1"}}}
    assert merge_patch({"a": {"b": 1}}, {"a": "scalar"}) == {"a": "scalar"}


# -- strategic merge patch -----------------------------------------------------------------------

def test_kubectl_apply_patch_merges_containers_by_name_and_ports_by_container_port():
    patch = {"metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
             "spec": {"template": {"spec": {
                 "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
                 "containers": [{"name": "app", "image": "agnhost:2.48",
                                 "$setElementOrder/ports": [{"containerPort": 8080}, {"containerPort": 9090}],
                                 "ports": [{"containerPort": 9090, "name": "prom"}]}]}}}}
    out = strategic_merge(deployment(), patch)
    app, sidecar = containers(out)
    assert app["image"] == "agnhost:2.48" and app["args"] == ["netexec"] and app["env"] == containers(deployment())[0]["env"]
    assert app["ports"] == [{"containerPort": 8080, "name": "http"}, {"containerPort": 9090, "name": "prom"}]
    assert sidecar == {"name": "sidecar", "image": "pause:3.9"}
    assert out["metadata"]["annotations"] == {"kubectl.kubernetes.io/last-applied-configuration": "{}"}
    assert not any(k.startswith("$") for k in out["spec"]["template"]["spec"]) and not any(k.startswith("$") for k in app)


def test_a_new_list_element_is_appended_and_null_deletes_inside_an_element():
    patch = {"spec": {"template": {"spec": {"containers": [
        {"name": "app", "env": [{"name": "C", "value": "3"}], "args": None}, {"name": "third", "image": "x"}]}}}}
    out = strategic_merge(deployment(), patch)
    assert [c["name"] for c in containers(out)] == ["app", "sidecar", "third"]
    assert "args" not in containers(out)[0]
    assert [e["name"] for e in containers(out)[0]["env"]] == ["A", "B", "C"]


def test_service_ports_merge_by_port():
    svc = {"spec": {"ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}, {"port": 81, "protocol": "UDP"}]}}
    out = strategic_merge(svc, {"spec": {"ports": [{"port": 81, "nodePort": 30081}]}})
    assert out["spec"]["ports"] == [{"port": 80, "targetPort": 8080, "protocol": "TCP"},
                                    {"port": 81, "protocol": "UDP", "nodePort": 30081}]


def test_patch_delete_directive_removes_one_list_element():
    out = strategic_merge(deployment(), {"spec": {"template": {"spec": {"containers": [
        {"name": "sidecar", "$patch": "delete"}, {"name": "app", "ports": [{"containerPort": 8080, "$patch": "delete"}]}]}}}})
    assert [c["name"] for c in containers(out)] == ["app"]
    assert containers(out)[0]["ports"] == [{"containerPort": 9090, "name": "metrics"}]


def test_patch_replace_directive_replaces_a_map():
    out = strategic_merge(deployment(), {"metadata": {"labels": {"$patch": "replace", "only": "this"}}})
    assert out["metadata"]["labels"] == {"only": "this"}
    assert out["metadata"]["name"] == "web"


def test_set_element_order_is_only_a_hint_here():
    patch = {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}]}}}}
    out = strategic_merge(deployment(), patch)
    assert [c["name"] for c in containers(out)] == ["app", "sidecar"]  # ignored: no reordering
    assert out == deployment()


def test_delete_from_primitive_list_and_primitive_lists_are_replaced():
    obj = {"metadata": {"finalizers": ["a", "b", "c"]}, "args": ["x", "y"]}
    out = strategic_merge(obj, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"]}, "args": ["z"]})
    assert out == {"metadata": {"finalizers": ["a", "c"]}, "args": ["z"]}


def test_lists_without_a_merge_key_are_replaced():
    policy = {"spec": {"ingress": [{"from": [{"podSelector": {}}]}, {"from": []}]}}
    out = strategic_merge(policy, {"spec": {"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}]}})
    assert out["spec"]["ingress"] == [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}]


def test_patch_delete_directive_on_a_map_deletes_it():
    out = strategic_merge(deployment(), {"metadata": {"labels": {"$patch": "delete"}}})
    assert "labels" not in out["metadata"]


def test_patch_replace_directive_in_a_list_replaces_the_list():
    out = strategic_merge(deployment(), {"spec": {"template": {"spec": {"containers": [
        {"$patch": "replace"}, {"name": "new", "image": "x"}]}}}})
    assert containers(out) == [{"name": "new", "image": "x"}]


# -- JSON patch (RFC 6902) -----------------------------------------------------------------------

def test_json_patch_add_replace_remove_test():
    ops = [{"op": "test", "path": "/spec/replicas", "value": 2},
           {"op": "replace", "path": "/spec/replicas", "value": 3},
           {"op": "add", "path": "/metadata/labels/new", "value": "x"},
           {"op": "remove", "path": "/metadata/labels/tier"},
           {"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": "--port=1"},
           {"op": "add", "path": "/spec/template/spec/containers/0/args/0", "value": "first"},
           {"op": "remove", "path": "/spec/template/spec/containers/1"}]
    out = json_patch(deployment(), ops)
    assert out["spec"]["replicas"] == 3
    assert out["metadata"]["labels"] == {"app": "web", "new": "x"}
    assert containers(out)[0]["args"] == ["first", "netexec", "--port=1"]
    assert [c["name"] for c in containers(out)] == ["app"]


def test_json_patch_pointer_escapes():
    out = json_patch({"metadata": {"labels": {}}},
                     [{"op": "add", "path": "/metadata/labels/app.kubernetes.io~1name", "value": "web"},
                      {"op": "add", "path": "/metadata/labels/a~0b", "value": "t"}])
    assert out["metadata"]["labels"] == {"app.kubernetes.io/name": "web", "a~b": "t"}


@pytest.mark.parametrize("ops, message", [
    ([{"op": "replace", "path": "/spec/missing", "value": 1}], "doc is missing path: /spec/missing"),
    ([{"op": "test", "path": "/spec/replicas", "value": 9}], "testing value /spec/replicas failed"),
    ([{"op": "remove", "path": "/spec/nothing"}], "does not apply"),
    ([{"op": "add", "path": "spec/replicas", "value": 1}], "invalid JSON pointer"),
    ([{"op": "frobnicate", "path": "/spec"}], "unsupported JSON patch operation 'frobnicate'"),
    ({"op": "add", "path": "/a", "value": 1}, "a list of operations"),
])
def test_json_patch_that_does_not_apply_raises(ops, message):
    with pytest.raises(PatchError, match=message):
        json_patch(deployment(), ops)


def test_json_patch_move_and_copy():
    out = json_patch({"a": {"x": 1}, "b": {}}, [{"op": "copy", "from": "/a/x", "path": "/b/y"},
                                                {"op": "move", "from": "/a/x", "path": "/b/z"}])
    assert out == {"a": {}, "b": {"y": 1, "z": 1}}


# -- dispatch and inputs -------------------------------------------------------------------------

def test_apply_patch_dispatches_on_the_content_type():
    target = {"spec": {"ports": [{"port": 80, "name": "a"}]}}
    patch = {"spec": {"ports": [{"port": 81}]}}
    assert apply_patch("application/merge-patch+json", target, patch)["spec"]["ports"] == [{"port": 81}]
    assert apply_patch("application/strategic-merge-patch+json", target, patch)["spec"]["ports"] == \
        [{"port": 80, "name": "a"}, {"port": 81}]
    assert apply_patch("application/json-patch+json", target, [{"op": "remove", "path": "/spec"}]) == {}
    with pytest.raises(PatchError, match="apply-patch"):
        apply_patch("application/apply-patch+yaml", target, patch)


@pytest.mark.parametrize("apply, patch", [
    (merge_patch, {"metadata": {"labels": {"app": None}}, "spec": {"template": {"spec": {"containers": []}}}}),
    (strategic_merge, {"metadata": {"labels": {"$patch": "replace"}}, "spec": {"template": {"spec": {"containers": [
        {"name": "app", "ports": [{"containerPort": 1}], "env": [{"name": "A", "$patch": "delete"}]},
        {"name": "sidecar", "$patch": "delete"}, {"name": "new"}]}}}}),
    (json_patch, [{"op": "add", "path": "/metadata/labels/x", "value": "y"},
                  {"op": "remove", "path": "/spec/template/spec/containers/0/env/0"}]),
])
def test_no_patch_changes_its_inputs(apply, patch):
    target, before_patch = deployment(), copy.deepcopy(patch)
    out = apply(target, patch)
    assert target == deployment() and patch == before_patch
    assert out != target
