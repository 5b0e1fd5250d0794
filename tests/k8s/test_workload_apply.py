"""kubectl apply/delete against a lab state, the Deployment controller, Endpoints and the DNS add-on
(podnet.workloads.apply, podnet.workloads.endpoints, podnet.workloads.addons)."""

from __future__ import annotations

import copy
import json
import re

import pytest

from podnet.core.errors import InputError
from podnet.core.model import NamespaceState, RUNNING, ServicePortState
from podnet.lab.initial import initial_state
from podnet.core.spec import build_spec
from podnet.k8s.dns import addons
from podnet.k8s.workloads.apply import (
    SAFE_ALPHABET,
    apply_objects,
    delete_listed,
    delete_objects,
    template_hash,
)
from podnet.k8s.workloads.endpoints import port_label, ready_endpoints, selects, target_port
from podnet.k8s.workloads.manifests import InvalidObject, parse_documents

NODES = [("node-1", "control-plane"), ("node-2", "worker"), ("node-3", "worker")]


def lab(**kwargs):
    """A planned lab with one more namespace than a cluster starts with: prod."""
    state = initial_state(build_spec(nodes=NODES, pods=kwargs.pop("pods", []), **kwargs))
    state.kube_namespaces["prod"] = NamespaceState("prod", {"kubernetes.io/metadata.name": "prod"})
    return state


def counter(start=0):
    calls = iter(range(start, 10**6))
    return lambda n: next(calls) % n


def pod(name="client", labels=None, node=None, ports=None, namespace="default"):
    spec = {"containers": [{"name": "app", "ports": ports or []}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels or {"app": "client"}}, "spec": spec}


def deployment(name="web", replicas=2, labels=None, port=8080, node=None, namespace="default", selector=None):
    labels = labels or {"app": name}
    spec = {"containers": [{"name": "app", "ports": [{"name": "http", "containerPort": port}]}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": replicas, "selector": {"matchLabels": selector or {"app": name}},
                     "template": {"metadata": {"labels": labels}, "spec": spec}}}


def service(name="web", ports=None, namespace="default", selector=None, **spec):
    body = {"selector": selector or {"app": name}, "ports": ports or [{"port": 80, "targetPort": 8080}]}
    body.update(spec)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace}, "spec": body}


def apply(state, *docs, rand=None):
    return apply_objects(state, parse_documents(list(docs)), rand=rand or counter())


def owned(state, key="default/web"):
    return sorted((p for p in state.pods.values() if p.owner == key), key=lambda p: p.created)


def snapshot(state):
    return json.dumps(state.to_json(), sort_keys=True)


# --- created / configured / unchanged ------------------------------------------------------------


def test_apply_lines_created_then_unchanged():
    docs = [deployment(), service(), pod()]
    state, result = apply(lab(), *docs)
    assert result.lines == ["deployment.apps/web created", "service/web created", "pod/client created"]
    assert sorted(result.created_pods) == sorted(state.pods)
    assert len(state.pods) == 3 and result.removed_pods == []
    again, result = apply(state, *docs)
    assert result.lines == ["deployment.apps/web unchanged", "service/web unchanged", "pod/client unchanged"]
    assert result.created_pods == [] and result.removed_pods == []
    assert sorted(again.pods) == sorted(state.pods)


def test_configured_on_replicas_or_service_change():
    state, _ = apply(lab(), deployment(), service())
    _, result = apply(state, deployment(replicas=3), service(ports=[{"port": 81, "targetPort": 8080}]))
    assert result.lines == ["deployment.apps/web configured", "service/web configured"]


def test_service_selector_or_affinity_change_is_configured():
    state, _ = apply(lab(), service())
    new, result = apply(state, service(selector={"app": "other"}))
    assert result.lines == ["service/web configured"]
    assert new.services["default/web"].selector == {"app": "other"}
    new, result = apply(state, service(sessionAffinity="ClientIP"))
    assert result.lines == ["service/web configured"]
    assert new.services["default/web"].session_affinity == "ClientIP"


def test_docker_model_lab_refuses_manifests():
    state = lab(model="docker")
    with pytest.raises(InputError) as info:
        apply(state, service())
    assert "a Docker-model lab has no Kubernetes API" in str(info.value)


