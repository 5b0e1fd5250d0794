"""The real kubectl (Debian's v1.20.2 and the newer one on PATH) reads a running lab through
its API server: the same nodes, Pods, IPs, Services, Endpoints and events podnet shows, in
kube-apiserver's tables and lists, its errors as Status objects, and nobody without the
lab's token gets in."""

from __future__ import annotations

import base64
import json
import os
import re
import ssl
import stat
import subprocess
import urllib.error
import urllib.request

import pytest
import yaml

from tests.support.kubectl import binaries, column, rows
from tests.support.labs import Lab, internal_ip
from tests.support.processes import TOPOLOGIES, podnet, run

pytestmark = [pytest.mark.root, pytest.mark.xdist_group("kubectl-reads")]
KUBECTLS = binaries()


@pytest.fixture(scope="module")
def lab():
    lab = Lab()
    lab.up("-f", str(TOPOLOGIES / "workloads" / "web.yaml"))
    yield lab
    lab.down()



def config_of(lab) -> dict:
    return json.loads(podnet("kubeconfig", "--name", lab.name, "-o", "json", check=True).stdout)


def test_both_kubectls_are_installed_by_the_test_command():
    assert [b.minor for b in KUBECTLS][:1] == [20], KUBECTLS  # Debian's, unpacked by scripts/install.sh
    assert len(KUBECTLS) == 2, KUBECTLS


def test_the_kubeconfig_is_kinds_shape_and_points_at_loopback_only(lab):
    config = config_of(lab)
    name = f"podnet-{lab.name}"
    assert config["current-context"] == name
    assert [c["name"] for c in config["clusters"]] == [name] and [u["name"] for u in config["users"]] == [name]
    assert config["contexts"] == [{"name": name, "context": {"cluster": name, "user": name}}]
    server = config["clusters"][0]["cluster"]["server"]
    match = re.fullmatch(r"https://127\.0\.0\.1:(\d+)", server)
    assert match, server
    token_file = os.path.join(lab.run_dir, "apiserver", "token")
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    with open(token_file, encoding="ascii") as handle:
        assert config["users"][0]["user"]["token"] == handle.read().strip()
    listening = run(["ss", "-Hltn", f"sport = :{match.group(1)}"], check=True).stdout.split()
    assert listening[3] == f"127.0.0.1:{match.group(1)}" and len(listening) == 5, listening  # one socket, loopback


def test_nodes_and_pods_have_the_addresses_podnet_shows(kubectl, lab):
    nodes = kubectl("get", "nodes", "-o", "wide", check=True).stdout
    assert column(nodes, "INTERNAL-IP") == {n: internal_ip(item) for n, item in lab.nodes().items()}, nodes
    assert column(nodes, "STATUS") == {n: "Ready" for n in lab.nodes()}, nodes
    pods = kubectl("get", "pods", "-o", "wide", check=True).stdout
    ours = {name: item for name, item in lab.pods().items() if item["metadata"]["namespace"] == "default"}
    assert column(pods, "IP") == {n: p["status"]["podIP"] for n, p in ours.items()}, pods
    assert column(pods, "NODE") == {n: p["spec"]["nodeName"] for n, p in ours.items()}, pods
    assert set(column(pods, "STATUS").values()) == {"Running"} and set(column(pods, "READY").values()) == {"1/1"}
    assert rows(pods)[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE",
                             "READINESS GATES"], pods


def test_all_namespaces_label_selectors_and_labels(kubectl, lab):
    everything = rows(kubectl("get", "pods", "-A", check=True).stdout)
    assert everything[0][:2] == ["NAMESPACE", "NAME"], everything
    assert any(r[0] == "kube-system" and r[1].startswith("coredns-") for r in everything[1:]), everything
    web = rows(kubectl("get", "pods", "-l", "app=web", check=True).stdout)[1:]
    assert len(web) == 3 and all(r[0].startswith("web-") for r in web), web
    both = kubectl("get", "pods", "-l", "app=web,app!=web", check=True)
    assert both.stdout == "" and "No resources found" in both.stderr, both  # no Pod is both
    shown = column(kubectl("get", "pods", "-l", "app in (web)", "--show-labels", check=True).stdout, "LABELS")
    assert all(re.fullmatch(r"app=web,pod-template-hash=[a-z0-9]+", labels) for labels in shown.values()), shown


