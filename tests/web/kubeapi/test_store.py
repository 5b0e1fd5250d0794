"""The API server's store (podnet.web.kubeapi.store) over a lab's state file, without a lab:
states are built by hand and saved with podnet's own state_file into a temporary run
directory. One revision counter for the cluster; every object's resourceVersion is the
revision that last changed it, an unchanged object keeps its own, ``since()`` replays the
changes after a revision (ADDED, MODIFIED, DELETED with a deletionTimestamp), 410 Gone when
the revision asked for is older than the events kept, and a missing state is an empty lab."""

from __future__ import annotations

import os

import pytest

from podnet.k8s.workloads.apply import apply_objects, delete_objects
from podnet.k8s.workloads.manifests import parse_documents
from podnet.kernel import state_file
from podnet.web.kubeapi import store as store_module
from podnet.web.kubeapi.store import Gone, Store
from tests.support.policy_states import pod, state_with


@pytest.fixture
def lab(tmp_path, monkeypatch):
    """A saved state (Pods a and b on a 3-node plan) and a function that saves changes to it."""
    monkeypatch.setattr(state_file, "RUN_DIR", str(tmp_path))
    state = state_with(pod("a"), pod("b", node="node-2"))
    paths = state_file.claim(state.name, state)

    def save():
        state_file.save(paths, state)

    return state, save


def make(state, tmp_path) -> Store:
    return Store(state.name, annotations_path=str(tmp_path / "annotations.json"))


def versions(store: Store) -> dict:
    return {key: int(obj["metadata"]["resourceVersion"]) for key, obj in store.objects.items()}


def test_every_object_gets_its_own_increasing_resource_version(lab, tmp_path):
    state, _ = lab
    store = make(state, tmp_path)
    assert not store.gone
    rvs = versions(store)
    assert {r for r, _, _ in rvs} == {"namespaces", "nodes", "pods", "events"}
    assert sorted(rvs.values()) == list(range(2, store.revision + 1))  # one revision per ADDED, none shared
    assert [kind for _, kind, _ in store.since(0, "pods", None)] == ["ADDED", "ADDED"]
    assert [o["metadata"]["name"] for o in store.list("pods", None)] == ["a", "b"]
    assert store.get("pods", "default", "a")["metadata"]["resourceVersion"] == str(rvs[("pods", "default", "a")])
    assert store.get("nodes", "", "node-1")["kind"] == "Node" and store.get("pods", "default", "zzz") is None


def test_an_unchanged_state_changes_nothing(lab, tmp_path):
    state, save = lab
    store = make(state, tmp_path)
    before, revision = versions(store), store.revision
    assert store.refresh() is False  # the file did not move
    save()
    assert store.refresh(force=True) is False
    assert versions(store) == before and store.revision == revision
    assert store.since(revision, "pods", None) == []


def test_a_changed_object_alone_gets_the_next_revision(lab, tmp_path):
    state, save = lab
    store = make(state, tmp_path)
    before, revision = versions(store), store.revision
    state.pods["a"].labels = {"app": "a", "new": "yes"}
    save()
    assert store.refresh(force=True) is True
    after = versions(store)
    changed = {key for key in after if after[key] != before[key]}
    assert changed == {("pods", "default", "a")} and after[("pods", "default", "a")] == revision + 1
    assert store.revision == revision + 1
    [(rev, kind, obj)] = store.since(revision, "pods", None)
    assert (rev, kind, obj["metadata"]["labels"]["new"], obj["metadata"]["resourceVersion"]) == \
        (revision + 1, "MODIFIED", "yes", str(revision + 1))
    assert store.since(revision, "pods", "other") == [] and store.since(revision, "services", None) == []


def test_a_deleted_object_is_a_deleted_event_with_its_deletion_time(lab, tmp_path):
    state, save = lab
    store = make(state, tmp_path)
    revision = store.revision
    del state.pods["b"]
    save()
    store.refresh(force=True)
    assert store.get("pods", "default", "b") is None
    deleted = [(rev, obj) for rev, kind, obj in store.since(revision, "pods", "default") if kind == "DELETED"]
    assert [obj["metadata"]["name"] for _, obj in deleted] == ["b"]
    rev, obj = deleted[0]
    assert obj["metadata"]["deletionTimestamp"].endswith("Z") and obj["metadata"]["deletionGracePeriodSeconds"] == 0
    assert obj["metadata"]["resourceVersion"] == str(rev) and rev > revision
    assert store.revision == max(rev for rev, _, _ in store.since(revision, "events", None) + store.since(revision, "pods", None))