# --- the Deployment controller -------------------------------------------------------------------


def test_deployment_pod_names_and_fields():
    state, _ = apply(lab(), deployment(replicas=3))
    [obj] = parse_documents([deployment(replicas=3)])
    prefix = f"web-{template_hash(obj)}-"
    pods = owned(state)
    assert len(pods) == 3
    for p in pods:
        assert p.name.startswith(prefix)
        assert re.fullmatch(f"[{SAFE_ALPHABET}]{{5}}", p.name[len(prefix):])
        assert p.owner == "default/web" and p.role == "echo"
        assert p.labels == {"app": "web", "pod-template-hash": template_hash(obj)}  # as a ReplicaSet labels its Pods
        assert p.ports == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
        assert p.ip is None
    assert len(template_hash(obj)) == 10
    # spread by the scheduler over the three nodes
    assert sorted(p.node for p in pods) == ["node-1", "node-2", "node-3"]
    dep = state.deployments["default/web"]
    assert (dep.replicas, dep.template_hash) == (3, template_hash(obj))
    assert [e.reason for e in dep.events] == ["SuccessfulCreate"] * 3


def test_template_hash_depends_on_the_template_only():
    [a] = parse_documents([deployment(replicas=1)])
    [b] = parse_documents([deployment(replicas=5)])
    [c] = parse_documents([deployment(port=9090)])
    [d] = parse_documents([deployment(labels={"app": "web", "v": "2"})])
    assert template_hash(a) == template_hash(b)
    assert len({template_hash(a), template_hash(c), template_hash(d)}) == 3


def test_long_deployment_names_give_63_character_pod_names():
    name = "d" * 53
    state, _ = apply(lab(), deployment(name=name, replicas=1))
    [p] = owned(state, f"default/{name}")
    assert len(p.name) <= 63


def test_scale_up_keeps_existing_pods():
    state, _ = apply(lab(), deployment(replicas=2))
    before = {p.name for p in owned(state)}
    state, result = apply(state, deployment(replicas=4))
    after = {p.name for p in owned(state)}
    assert before < after and len(after) == 4
    assert set(result.created_pods) == after - before
    assert result.removed_pods == []
    assert result.lines == ["deployment.apps/web configured"]


def test_scale_down_removes_the_newest_pods():
    state, _ = apply(lab(), deployment(replicas=4))
    for age, p in enumerate(owned(state)):
        p.created = 1000.0 + age  # make the order explicit
    oldest = owned(state)[0].name
    newest = [p.name for p in owned(state)[1:]]
    state, result = apply(state, deployment(replicas=1))
    assert [p.name for p in owned(state)] == [oldest]
    assert sorted(p.name for p in result.removed_pods) == sorted(newest)
    assert result.created_pods == []
    events = [e.message for e in state.deployments["default/web"].events if e.reason == "ScalingReplicaSet"]
    assert sorted(events) == sorted(f"Deleted pod: {n}" for n in newest)


def test_scale_to_zero_and_back():
    state, _ = apply(lab(), deployment(replicas=2))
    state, result = apply(state, deployment(replicas=0))
    assert owned(state) == [] and len(result.removed_pods) == 2
    state, result = apply(state, deployment(replicas=1))
    assert len(owned(state)) == 1 and len(result.created_pods) == 1


def test_template_change_replaces_every_pod():
    state, _ = apply(lab(), deployment(replicas=3))
    old = {p.name for p in owned(state)}
    old_hash = state.deployments["default/web"].template_hash
    state, result = apply(state, deployment(replicas=3, port=9090))
    new_pods = owned(state)
    assert {p.name for p in result.removed_pods} == old
    assert {p.name for p in new_pods}.isdisjoint(old)
    assert len(new_pods) == 3 and set(result.created_pods) == {p.name for p in new_pods}
    new_hash = state.deployments["default/web"].template_hash
    assert new_hash != old_hash
    assert all(p.name.startswith(f"web-{new_hash}-") for p in new_pods)
    assert all(p.ports == [{"name": "http", "containerPort": 9090, "protocol": "TCP"}] for p in new_pods)
    assert result.lines == ["deployment.apps/web configured"]


