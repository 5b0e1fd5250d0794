"""get svc / ep / deploy tables and JSON, describe, namespaces (podnet.service_views, podnet.commands)."""

from __future__ import annotations

import json

import pytest

from podnet.views import kubectl as commands
from podnet.views import services as sv
from podnet.core.errors import InputError
from podnet.core.model import RUNNING
from podnet.lab.initial import initial_state
from podnet.core.spec import build_spec
from podnet.k8s.dns import addons
from podnet.k8s.workloads.apply import apply_objects
from podnet.k8s.workloads.manifests import parse_documents

NODES = [("node-1", "control-plane"), ("node-2", "worker"), ("node-3", "worker")]


def counter():
    calls = iter(range(10**6))
    return lambda n: next(calls) % n


def deployment(name, replicas, namespace="default", port=8080):
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "app", "ports": [
                                      {"name": "http", "containerPort": port}]}]}}}}


def service(name, namespace="default", **spec):
    body = {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]}
    body.update(spec)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace}, "spec": body}


@pytest.fixture
def state():
    lab = initial_state(build_spec(nodes=NODES, pods=[("pod-1-1", "node-1")]))
    lab, _ = apply_objects(lab, addons.dns_objects(lab), rand=counter())
    docs = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}},
        deployment("web", 3),
        service("web", type="NodePort", sessionAffinity="ClientIP",
                ports=[{"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30080},
                       {"name": "udp", "port": 7, "targetPort": 8080, "protocol": "UDP"}]),
        deployment("big", 5),
        service("big"),
        service("empty"),
        deployment("api", 1, namespace="prod"),
        service("api", namespace="prod"),
    ]
    lab, _ = apply_objects(lab, parse_documents(docs), rand=counter())
    next_ip = iter(range(2, 250))
    for pod in lab.pods.values():
        pod.created = 0.0
        pod.phase = RUNNING
        pod.ip = f"10.244.{int(pod.node[-1]) - 1}.{next(next_ip)}"
    for obj in list(lab.services.values()) + list(lab.deployments.values()):
        obj.created = 0.0
    # one web Pod is still starting
    starting = min(p.name for p in lab.pods.values() if p.owner == "default/web")
    lab.pods[starting].phase, lab.pods[starting].ip = "ContainerCreating", None
    return lab


def web_ips(state):
    return sorted((p.ip for p in state.pods.values() if p.owner == "default/web" and p.ip),
                  key=lambda ip: tuple(int(x) for x in ip.split(".")))


# --- formatting helpers --------------------------------------------------------------------------


def test_ports_and_selector_text(state):
    web = state.services["default/web"]
    assert 30000 <= web.ports[1].node_port <= 32767  # every port of a NodePort Service gets one
    assert sv.ports_text(web) == f"80:30080/TCP,7:{web.ports[1].node_port}/UDP"
    assert sv.ports_text(state.services["kube-system/kube-dns"]) == "53/UDP,53/TCP"
    assert sv.selector_text({"b": "2", "a": "1"}) == "a=1,b=2"
    assert sv.selector_text({}) == "<none>"


# --- get svc -------------------------------------------------------------------------------------


def rows(text):
    return [line.split() for line in text.splitlines()]


def test_get_services_in_default_namespace(state):
    out = commands.get(state, "svc")
    table = rows(out)
    assert table[0] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert [r[0] for r in table[1:]] == ["big", "empty", "web"]  # sorted by name, default namespace only
    web = table[3]
    svc = state.services["default/web"]
    assert web[1:5] == ["NodePort", svc.cluster_ip, "<none>", f"80:30080/TCP,7:{svc.ports[1].node_port}/UDP"]
    assert "kube-dns" not in out and "api" not in out


def test_get_services_wide_and_other_namespaces(state):
    wide = rows(commands.get(state, "services", "wide"))
    assert wide[0][-1] == "SELECTOR" and wide[3][-1] == "app=web"
    system = rows(commands.get(state, "service", namespace="kube-system"))
    assert [r[:5] for r in system[1:]] == [["kube-dns", "ClusterIP", "10.96.0.10", "<none>", "53/UDP,53/TCP"]]
    every = rows(commands.get(state, "svc", namespace=None))
    assert every[0][0] == "NAMESPACE"
    assert [(r[0], r[1]) for r in every[1:]] == [("default", "big"), ("default", "empty"), ("default", "web"),
                                                 ("kube-system", "kube-dns"), ("prod", "api")]


def test_get_service_by_name_and_not_found(state):
    out = rows(commands.get(state, "svc", names=["web"]))
    assert [r[0] for r in out[1:]] == ["web"]
    with pytest.raises(InputError) as info:
        commands.get(state, "svc", names=["api"])
    assert str(info.value) == "invalid service: 'api': services \"api\" not found in namespace default"
    with pytest.raises(InputError) as info:
        commands.get(state, "svc", names=["nope"], namespace=None)
    assert 'not found in namespace any' in str(info.value)


