"""Namespaces, NetworkPolicies and labels in the API (podnet.k8s.workloads.namespaces,
policies_api, labels): what exists from the start, what may be created, changed and deleted,
and the API server's and kubectl's words when it may not. Pure."""

from __future__ import annotations

import json

import pytest

from podnet.core.errors import InputError
from podnet.k8s.workloads.apply import apply_objects, delete_objects
from podnet.k8s.workloads.labels import label, parse_changes
from podnet.k8s.workloads.manifests import parse_documents
from tests.support.policy_states import counter, namespace, pod, policy, state_with

DENY = {"podSelector": {}, "policyTypes": ["Ingress"]}


def apply(state, *docs):
    return apply_objects(state, parse_documents(list(docs)), rand=counter())


def snapshot(state):
    return json.dumps(state.to_json(), sort_keys=True)


def deployment(name="web", namespace_name="shop", replicas=2):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace_name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c"}]}}}}


def test_a_cluster_starts_with_four_namespaces_each_labelled_with_its_name():
    state = state_with()
    assert sorted(state.kube_namespaces) == ["default", "kube-node-lease", "kube-public", "kube-system"]
    assert all(ns.labels == {"kubernetes.io/metadata.name": name} for name, ns in state.kube_namespaces.items())


def test_namespace_created_unchanged_configured_and_its_name_label_kept():
    state, result = apply(state_with(), namespace("shop", team="a"))
    assert result.lines == ["namespace/shop created"]
    assert state.kube_namespaces["shop"].labels == {"team": "a", "kubernetes.io/metadata.name": "shop"}
    state, result = apply(state, namespace("shop", team="a"))
    assert result.lines == ["namespace/shop unchanged"]
    doc = namespace("shop", team="b")
    doc["metadata"]["labels"]["kubernetes.io/metadata.name"] = "elsewhere"
    state, result = apply(state, doc)
    assert result.lines == ["namespace/shop configured"]
    assert state.kube_namespaces["shop"].labels == {"team": "b", "kubernetes.io/metadata.name": "shop"}


@pytest.mark.parametrize("doc", [pod("a", "nowhere"), deployment("web", "nowhere"), policy("p", DENY, "nowhere")],
                         ids=["pod", "deployment", "networkpolicy"])
def test_objects_in_a_namespace_that_does_not_exist_are_refused_and_nothing_changes(doc):
    state = state_with(namespace("shop"))
    before = snapshot(state)
    with pytest.raises(InputError) as info:
        apply(state, namespace("other"), doc)  # the Namespace before it in the same file is not applied either
    assert str(info.value) == 'namespaces "nowhere" not found'
    assert snapshot(state) == before


def test_a_namespace_earlier_in_the_same_file_is_there_for_what_follows():
    state, result = apply(state_with(), namespace("shop"), pod("a", "shop"), policy("p", DENY, "shop"))
    assert result.lines == ["namespace/shop created", "pod/a created", "networkpolicy.networking.k8s.io/p created"]


def test_deleting_a_namespace_deletes_everything_in_it_and_nothing_else():
    state = state_with(namespace("shop"), namespace("tools"), deployment("web", "shop"), pod("db", "shop"),
                       pod("debug", "tools"), policy("deny", DENY, "shop"), policy("deny", DENY, "tools"))
    state, result = delete_objects(state, "ns", ["shop"], "default")
    assert "shop" not in state.kube_namespaces and result.lines[-1] == 'namespace "shop" deleted'
    assert sorted(p.name for p in state.pods.values() if p.namespace != "kube-system") == ["debug"]
    assert not [k for k in (*state.deployments, *state.policies) if k.startswith("shop/")]
    assert "tools/deny" in state.policies


@pytest.mark.parametrize("name", ["default", "kube-system", "kube-public", "kube-node-lease"])
def test_the_initial_namespaces_may_not_be_deleted(name):
    with pytest.raises(InputError, match=f'namespaces "{name}" is forbidden: this namespace may not be deleted'):
        delete_objects(state_with(), "namespace", [name], "default")


def test_deleting_a_namespace_that_does_not_exist():
    with pytest.raises(InputError) as info:
        delete_objects(state_with(), "ns", ["nowhere"], "default")
    assert str(info.value) == 'namespaces "nowhere" not found'