def test_replicas_change_does_not_replace_pods():
    state, _ = apply(lab(), deployment(replicas=2))
    old = {p.name for p in owned(state)}
    state, result = apply(state, deployment(replicas=3))
    assert old <= {p.name for p in owned(state)}
    assert result.removed_pods == []


def test_deployment_selector_is_immutable():
    state, _ = apply(lab(), deployment(labels={"app": "web", "tier": "a"}))
    with pytest.raises(InvalidObject) as info:
        apply(state, deployment(labels={"app": "web", "tier": "a"}, selector={"app": "web", "tier": "a"}))
    assert str(info.value) == ('The Deployment "web" is invalid: spec.selector: Invalid value: "{...}": '
                               "field is immutable")


def test_deleting_a_deployment_pod_creates_a_replacement_with_a_new_name():
    state, _ = apply(lab(), deployment(replicas=2))
    victim = owned(state)[0]
    victim.phase, victim.ip = RUNNING, "10.244.0.5"
    survivor = owned(state)[1].name
    new, result = delete_objects(state, "pod", [victim.name], "default", rand=counter(start=1000))
    assert result.lines == [f'pod "{victim.name}" deleted']
    assert [p.name for p in result.removed_pods] == [victim.name]
    [replacement] = result.created_pods
    assert replacement != victim.name and replacement not in state.pods
    assert victim.name not in new.pods and survivor in new.pods
    fresh = new.pods[replacement]
    assert fresh.owner == "default/web" and fresh.ip is None and fresh.phase != RUNNING
    assert fresh.name.startswith(f"web-{state.deployments['default/web'].template_hash}-")
    assert len(owned(new)) == 2


def test_replacement_never_reuses_the_deleted_pods_name():
    # the generator draws the same five characters again for the replacement
    state, _ = apply(lab(), deployment(replicas=1), rand=lambda n: 0)
    [victim] = owned(state)
    draws = iter([0] * 5 + [1] * 100)
    new, result = delete_objects(state, "pod", [victim.name], "default", rand=lambda n: next(draws))
    assert result.created_pods != [victim.name]


def test_deleting_a_plain_pod_does_not_replace_it():
    state, _ = apply(lab(), pod())
    new, result = delete_objects(state, "po", ["client"], "default")
    assert "client" not in new.pods
    assert result.created_pods == [] and [p.name for p in result.removed_pods] == ["client"]


def test_delete_deployment_removes_its_pods_only():
    state, _ = apply(lab(), deployment(replicas=2), pod())
    new, result = delete_objects(state, "deploy", ["web"], "default")
    assert result.lines == ['deployment.apps "web" deleted']
    assert "default/web" not in new.deployments
    assert list(new.pods) == ["client"]
    assert len(result.removed_pods) == 2


def test_delete_service_and_unknown_objects():
    state, _ = apply(lab(), service())
    new, result = delete_objects(state, "svc", ["web"], "default")
    assert result.lines == ['service "web" deleted'] and new.services == {}
    for kind, name, message in [
        ("svc", "nope", 'invalid service: \'nope\': services "nope" not found in namespace default'),
        ("deployment", "nope", 'invalid deployment: \'nope\': deployments.apps "nope" not found in namespace default'),
        ("pod", "nope", 'invalid pod: \'nope\': pods "nope" not found in namespace default'),
        ("configmap", "x", "invalid resource type: 'configmap': use pod, deployment, service, namespace or networkpolicy (po, deploy, svc, ns, netpol)"),
    ]:
        with pytest.raises(InputError) as info:
            delete_objects(state, kind, [name], "default")
        assert str(info.value) == message
    # a Service of that name in another namespace is not this one
    with pytest.raises(InputError):
        delete_objects(state, "svc", ["web"], "prod")
    same, result = delete_objects(state, "svc", ["nope"], "default", missing_ok=True)
    assert result.lines == [] and snapshot(same) == snapshot(state)


def test_delete_listed_skips_missing_objects():
    state, _ = apply(lab(), deployment(), service())
    objects = parse_documents([deployment(), service(), service(name="gone")])
    new, result = delete_listed(state, objects)
    assert result.lines == ['deployment.apps "web" deleted', 'service "web" deleted']
    assert new.pods == {} and new.services == {} and new.deployments == {}
    assert len(result.removed_pods) == 2