def test_get_service_json(state):
    data = json.loads(commands.get(state, "svc", "json", ["web"]))
    svc = state.services["default/web"]
    assert (data["apiVersion"], data["kind"]) == ("v1", "Service")
    assert data["metadata"] == {"name": "web", "namespace": "default", "creationTimestamp": "1970-01-01T00:00:00Z"}
    spec = data["spec"]
    assert spec["type"] == "NodePort" and spec["clusterIP"] == svc.cluster_ip and spec["clusterIPs"] == [svc.cluster_ip]
    assert spec["ports"] == [{"protocol": "TCP", "port": 80, "targetPort": 8080, "name": "http", "nodePort": 30080},
                             {"protocol": "UDP", "port": 7, "targetPort": 8080, "name": "udp",
                              "nodePort": svc.ports[1].node_port}]
    assert spec["selector"] == {"app": "web"}
    assert spec["sessionAffinity"] == "ClientIP"
    assert spec["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}
    assert spec["externalTrafficPolicy"] == "Cluster"
    assert data["podnet"]["dnsName"] == "web.default.svc.cluster.local"


def test_get_services_json_list(state):
    data = json.loads(commands.get(state, "svc", "json"))
    assert data["kind"] == "List" and [i["metadata"]["name"] for i in data["items"]] == ["big", "empty", "web"]
    plain = next(i for i in data["items"] if i["metadata"]["name"] == "empty")
    assert "sessionAffinityConfig" not in plain["spec"] and "externalTrafficPolicy" not in plain["spec"]
    assert plain["spec"]["ports"] == [{"protocol": "TCP", "port": 80, "targetPort": 8080}]
    two = json.loads(commands.get(state, "svc", "json", ["web", "big"]))
    assert two["kind"] == "List" and [i["metadata"]["name"] for i in two["items"]] == ["web", "big"]


# --- get endpoints -------------------------------------------------------------------------------


def test_get_endpoints_table(state):
    table = rows(commands.get(state, "ep"))
    assert table[0] == ["NAME", "ENDPOINTS", "AGE"]
    by_name = {r[0]: r[1:] for r in table[1:]}
    assert by_name["empty"][0] == "<none>"
    assert by_name["web"][0] == ",".join(f"{ip}:8080" for ip in web_ips(state))
    big = [ip for ip in sorted((p.ip for p in state.pods.values() if p.owner == "default/big"),
                               key=lambda ip: tuple(int(x) for x in ip.split(".")))]
    assert by_name["big"][:4] == [",".join(f"{ip}:8080" for ip in big[:3]), "+", "2", "more..."]


def test_endpoint_addresses_are_not_repeated_across_ports(state):
    svc = state.services["default/web"]
    assert sv.endpoint_addresses(state, svc) == [f"{ip}:8080" for ip in web_ips(state)]


def test_get_endpoints_json(state):
    data = json.loads(commands.get(state, "endpoints", "json", ["web"]))
    assert (data["kind"], data["metadata"]) == ("Endpoints", {"name": "web", "namespace": "default"})
    http, udp = data["subsets"]
    assert [a["ip"] for a in http["addresses"]] == web_ips(state)
    assert all(a["targetRef"]["kind"] == "Pod" and a["targetRef"]["namespace"] == "default" for a in http["addresses"])
    assert http["ports"] == [{"port": 8080, "protocol": "TCP", "name": "http"}]
    assert udp["ports"] == [{"port": 8080, "protocol": "UDP", "name": "udp"}]
    assert http["podnet"] == {"servicePort": "default/web:http"}
    starting = [p for p in state.pods.values() if p.owner == "default/web" and p.phase != RUNNING]
    assert http["notReadyAddresses"] == [{"ip": None, "nodeName": starting[0].node,
                                          "targetRef": {"kind": "Pod", "name": starting[0].name,
                                                        "namespace": "default"}}]
    empty = json.loads(commands.get(state, "ep", "json", ["empty"]))
    assert empty["subsets"] == []  # no endpoints at all: no subset, as the API shows it


def test_get_endpoints_in_kube_system(state):
    table = rows(commands.get(state, "ep", namespace="kube-system"))
    dns_ip = next(p.ip for p in state.pods.values() if p.role == "dns")
    assert table[1][:2] == ["kube-dns", f"{dns_ip}:53"]


# --- get deployments -----------------------------------------------------------------------------


def test_get_deployments(state):
    table = rows(commands.get(state, "deploy"))
    assert table[0] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert {r[0]: r[1:4] for r in table[1:]} == {"big": ["5/5", "5", "5"], "web": ["2/3", "3", "2"]}
    wide = rows(commands.get(state, "deployments", "wide"))
    assert wide[0][-1] == "SELECTOR" and {r[0]: r[-1] for r in wide[1:]}["web"] == "app=web"
    every = rows(commands.get(state, "deployment", namespace=None))
    assert [(r[0], r[1]) for r in every[1:]] == [("default", "big"), ("default", "web"),
                                                 ("kube-system", "coredns"), ("prod", "api")]


def test_get_deployment_json(state):
    data = json.loads(commands.get(state, "deploy", "json", ["web"]))
    dep = state.deployments["default/web"]
    assert (data["apiVersion"], data["kind"]) == ("apps/v1", "Deployment")
    assert data["spec"]["replicas"] == 3
    assert data["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    assert data["spec"]["template"]["metadata"] == {"labels": {"app": "web"}}
    assert data["spec"]["template"]["spec"]["containers"][0]["ports"] == [
        {"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert data["status"] == {"replicas": 3, "readyReplicas": 2, "availableReplicas": 2}
    assert data["podnet"]["templateHash"] == dep.template_hash
    assert data["podnet"]["pods"] == sorted(p.name for p in state.pods.values() if p.owner == "default/web")


# --- describe ------------------------------------------------------------------------------------


def test_describe_service(state):
    text = commands.describe(state, "svc", "web")
    svc = state.services["default/web"]
    lines = text.splitlines()
    assert lines[:6] == [
        "Name:              web",
        "Namespace:         default",
        "Selector:          app=web",
        "Type:              NodePort",
        f"IP:                {svc.cluster_ip}",
        "DNS name:          web.default.svc.cluster.local",
    ]
    endpoints = ",".join(f"{ip}:8080" for ip in web_ips(state))
    assert "Port:              http  80/TCP" in lines
    assert "TargetPort:        8080/TCP" in lines
    assert "NodePort:          http  30080/TCP" in lines
    assert lines.count(f"Endpoints:         {endpoints}") == 2
    assert "Session Affinity:  ClientIP (10800s)" in lines
    assert "External Traffic Policy:  Cluster" in lines
    assert lines[-1] == "Events:  <none>"
    empty = commands.describe(state, "svc", "empty").splitlines()
    assert "Port:              <unset>  80/TCP" in empty and "Endpoints:         <none>" in empty
    assert "Session Affinity:  None" in empty
    assert not any(line.startswith("External Traffic Policy") for line in empty)


def test_describe_deployment_and_namespaces(state):
    text = commands.describe(state, "deploy", "web")
    assert "Replicas:           3 desired | 3 updated | 3 total | 2 available" in text
    assert "Pod Template:       labels app=web; ports 8080/TCP" in text
    for pod in (p for p in state.pods.values() if p.owner == "default/web"):
        assert pod.name in text
    assert "SuccessfulCreate" in text
    assert "Name:              api" in commands.describe(state, "svc", "api", namespace="prod")
    with pytest.raises(InputError) as info:
        commands.describe(state, "svc", "api")
    assert str(info.value) == "invalid service: 'api': services \"api\" not found in namespace default"


def test_describe_json_adds_events(state):
    data = json.loads(commands.describe_json(state, "deploy", "web"))
    assert data["kind"] == "Deployment"
    assert [e["reason"] for e in data["events"]] == ["SuccessfulCreate"] * 3
    svc = json.loads(commands.describe_json(state, "svc", "web"))
    assert svc["kind"] == "Service" and svc["events"] == []


# --- Pods across namespaces, kinds, arguments -----------------------------------------------------


def test_get_pods_by_namespace(state):
    default = rows(commands.get(state, "pods"))
    names = [r[0] for r in default[1:]]
    assert "pod-1-1" in names and not any(n.startswith(("coredns", "api")) for n in names)
    system = rows(commands.get(state, "po", namespace="kube-system"))
    assert len(system) == 2 and system[1][0].startswith("coredns-")
    every = rows(commands.get(state, "pods", namespace=None))
    assert every[0][0] == "NAMESPACE"
    assert {r[0] for r in every[1:]} == {"default", "kube-system", "prod"}
    with pytest.raises(InputError) as info:
        commands.get(state, "pods", names=["pod-1-1"], namespace="prod")
    assert str(info.value) == "invalid pod: 'pod-1-1': pods \"pod-1-1\" not found in namespace prod"


def test_kinds_and_aliases():
    for word, kind in [("svc", "services"), ("service", "services"), ("ep", "endpoints"),
                       ("endpoint", "endpoints"), ("deploy", "deployments"), ("deployment", "deployments"),
                       ("po", "pods"), ("no", "nodes"), ("netpol", "networkpolicies"), ("ns", "namespaces")]:
        assert commands.kind_of(word) == kind
    with pytest.raises(InputError) as info:
        commands.kind_of("configmaps")
    assert ("use nodes, pods, services (svc), endpoints (ep), deployments (deploy), networkpolicies (netpol) "
            "or namespaces (ns)") in str(info.value)


def test_output_must_be_known(state):
    with pytest.raises(InputError):
        commands.get(state, "svc", "yaml")


def test_parse_get_args():
    assert commands.parse_get_args(["svc", "web", "-o", "json"]) == ("svc", "json", ["web"])
    assert commands.parse_get_args(["ep", "-owide"]) == ("ep", "wide", [])
    assert commands.parse_get_args(["deploy", "--output=json", "a", "b"]) == ("deploy", "json", ["a", "b"])
    with pytest.raises(InputError):
        commands.parse_get_args(["svc", "-o"])
    with pytest.raises(InputError):
        commands.parse_get_args(["svc", "-o", "yaml"])