def test_network_policy_created_unchanged_configured_and_deleted():
    state, result = apply(state_with(namespace("shop")), policy("p", DENY, "shop"))
    assert result.lines == ["networkpolicy.networking.k8s.io/p created"]
    state, result = apply(state, policy("p", DENY, "shop"))
    assert result.lines == ["networkpolicy.networking.k8s.io/p unchanged"]
    state, result = apply(state, policy("p", {"podSelector": {"matchLabels": {"app": "db"}}}, "shop"))
    assert result.lines == ["networkpolicy.networking.k8s.io/p configured"]
    assert state.policies["shop/p"].spec["podSelector"] == {"matchLabels": {"app": "db"}}
    state, result = delete_objects(state, "netpol", ["p"], "shop")
    assert not state.policies and result.lines == ['networkpolicy.networking.k8s.io "p" deleted']
    with pytest.raises(InputError, match='networkpolicies.networking.k8s.io "p" not found in namespace shop'):
        delete_objects(state, "networkpolicy", ["p"], "shop")


def test_two_namespaces_may_hold_policies_of_the_same_name():
    state, _ = apply(state_with(namespace("a"), namespace("b")), policy("p", DENY, "a"), policy("p", DENY, "b"))
    assert sorted(state.policies) == ["a/p", "b/p"]


@pytest.mark.parametrize("words, sets, removes", [
    (["app=web"], {"app": "web"}, []),
    (["app=web", "tier-", "example.com/team=a"], {"app": "web", "example.com/team": "a"}, ["tier"]),
    (["empty="], {"empty": ""}, []),
])
def test_label_words(words, sets, removes):
    assert parse_changes(words) == (sets, removes)


@pytest.mark.parametrize("words, message", [
    ([], "invalid labels: '': give at least one KEY=VALUE to set or KEY- to remove"),
    (["app"], "invalid label: 'app': use KEY=VALUE to set a label or KEY- to remove one"),
    (["app=-web"], "invalid label value: '-web'"),
    (["bad key=x"], "invalid label key: 'bad key'"),
    (["-"], "invalid label key: ''"),
])
def test_label_words_refused(words, message):
    with pytest.raises(InputError) as info:
        parse_changes(words)
    assert str(info.value).startswith(message)


def test_label_a_pod_needs_overwrite_to_change_a_value():
    state = state_with(namespace("shop"), pod("db", "shop", app="db"))
    before = snapshot(state)
    with pytest.raises(InputError, match=r"'app' already has a value \(db\), and --overwrite is false"):
        label(state, "pod", "db", "shop", {"app": "cache"}, [])
    assert snapshot(state) == before
    new, result = label(state, "po", "db", "shop", {"app": "cache", "tier": "data"}, [], overwrite=True)
    assert new.pods["db"].labels == {"app": "cache", "tier": "data"} and result.lines == ["pod/db labeled"]
    new, result = label(new, "pods", "db", "shop", {}, ["tier", "missing"])
    assert new.pods["db"].labels == {"app": "cache"}
    _, result = label(new, "pod", "db", "shop", {"app": "cache"}, [])
    assert result.lines == ["pod/db not labeled"]


def test_label_a_pod_in_the_wrong_namespace_or_an_unknown_kind():
    state = state_with(namespace("shop"), pod("db", "shop"))
    with pytest.raises(InputError, match='pods "db" not found in namespace default'):
        label(state, "pod", "db", "default", {"a": "b"}, [])
    with pytest.raises(InputError, match="podnet labels pods and namespaces"):
        label(state, "service", "db", "shop", {"a": "b"}, [])


def test_label_a_namespace_keeps_its_name_label():
    state = state_with(namespace("monitoring", purpose="monitoring"))
    new, result = label(state, "ns", "monitoring", "default", {}, ["purpose", "kubernetes.io/metadata.name"])
    assert new.kube_namespaces["monitoring"].labels == {"kubernetes.io/metadata.name": "monitoring"}
    assert result.lines == ["namespace/monitoring labeled"]
    with pytest.raises(InputError, match='namespaces "nowhere" not found'):
        label(state, "namespace", "nowhere", "default", {"a": "b"}, [])


def test_relabelling_a_deployments_pod_out_of_its_selector_orphans_it_and_a_replacement_is_made():
    state = state_with(namespace("shop"), deployment("web", "shop", replicas=2))
    owned = sorted(p.name for p in state.pods.values() if p.owner == "shop/web")
    new, result = label(state, "pod", owned[0], "shop", {"app": "debugging"}, [], overwrite=True, rand=counter())
    kept = new.pods[owned[0]].labels
    assert new.pods[owned[0]].owner is None and kept == {"app": "debugging", "pod-template-hash": kept["pod-template-hash"]}
    now_owned = sorted(p.name for p in new.pods.values() if p.owner == "shop/web")
    assert len(now_owned) == 2 and owned[0] not in now_owned and owned[1] in now_owned
    assert result.lines == [f"pod/{owned[0]} labeled"]  # kubectl's one line; the new Pod is for the kubelet
    assert result.created_pods == [n for n in now_owned if n != owned[1]]