def test_delete_of_several_names_is_all_or_nothing():
    state, _ = apply(lab(), service(), service(name="api"))
    before = snapshot(state)
    with pytest.raises(InputError):
        delete_objects(state, "svc", ["web", "nope"], "default")
    assert snapshot(state) == before


# --- Pods ----------------------------------------------------------------------------------------


def test_pod_labels_are_mutable_as_in_kubernetes():
    state, _ = apply(lab(), pod(node="node-2", labels={"app": "web"}, ports=[{"containerPort": 80}]))
    state, result = apply(state, pod(node="node-2", labels={"app": "other"}, ports=[{"containerPort": 80}]))
    assert result.lines == ["pod/client configured"] and state.pods["client"].labels == {"app": "other"}
    assert result.created_pods == [] and result.removed_pods == []  # the same sandbox: nothing restarts


def test_pod_spec_is_immutable():
    state, _ = apply(lab(), pod(node="node-2", ports=[{"containerPort": 80}]))
    for changed in (pod(node="node-3", ports=[{"containerPort": 80}]),
                    pod(node="node-2", ports=[{"containerPort": 81}])):
        before = snapshot(state)
        with pytest.raises(InputError) as info:
            apply(state, changed)
        assert str(info.value) == ("invalid Pod \"client\": 'spec': Pod updates may not change fields other than a "
                                   "few; delete it first (podnet delete pod client), then apply")
        assert snapshot(state) == before
    # the same spec, or no nodeName at all, is unchanged
    _, result = apply(state, pod(ports=[{"containerPort": 80}]))
    assert result.lines == ["pod/client unchanged"]


def test_a_deployment_pod_cannot_be_applied_directly():
    state, _ = apply(lab(), deployment(replicas=1))
    [p] = owned(state)
    with pytest.raises(InputError) as info:
        apply(state, pod(name=p.name, labels={"app": "web"}))
    assert "belongs to Deployment default/web" in str(info.value)


def test_pod_names_are_unique_across_namespaces():
    state, _ = apply(lab(), pod())
    with pytest.raises(InputError) as info:
        apply(state, pod(namespace="prod"))
    assert "a Pod of that name exists in namespace default" in str(info.value)


def test_pod_without_node_name_is_scheduled_to_the_least_loaded_node():
    state = lab(pods=[("a", "node-1"), ("b", "node-2")])
    new, _ = apply(state, pod())
    assert new.pods["client"].node == "node-3"
    assert new.pods["client"].events[-1].reason == "Scheduled"


def test_node_name_must_name_a_node_of_the_lab():
    state = lab()
    before = snapshot(state)
    with pytest.raises(InvalidObject) as info:
        apply(state, pod(node="node-9"))
    assert str(info.value) == ('The Pod "client" is invalid: spec.nodeName: Invalid value: "node-9": must name a '
                               "node of the lab (node-1, node-2, node-3)")
    with pytest.raises(InvalidObject) as info:
        apply(state, deployment(node="node-9"))
    assert str(info.value) == ('The Deployment "web" is invalid: spec.template.spec.nodeName: Invalid value: '
                               '"node-9": must name a node of the lab (node-1, node-2, node-3)')
    assert snapshot(state) == before


def test_deployment_pinned_to_a_node():
    state, _ = apply(lab(), deployment(replicas=3, node="node-2"))
    assert {p.node for p in owned(state)} == {"node-2"}


@pytest.mark.parametrize("name", ["node-1", "internet"])
def test_a_pod_may_not_take_a_node_or_reserved_name(name):
    with pytest.raises(InputError):
        apply(lab(), pod(name=name))


# --- the state is never changed on error ------------------------------------------------------


def test_input_state_is_not_mutated_by_a_failing_apply():
    state, _ = apply(lab(), deployment(), service(type="NodePort",
                                                  ports=[{"port": 80, "targetPort": 8080, "nodePort": 30080}]))
    before = snapshot(state)
    deep = copy.deepcopy(state)
    with pytest.raises(InvalidObject) as info:
        apply(state, deployment(name="api", replicas=3), deployment(replicas=5), pod(),
              service(name="api", type="NodePort", ports=[{"port": 80, "nodePort": 30080}]))
    assert "provided port is already allocated" in str(info.value)
    assert snapshot(state) == before
    assert snapshot(deep) == before


