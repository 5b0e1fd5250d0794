"""The Tables kubectl asks the lab's API for (podnet.web.kubeapi.tables): kube-apiserver's
columns per resource (names, order, priority 1 for what ``-o wide`` adds), the cells of each
row (READY, STATUS with Terminating, PORT(S), ENDPOINTS with ``+ N more...``, SELECTOR), ages
as k8s.io/apimachinery's duration.HumanDuration writes them, and rows that carry the object's
metadata (or the whole object with ``includeObject=Object``)."""

from __future__ import annotations

import json

import pytest

from podnet.web.kubeapi.objects import iso
from podnet.web.kubeapi.tables import COLUMNS, human_duration, table

NOW = 1_700_000_000.0
CREATED = iso(NOW - 125)  # 2m5s ago


def names(resource: str, wide: bool = False) -> list[str]:
    return [c["name"] for c in COLUMNS[resource] if wide or c["priority"] == 0]


def cells(resource: str, obj: dict) -> list:
    return table(resource, [obj], "7", now=NOW)["rows"][0]["cells"]


def pod(**status) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web-1", "namespace": "default", "creationTimestamp": CREATED, "labels": {"app": "web"}},
            "spec": {"nodeName": "node-2", "containers": [{"name": "a"}, {"name": "b"}]},
            "status": {"phase": "Running", "podIP": "10.244.2.5",
                       "containerStatuses": [{"name": "a", "ready": True, "restartCount": 1, "state": {"running": {}}},
                                             {"name": "b", "ready": False, "restartCount": 2, "state": {"running": {}}}],
                       **status}}


@pytest.mark.parametrize("seconds, shown", [
    (0, "0s"), (0.9, "0s"), (59, "59s"), (119, "119s"), (120, "2m"), (123, "2m3s"), (599, "9m59s"),
    (600, "10m"), (3 * 3600 - 1, "179m"), (3 * 3600, "3h"), (5 * 3600 + 60 * 7, "5h7m"), (8 * 3600 + 59 * 60, "8h"),
    (47 * 3600, "47h"), (48 * 3600, "2d"), (3 * 86400 + 5 * 3600, "3d5h"), (8 * 86400 + 5 * 3600, "8d"),
    (364 * 86400, "364d"), (2 * 365 * 86400 - 1, "729d"), (2 * 365 * 86400, "2y"), (9 * 365 * 86400 + 86400 * 40, "9y"),
])
def test_human_duration_as_kubernetes_writes_it(seconds, shown):
    assert human_duration(seconds) == shown


def test_human_duration_years_and_days():
    assert human_duration((3 * 365 + 10) * 86400) == "3y10d"


def test_human_duration_tolerates_one_second_of_skew():
    assert human_duration(-1) == "0s"


def test_human_duration_of_a_negative_duration():
    assert human_duration(-5) == "<invalid>"


def test_pods_columns_and_cells():
    assert names("pods") == ["Name", "Ready", "Status", "Restarts", "Age"]
    assert names("pods", wide=True)[5:] == ["IP", "Node", "Nominated Node", "Readiness Gates"]
    assert COLUMNS["pods"][0]["format"] == "name"
    assert cells("pods", pod()) == ["web-1", "1/2", "Running", 3, "2m5s", "10.244.2.5", "node-2", "<none>", "<none>"]


def test_a_waiting_pod_shows_its_reason_and_a_deleted_one_terminating():
    waiting = pod(phase="Pending", podIP=None,
                  containerStatuses=[{"ready": False, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}])
    assert cells("pods", waiting)[1:4] == ["0/2", "ContainerCreating", 0] and cells("pods", waiting)[5] == "<none>"
    deleted = pod()
    deleted["metadata"]["deletionTimestamp"] = iso(NOW)
    assert cells("pods", deleted)[2] == "Terminating"