def test_since_replays_in_order_and_only_what_came_after(lab, tmp_path):
    state, save = lab
    store = make(state, tmp_path)
    start = store.revision
    for value in ("1", "2", "3"):
        state.pods["a"].labels = {"app": "a", "v": value}
        save()
        store.refresh(force=True)
    replay = store.since(start, "pods", None)
    assert [(rev, obj["metadata"]["labels"]["v"]) for rev, _, obj in replay] == [(start + 1, "1"), (start + 2, "2"),
                                                                                (start + 3, "3")]
    assert [rev for rev, _, _ in store.since(start + 2, "pods", None)] == [start + 3]


def test_too_old_a_revision_is_gone(lab, tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "KEEP_EVENTS", 4)
    state, save = lab
    store = make(state, tmp_path)  # 12 objects ADDED: only the last 4 events are kept
    assert store.oldest == store.revision - 3
    with pytest.raises(Gone):
        store.since(store.oldest - 2, "pods", None)
    kept = store.since(store.oldest - 1, "events", None) + store.since(store.oldest - 1, "pods", None)
    assert sorted(rev for rev, _, _ in kept) == list(range(store.oldest, store.revision + 1))  # the 4 kept
    state.pods["a"].labels = {"app": "a", "v": "1"}
    save()
    store.refresh(force=True)
    assert [kind for _, kind, _ in store.since(store.revision - 1, "pods", None)] == ["MODIFIED"]


def test_a_missing_state_is_an_empty_lab_and_every_object_deleted(lab, tmp_path):
    state, _ = lab
    store = make(state, tmp_path)
    revision, count = store.revision, len(store.objects)
    os.unlink(state_file.LabPaths(state.name).state_file)
    assert store.refresh() is True
    assert store.gone and store.objects == {}
    events = [kind for resource in ("namespaces", "nodes", "pods", "events") for _, kind, _ in store.since(revision, resource, None)]
    assert events == ["DELETED"] * count and store.revision == revision + count


def test_kept_annotations_are_served_with_the_object(lab, tmp_path):
    state, _ = lab
    store = make(state, tmp_path)
    store.annotations.set("pods", "default", "a", {"kubectl.kubernetes.io/last-applied-configuration": "{}"})
    store.annotations.set("pods", "default", "gone", {"x": "y"})
    revision = store.revision
    store.refresh(force=True)
    assert store.get("pods", "default", "a")["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] == "{}"
    assert [kind for _, kind, _ in store.since(revision, "pods", None)] == ["MODIFIED"]
    assert store.annotations.get("pods", "default", "gone") == {}  # dropped: no such object


def _changed(state, *manifests, remove: str | None = None):
    """The state after podnet's own delete and apply, saved where the store reads it."""
    new = state
    if remove:
        new, _ = delete_objects(new, "pod", [remove], "default")
    if manifests:
        new, _ = apply_objects(new, parse_documents(list(manifests)))
    state_file.save(state_file.LabPaths(state.name), new)
    return new


def test_a_replaced_pod_goes_before_its_replacement_comes(lab, tmp_path):
    """One save that removes a Pod and adds another: the watch sees DELETED first, as a
    cluster's watchers do (the old Pod terminates before the ReplicaSet's new one appears)."""
    state, _ = lab
    store = make(state, tmp_path)
    revision = store.revision
    _changed(state, pod("c"), remove="a")
    assert store.refresh() is True
    changes = [(kind, obj["metadata"]["name"]) for _, kind, obj in store.since(revision, "pods", None)]
    assert changes == [("DELETED", "a"), ("ADDED", "c")], changes


def test_a_save_within_the_same_clock_tick_is_still_seen(lab, tmp_path):
    """The state file is replaced on every save: a new inode tells the saves apart even when
    the file system's clock gave both the same time."""
    state, _ = lab
    store = make(state, tmp_path)
    path = state_file.LabPaths(state.name).state_file
    before = os.stat(path)
    _changed(state, pod("d"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert store.refresh() is True and store.get("pods", "default", "d") is not None


def test_a_service_whose_pods_have_no_ip_yet_has_empty_endpoints_and_slices(lab, tmp_path):
    """Pods not yet given an address are in no Endpoints and no EndpointSlice (and never
    break the store's view of the lab)."""
    state, _ = lab
    store = make(state, tmp_path)
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
               "spec": {"selector": {"app": "a"}, "ports": [{"port": 80}]}}
    new = _changed(state, service)
    new.pods["a"].ip, new.pods["a"].phase = None, "Pending"  # as before its sandbox got an address
    state_file.save(state_file.LabPaths(state.name), new)
    assert store.refresh() is True
    assert not store.get("pods", "default", "a")["status"].get("podIP")
    assert store.get("endpoints", "default", "s")["subsets"] == []
    [one] = [o for o in store.list("endpointslices", "default")
             if o["metadata"]["labels"]["kubernetes.io/service-name"] == "s"]
    assert one["endpoints"] == [] and one["addressType"] == "IPv4"