def test_input_state_is_not_mutated_by_a_successful_apply():
    state, _ = apply(lab(), deployment(replicas=3), service())
    before = snapshot(state)
    apply(state, deployment(replicas=1), service(ports=[{"port": 81}]), pod())
    delete_objects(state, "deploy", ["web"], "default")
    assert snapshot(state) == before


# --- Services ------------------------------------------------------------------------------------


def test_service_gets_an_address_from_the_service_cidr():
    state, _ = apply(lab(), service())
    svc = state.services["default/web"]
    assert svc.cluster_ip == "10.107.164.13"  # deterministic for default/web in 10.96.0.0/12
    assert svc.ports == [ServicePortState("", "TCP", 80, 8080, None)]


def test_cluster_ip_is_kept_on_reapply():
    state, _ = apply(lab(), service())
    ip = state.services["default/web"].cluster_ip
    state, _ = apply(state, service(ports=[{"port": 8080}]))
    assert state.services["default/web"].cluster_ip == ip
    # naming the same address explicitly is fine
    state, result = apply(state, service(ports=[{"port": 8080}], clusterIP=ip))
    assert result.lines == ["service/web unchanged"]


def test_cluster_ip_is_kept_even_when_a_fresh_allocation_would_differ():
    # "api" holds the address web's hash would pick first, so web gets another one
    from podnet.k8s.workloads.allocator import allocate_ip

    state = lab()
    preferred = allocate_ip("default/web", state.spec.service_cidr, [])
    state, _ = apply(state, service(name="api", clusterIP=preferred))
    state, _ = apply(state, service())
    ip = state.services["default/web"].cluster_ip
    assert ip != preferred
    state, _ = delete_objects(state, "svc", ["api"], "default")
    state, _ = apply(state, service(ports=[{"port": 8080}]))
    assert state.services["default/web"].cluster_ip == ip


def test_node_port_is_kept_even_when_a_fresh_allocation_would_differ():
    from podnet.k8s.workloads.allocator import allocate_node_port

    preferred = allocate_node_port("default/web:http:80", [])
    state, _ = apply(lab(), service(name="api", type="NodePort", ports=[{"port": 80, "nodePort": preferred}]))
    ports = [{"name": "http", "port": 80, "targetPort": 8080}]
    state, _ = apply(state, service(type="NodePort", ports=ports))
    node_port = state.services["default/web"].ports[0].node_port
    assert node_port != preferred
    state, _ = delete_objects(state, "svc", ["api"], "default")
    state, result = apply(state, service(type="NodePort", ports=ports))
    assert state.services["default/web"].ports[0].node_port == node_port
    assert result.lines == ["service/web unchanged"]


def test_cluster_ip_change_is_refused():
    state, _ = apply(lab(), service(clusterIP="10.96.0.50"))
    before = snapshot(state)
    with pytest.raises(InvalidObject) as info:
        apply(state, service(clusterIP="10.96.0.51"))
    assert str(info.value) == ('The Service "web" is invalid: spec.clusterIP: Invalid value: "10.96.0.51": '
                               "field is immutable")
    assert snapshot(state) == before


def test_requested_cluster_ip_outside_range_or_taken():
    state = lab()
    state, _ = apply_objects(state, addons.dns_objects(state))
    before = snapshot(state)
    with pytest.raises(InvalidObject) as info:
        apply(state, service(clusterIP="10.0.0.10"))
    assert str(info.value) == ('The Service "web" is invalid: spec.clusterIP: Invalid value: "10.0.0.10": provided '
                               "IP is not in the valid range. The range of valid IPs is 10.96.0.0/12")
    with pytest.raises(InvalidObject) as info:
        apply(state, service(clusterIP="10.96.0.10"))
    assert str(info.value).endswith("provided IP is already allocated")
    assert snapshot(state) == before


def test_two_services_in_one_apply_get_different_addresses_and_ports():
    state, _ = apply(lab(), service(type="NodePort"), service(name="api", type="NodePort"))
    web, api = state.services["default/web"], state.services["default/api"]
    assert web.cluster_ip != api.cluster_ip
    assert web.ports[0].node_port != api.ports[0].node_port