def test_json_yaml_and_name_outputs_are_lists_with_resource_versions(kubectl, lab):
    listed = kubectl.json("pods")
    assert listed["kind"] == "List" and listed["apiVersion"] == "v1", listed.keys()
    names = {p["metadata"]["name"] for p in listed["items"]}
    assert names == {n for n, p in lab.pods().items() if p["metadata"]["namespace"] == "default"}
    assert all(p["metadata"]["resourceVersion"].isdigit() and p["metadata"]["uid"] for p in listed["items"])
    assert all(p["kind"] == "Pod" and p["apiVersion"] == "v1" for p in listed["items"])
    as_yaml = yaml.safe_load(kubectl("get", "svc", "web", "-o", "yaml", check=True).stdout)
    assert as_yaml["kind"] == "Service" and as_yaml["spec"]["clusterIP"] == lab.get("services")["web"]["spec"]["clusterIP"]
    named = kubectl("get", "deploy,svc", "-o", "name", check=True).stdout.split()
    assert "deployment.apps/web" in named and "service/web" in named and "service/web-nodeport" in named, named


def test_services_and_endpoints_as_kube_apiserver_tables_them(kubectl, lab):
    services = lab.get("services")
    table = kubectl("get", "svc", check=True).stdout
    assert column(table, "CLUSTER-IP")["web"] == services["web"]["spec"]["clusterIP"], table
    assert column(table, "PORT(S)")["web"] == "80/TCP,81/UDP" and column(table, "TYPE")["web"] == "ClusterIP", table
    assert column(table, "PORT(S)")["web-nodeport"] == "80:30080/TCP", table
    endpoints = kubectl.json("endpoints", "web-nodeport")
    addresses = {a["ip"] for subset in endpoints["subsets"] for a in subset["addresses"]}
    assert addresses == {p["status"]["podIP"] for n, p in lab.pods().items() if n.startswith("web-")}, endpoints
    assert {p["port"] for s in endpoints["subsets"] for p in s["ports"]} == {8080}, endpoints


def test_describe_node_pod_and_service(kubectl, lab):
    pods = lab.pods()
    web = sorted(n for n in pods if n.startswith("web-"))[0]
    node = pods[web]["spec"]["nodeName"]
    described = kubectl("describe", "node", node, check=True).stdout
    assert re.search(r"Non-terminated Pods:\s+\(\d+ in total\)", described), described
    assert web in described and pods[web]["status"]["podIP"] not in ("", None)
    pod = kubectl("describe", "pod", web, check=True).stdout
    assert re.search(rf"^IP:\s+{re.escape(pods[web]['status']['podIP'])}$", pod, re.M), pod
    assert re.search(rf"^Node:\s+{node}/", pod, re.M) and "Events:" in pod and "SandboxCreated" in pod, pod
    service = kubectl("describe", "svc", "web", check=True).stdout
    assert re.search(r"^Endpoints:\s+\S*10\.244\.", service, re.M), service


def test_events_name_the_objects_they_are_about(kubectl, lab):
    events = rows(kubectl("get", "events", check=True).stdout)
    assert events[0][:4] == ["LAST SEEN", "TYPE", "REASON", "OBJECT"], events
    assert any(r[2] == "NodeReady" and r[3] == "node/node-1" for r in events[1:]), events
    assert any(r[2] == "SandboxCreated" and r[3].startswith("pod/web-") for r in events[1:]), events