def test_nodes():
    node = {"metadata": {"name": "node-1", "creationTimestamp": iso(NOW - 3 * 86400),
                         "labels": {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/os": "linux"}},
            "status": {"conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
                       "addresses": [{"type": "Hostname", "address": "node-1"}, {"type": "InternalIP", "address": "10.0.0.1"}],
                       "nodeInfo": {"kubeletVersion": "v1.30.0-podnet", "osImage": "podnet", "kernelVersion": "6.1",
                                    "containerRuntimeVersion": "podnet://0.1.0"}}}
    assert names("nodes", wide=True) == ["Name", "Status", "Roles", "Age", "Version", "Internal-IP", "External-IP",
                                         "OS-Image", "Kernel-Version", "Container-Runtime"]
    assert names("nodes") == ["Name", "Status", "Roles", "Age", "Version"]
    assert cells("nodes", node) == ["node-1", "Ready", "control-plane", "3d", "v1.30.0-podnet", "10.0.0.1", "<none>",
                                    "podnet", "6.1", "podnet://0.1.0"]
    node["status"]["conditions"][1]["status"] = "Unknown"
    node["metadata"]["labels"] = {}
    assert cells("nodes", node)[1:3] == ["NotReady", "<none>"]


def service(ports: list, selector: dict | None = None, kind: str = "ClusterIP") -> dict:
    return {"metadata": {"name": "web", "namespace": "default", "creationTimestamp": CREATED},
            "spec": {"type": kind, "clusterIP": "10.96.0.10", "ports": ports, **({"selector": selector} if selector else {})}}


def test_services_ports_and_selector():
    assert names("services", wide=True) == ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"]
    assert [c["priority"] for c in COLUMNS["services"]] == [0, 0, 0, 0, 0, 0, 1]
    row = cells("services", service([{"port": 80, "protocol": "TCP"}, {"port": 81, "protocol": "UDP"}],
                                    {"tier": "front", "app": "web"}))
    assert row == ["web", "ClusterIP", "10.96.0.10", "<none>", "80/TCP,81/UDP", "2m5s", "app=web,tier=front"]
    node_port = cells("services", service([{"port": 80, "nodePort": 30080, "protocol": "TCP"}], kind="NodePort"))
    assert node_port[4] == "80:30080/TCP" and node_port[6] == "<none>"
    assert cells("services", service([]))[4] == "<none>"


def endpoints(subsets: list) -> dict:
    return {"metadata": {"name": "web", "namespace": "default", "creationTimestamp": CREATED}, "subsets": subsets}


def test_endpoints_show_three_and_count_the_rest():
    subset = {"addresses": [{"ip": f"10.244.1.{i}"} for i in range(1, 6)], "ports": [{"port": 8080}]}
    assert names("endpoints") == ["Name", "Endpoints", "Age"]
    assert cells("endpoints", endpoints([subset]))[1] == "10.244.1.1:8080,10.244.1.2:8080,10.244.1.3:8080 + 2 more..."
    two = {"addresses": [{"ip": "10.244.1.1"}, {"ip": "10.244.2.1"}], "ports": [{"port": 80}]}
    assert cells("endpoints", endpoints([two]))[1] == "10.244.1.1:80,10.244.2.1:80"
    assert cells("endpoints", endpoints([]))[1] == "<none>"


def test_endpoints_of_a_subset_with_two_ports_go_port_by_port():
    subset = {"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80}, {"port": 81}]}
    assert cells("endpoints", endpoints([subset]))[1] == "10.0.0.1:80,10.0.0.2:80,10.0.0.1:81 + 1 more..."


def workload(kind: str) -> dict:
    return {"metadata": {"name": "web", "namespace": "default", "creationTimestamp": CREATED},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"spec": {"containers": [{"name": "a", "image": "agnhost"}, {"name": "b", "image": "pause"}]}}},
            "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}}


def test_deployments_and_replicasets():
    assert names("deployments", wide=True) == ["Name", "Ready", "Up-to-date", "Available", "Age", "Containers", "Images",
                                               "Selector"]
    assert names("deployments") == ["Name", "Ready", "Up-to-date", "Available", "Age"]
    assert cells("deployments", workload("Deployment")) == ["web", "2/3", 3, 2, "2m5s", "a,b", "agnhost,pause", "app=web"]
    assert names("replicasets", wide=True) == ["Name", "Desired", "Current", "Ready", "Age", "Containers", "Images",
                                               "Selector"]
    assert cells("replicasets", workload("ReplicaSet")) == ["web", 3, 3, 2, "2m5s", "a,b", "agnhost,pause", "app=web"]
    empty = workload("Deployment")
    empty["status"] = {}
    assert cells("deployments", empty)[1:4] == ["0/3", 0, 0]


def test_events_namespaces_and_networkpolicies():
    event = {"metadata": {"name": "web-1.17", "namespace": "default", "creationTimestamp": CREATED},
             "lastTimestamp": iso(NOW - 30), "type": "Normal", "reason": "Scheduled",
             "involvedObject": {"kind": "Pod", "name": "web-1"}, "message": "Successfully assigned default/web-1"}
    assert names("events") == ["Last Seen", "Type", "Reason", "Object", "Message"]
    assert cells("events", event) == ["30s", "Normal", "Scheduled", "pod/web-1", "Successfully assigned default/web-1"]
    namespace = {"metadata": {"name": "team", "creationTimestamp": iso(NOW - 600)}, "status": {"phase": "Active"}}
    assert names("namespaces") == ["Name", "Status", "Age"]
    assert cells("namespaces", namespace) == ["team", "Active", "10m"]
    policy = {"metadata": {"name": "deny", "namespace": "default", "creationTimestamp": CREATED},
              "spec": {"podSelector": {"matchLabels": {"app": "db", "a": "b"}}}}
    assert names("networkpolicies") == ["Name", "Pod-Selector", "Age"]
    assert cells("networkpolicies", policy) == ["deny", "a=b,app=db", "2m5s"]
    policy["spec"]["podSelector"] = {}
    assert cells("networkpolicies", policy)[1] == "<none>"


def test_every_column_is_a_table_column_definition():
    for resource, columns in COLUMNS.items():
        for column in columns:
            assert set(column) == {"name", "type", "format", "description", "priority"}, resource
            assert column["type"] in ("string", "integer") and column["priority"] in (0, 1) and column["description"]


def test_the_table_and_its_rows():
    obj = pod()
    out = table("pods", [obj, obj], "42", now=NOW)
    assert (out["kind"], out["apiVersion"], out["metadata"]) == ("Table", "meta.k8s.io/v1", {"resourceVersion": "42"})
    assert out["columnDefinitions"] == COLUMNS["pods"] and len(out["rows"]) == 2
    assert out["rows"][0]["object"] == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                        "metadata": obj["metadata"]}
    assert all(len(r["cells"]) == len(COLUMNS["pods"]) for r in out["rows"])
    assert table("pods", [obj], "42", include="Object", now=NOW)["rows"][0]["object"] == obj
    assert table("pods", [], "1", now=NOW)["rows"] == []
    json.dumps(out)  # plain JSON


def test_an_age_from_the_future_is_zero():
    obj = pod()
    obj["metadata"]["creationTimestamp"] = iso(NOW + 3600)
    assert cells("pods", obj)[4] == "0s"


def test_every_object_a_lab_serves_prints_a_full_row():
    from podnet.web.kubeapi.objects import snapshot
    from tests.support.policy_states import pod as pod_doc, policy, state_with

    state = state_with(pod_doc("a", ports=[{"containerPort": 8080}]), policy("deny", {"podSelector": {}}),
                       {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"},
                        "spec": {"selector": {"app": "a"}, "ports": [{"port": 80, "targetPort": 8080}]}},
                       {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "w"}},
                                 "template": {"metadata": {"labels": {"app": "w"}},
                                              "spec": {"containers": [{"name": "c"}]}}}})
    objects = snapshot(state)
    assert {resource for resource, _, _ in objects} == set(COLUMNS)
    for resource in COLUMNS:
        served = [o for (r, _, _), o in sorted(objects.items()) if r == resource]
        rows = table(resource, served, "1")["rows"]
        assert [len(r["cells"]) for r in rows] == [len(COLUMNS[resource])] * len(served), resource
    services = table("services", [objects[("services", "default", "a")]], "1")["rows"][0]["cells"]
    assert services[1] == "ClusterIP" and services[4] == "80/TCP" and services[6] == "app=a"
    assert table("endpoints", [objects[("endpoints", "default", "a")]], "1")["rows"][0]["cells"][1] == "10.244.0.2:8080"