def test_node_port_is_allocated_and_kept_on_reapply():
    state, _ = apply(lab(), service(type="NodePort", ports=[{"name": "http", "port": 80, "targetPort": 8080}]))
    [port] = state.services["default/web"].ports
    assert 30000 <= port.node_port <= 32767
    # adding a second port keeps the first one's nodePort
    state, result = apply(state, service(type="NodePort", ports=[{"name": "http", "port": 80, "targetPort": 8080},
                                                                 {"name": "admin", "port": 81}]))
    assert result.lines == ["service/web configured"]
    first, second = state.services["default/web"].ports
    assert first.node_port == port.node_port
    assert second.node_port and second.node_port != port.node_port
    # reapplied unchanged
    _, result = apply(state, service(type="NodePort", ports=[{"name": "http", "port": 80, "targetPort": 8080},
                                                             {"name": "admin", "port": 81}]))
    assert result.lines == ["service/web unchanged"]


def test_explicit_node_port_kept_and_reapplied_by_the_same_service():
    state, _ = apply(lab(), service(type="NodePort", ports=[{"port": 80, "nodePort": 30080}]))
    state, result = apply(state, service(type="NodePort", ports=[{"port": 80, "nodePort": 30080}]))
    assert result.lines == ["service/web unchanged"]
    assert state.services["default/web"].ports[0].node_port == 30080


def test_node_port_taken_by_another_service():
    state, _ = apply(lab(), service(type="NodePort", ports=[{"port": 80, "nodePort": 30080}]))
    before = snapshot(state)
    with pytest.raises(InvalidObject) as info:
        apply(state, service(name="api", type="NodePort", ports=[{"name": "a", "port": 81},
                                                                 {"name": "b", "port": 80, "nodePort": 30080}]))
    assert str(info.value) == ('The Service "api" is invalid: spec.ports[1].nodePort: Invalid value: 30080: '
                               "provided port is already allocated")
    assert snapshot(state) == before
    # the same within one apply
    with pytest.raises(InvalidObject):
        apply(lab(), service(type="NodePort", ports=[{"port": 80, "nodePort": 30080}]),
              service(name="api", type="NodePort", ports=[{"port": 80, "nodePort": 30080}]))


def test_node_port_released_when_type_changes_to_cluster_ip():
    state, _ = apply(lab(), service(type="NodePort", ports=[{"port": 80, "nodePort": 30080}]))
    state, result = apply(state, service())
    assert result.lines == ["service/web configured"]
    assert state.services["default/web"].ports[0].node_port is None
    state, _ = apply(state, service(name="api", type="NodePort", ports=[{"port": 80, "nodePort": 30080}]))
    assert state.services["default/api"].ports[0].node_port == 30080


def test_service_keeps_its_creation_time_and_events_on_reapply():
    state, _ = apply(lab(), service())
    state.services["default/web"].created = 12345.0
    state, _ = apply(state, service(ports=[{"port": 81}]))
    assert state.services["default/web"].created == 12345.0


# --- Endpoints ------------------------------------------------------------------------------------


def running(state, ips):
    for p, ip in zip(sorted(state.pods.values(), key=lambda p: p.name), ips):
        p.phase, p.ip = RUNNING, ip
    return state


def test_named_target_port_includes_only_pods_declaring_that_name():
    state, _ = apply(lab(),
                     pod("a", {"app": "web"}, ports=[{"name": "http", "containerPort": 8080}]),
                     pod("b", {"app": "web"}, ports=[{"name": "http", "containerPort": 9090}]),
                     pod("c", {"app": "web"}, ports=[{"name": "admin", "containerPort": 8080}]),
                     pod("d", {"app": "web"}, ports=[{"name": "http", "containerPort": 8080, "protocol": "UDP"}]),
                     service(ports=[{"port": 80, "targetPort": "http"}]))
    running(state, ["10.244.0.2", "10.244.1.2", "10.244.2.2", "10.244.0.3"])
    svc = state.services["default/web"]
    endpoints = ready_endpoints(state, svc, svc.ports[0])
    assert [(e.pod, e.ip, e.port) for e in endpoints] == [("a", "10.244.0.2", 8080), ("b", "10.244.1.2", 9090)]
    assert endpoints[0].address == "10.244.0.2:8080"
    assert target_port(svc.ports[0], state.pods["c"]) is None