def test_discovery_serves_kubernetes_short_names(kubectl):
    listed = rows(kubectl("api-resources", check=True).stdout)
    short = {r[0]: r[1] for r in listed[1:] if len(r) == 5}
    assert {short.get(k) for k in ("pods", "services", "deployments", "networkpolicies", "namespaces")} == \
        {"po", "svc", "deploy", "netpol", "ns"}, listed
    assert kubectl("get", "po,svc,deploy,rs,netpol,ns,no,ep,ev", check=True).returncode == 0
    version = kubectl("version", "-o", "json").stdout
    assert json.loads(version)["serverVersion"]["major"] == "1", version


def test_unknown_names_and_resources_get_kubectls_usual_messages(kubectl):
    missing = kubectl("get", "pod", "nope")
    assert missing.returncode == 1 and 'pods "nope" not found' in missing.stderr, missing.stderr
    unknown = kubectl("get", "widgets")
    assert unknown.returncode == 1 and 'the server doesn\'t have a resource type "widgets"' in unknown.stderr, unknown.stderr
    bad = kubectl("get", "pods", "-l", "app in (web")
    assert bad.returncode == 1 and "Error from server (BadRequest)" in bad.stderr, bad.stderr
    assert "unable to parse requirement" in bad.stderr, bad.stderr


def test_a_wrong_or_missing_token_is_refused_with_401(kubectl, lab, tmp_path):
    with open(kubectl.kubeconfig, encoding="utf-8") as handle:
        config = yaml.safe_load(handle)
    config["users"][0]["user"]["token"] = "not-the-token"
    wrong = tmp_path / "wrong.kubeconfig"
    wrong.write_text(yaml.safe_dump(config), encoding="utf-8")
    refused = subprocess.run([kubectl.binary.path, "--kubeconfig", str(wrong), "get", "pods"], capture_output=True,
                             text=True, timeout=30, env=dict(os.environ, HOME=str(tmp_path)))
    # kubectl's words for a 401, as against any cluster ("(Unauthorized)", or newer ones
    # during discovery: "(the server has asked for the client to provide credentials)")
    assert refused.returncode == 1 and "error: You must be logged in to the server (" in refused.stderr, refused.stderr
    assert "pod" not in refused.stdout.lower(), refused.stdout

    cluster = config_of(lab)["clusters"][0]["cluster"]
    context = ssl.create_default_context(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
    for headers in ({}, {"Authorization": "Bearer not-the-token"}, {"Authorization": "Basic YWRtaW46YWRtaW4="}):
        request = urllib.request.Request(cluster["server"] + "/api/v1/pods", headers=headers)
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, context=context, timeout=10)
        assert caught.value.code == 401
        body = json.loads(caught.value.read())
        assert (body["kind"], body["status"], body["reason"], body["code"]) == ("Status", "Failure", "Unauthorized", 401)


def test_endpointslices_hold_the_same_pods_as_the_endpoints(kubectl, lab):
    slices = kubectl.json("endpointslices", "-l", "kubernetes.io/service-name=web")["items"]
    assert len(slices) == 1, slices  # every web Pod serves both ports: one slice
    [one] = slices
    assert one["addressType"] == "IPv4" and one["metadata"]["ownerReferences"][0]["name"] == "web"
    assert sorted((p["name"], p["port"], p["protocol"]) for p in one["ports"]) == [("http", 8080, "TCP"),
                                                                                    ("udp", 8081, "UDP")]
    web = {n: p for n, p in lab.pods().items() if n.startswith("web-")}
    assert {(e["addresses"][0], e["targetRef"]["name"], e["nodeName"]) for e in one["endpoints"]} == \
        {(p["status"]["podIP"], n, p["spec"]["nodeName"]) for n, p in web.items()}
    assert all(e["conditions"]["ready"] for e in one["endpoints"])
    table = rows(kubectl("get", "endpointslices", check=True).stdout)
    assert table[0] == ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"], table
    assert any(r[0] == one["metadata"]["name"] and r[2] == "8080,8081" for r in table[1:]), table