def test_numeric_target_port_is_used_for_every_selected_pod():
    state, _ = apply(lab(), pod("a", {"app": "web"}), pod("b", {"app": "web", "x": "y"}), pod("c", {"app": "db"}),
                     service())
    running(state, ["10.244.0.2", "10.244.1.2", "10.244.2.2"])
    svc = state.services["default/web"]
    assert [(e.pod, e.port, e.node) for e in ready_endpoints(state, svc, svc.ports[0])] == [
        ("a", 8080, state.pods["a"].node), ("b", 8080, state.pods["b"].node)]


def test_only_running_pods_of_the_same_namespace_with_an_ip_are_endpoints():
    state, _ = apply(lab(), pod("a", {"app": "web"}), pod("b", {"app": "web"}),
                     pod("c", {"app": "web"}, namespace="prod"), service())
    running(state, ["10.244.0.2", "10.244.1.2", "10.244.2.2"])
    state.pods["b"].phase = "ContainerCreating"
    svc = state.services["default/web"]
    assert [e.pod for e in ready_endpoints(state, svc, svc.ports[0])] == ["a"]
    assert not selects(svc, state.pods["c"])


def test_service_without_selector_selects_nothing():
    state, _ = apply(lab(), pod("a", {"app": "web"}), service())
    running(state, ["10.244.0.2"])
    svc = state.services["default/web"]
    svc.selector = {}
    assert ready_endpoints(state, svc, svc.ports[0]) == []


def test_port_label():
    state, _ = apply(lab(), service(ports=[{"name": "http", "port": 80}, {"name": "dns", "port": 53}]),
                     service(name="api"))
    web, api = state.services["default/web"], state.services["default/api"]
    assert port_label(web, web.ports[1]) == "default/web:dns"
    assert port_label(api, api.ports[0]) == "default/api"


# --- the DNS add-on ------------------------------------------------------------------------------


def test_dns_objects_as_kubeadm_installs_them():
    state = lab()
    dep, svc = addons.dns_objects(state)
    assert (dep.kind, dep.namespace, dep.name, dep.replicas) == ("Deployment", "kube-system", "coredns", 1)
    assert dep.selector == dep.template_labels == {"k8s-app": "kube-dns"}
    assert [(p.name, p.container_port, p.protocol) for p in dep.ports] == [("dns", 53, "UDP"), ("dns-tcp", 53, "TCP")]
    assert (svc.kind, svc.namespace, svc.name, svc.cluster_ip) == ("Service", "kube-system", "kube-dns", "10.96.0.10")
    assert [(p.name, p.protocol, p.port, p.target_port) for p in svc.ports] == [("dns", "UDP", 53, 53),
                                                                                ("dns-tcp", "TCP", 53, 53)]
    other = lab(service_cidr="10.100.0.0/16")
    assert addons.dns_objects(other)[1].cluster_ip == "10.100.0.10"


def test_dns_objects_applied_give_a_dns_pod_and_zone():
    state = lab()
    state, result = apply_objects(state, addons.dns_objects(state))
    assert result.lines == ["deployment.apps/coredns created", "service/kube-dns created"]
    [dns_pod] = [p for p in state.pods.values() if p.owner == "kube-system/coredns"]
    assert dns_pod.role == "dns" and dns_pod.namespace == "kube-system"
    state, _ = apply(state, service())
    assert addons.zone(state) == {"domain": "cluster.local", "records": {
        "kube-dns.kube-system.svc.cluster.local.": ["10.96.0.10"],
        "web.default.svc.cluster.local.": [state.services["default/web"].cluster_ip]}}


def test_resolv_conf_and_search_path():
    assert addons.resolv_conf(lab(), "prod") == ("search prod.svc.cluster.local svc.cluster.local cluster.local\n"
                                                 "nameserver 10.96.0.10\noptions ndots:5\n")
    assert addons.search_path("default") == ["default.svc.cluster.local", "svc.cluster.local", "cluster.local"]
