"""The four kinds of traffic, each shown from the CLI with probe evidence of where addresses change.

Pod-to-Pod (nothing rewritten anywhere), Pod-to-Service (DNAT by kube-proxy in the client's own
node, the backend sees the client Pod's IP), External-to-Service (DNAT and SNAT in the node the
client reached) and Pod-to-external (ip-masq-agent SNATs to the node's IP; a Pod IP is not
routable outside, so without the agent nothing comes back). ``podnet trace`` must name the kind
and every rewrite at the hop where it happened; ``podnet connect`` must agree with what the far
end saw. None of it may ever touch the machine's real interfaces.

The backends all run on node-3 (the Deployment pins its template to it), so the client Pod on
node-1 and the NodePort of node-1 are always on another node than the backend.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import signal
import subprocess
import time

import pytest

from tests.support.captures import pcap_records
from tests.support.labs import Lab, all_ok, client_ip, connect, trace
from tests.support.processes import CMD_TIMEOUT, explain, podnet

pytestmark = pytest.mark.root


MANIFEST = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      nodeName: node-3
      containers:
        - name: echo
          image: registry.k8s.io/e2e-test-images/agnhost:2.47
          ports:
            - name: http
              containerPort: 8080
            - name: udp
              containerPort: 8081
              protocol: UDP
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
    - name: http
      port: 80
      targetPort: http
    - name: udp
      port: 81
      targetPort: 8081
      protocol: UDP
---
apiVersion: v1
kind: Service
metadata:
  name: web-np
spec:
  type: NodePort
  selector:
    app: web
  ports:
    - name: http
      port: 80
      targetPort: 8080
      nodePort: 30080
    - name: udp
      port: 81
      targetPort: 8081
      protocol: UDP
      nodePort: 30081
"""

EXTERNAL_IP = "203.0.113.10"
EXAMPLE_COM = "93.184.215.14"
DNS_GOOGLE = "8.8.8.8"
CLIENTS = {"pod-1-1": "node-1", "pod-2-1": "node-2", "pod-3-1": "node-3"}


# -- helpers -----------------------------------------------------------------------------------------

def lab_name() -> str:
    return f"kinds-{secrets.token_hex(3)}"


def trace_text(lab: Lab, source: str, destination: str, *args: str) -> subprocess.CompletedProcess:
    return podnet("trace", "--name", lab.name, source, destination, *args, timeout=CMD_TIMEOUT)


def addr(endpoint: str) -> str:
    """The address of ``IP`` or ``IP:PORT``."""
    return endpoint.rsplit(":", 1)[0] if endpoint.count(".") == 3 and ":" in endpoint else endpoint


def notes(t: dict) -> list[str]:
    return [n for h in t["hops"] for n in h["rewrite"]]


def rewritten_at(t: dict) -> list[tuple[str, str]]:
    """(namespace, note) for each rewrite, in order."""
    return [(h["where"], n) for h in t["hops"] for n in h["rewrite"]]


def get_json(lab: Lab, *args: str) -> dict:
    result = podnet("get", *args, "-o", "json", "--name", lab.name, check=True)
    return json.loads(result.stdout)


class Facts:
    """What the shared lab looks like (it does not change)."""

    def __init__(self, lab: Lab):
        self.pods = {p["metadata"]["name"]: p for p in get_json(lab, "pods", "-A")["items"]}
        self.node_ips = {n: next(a["address"] for a in item["status"]["addresses"] if a["type"] == "InternalIP")
                         for n, item in lab.nodes().items()}
        self.services = {i["metadata"]["name"]: i for i in get_json(lab, "svc", "-A")["items"]}

    def ip(self, pod: str) -> str:
        return self.pods[pod]["status"]["podIP"]

    def node_of(self, pod: str) -> str:
        return self.pods[pod]["spec"]["nodeName"]

    def web(self) -> dict[str, str]:
        return {n: p["status"]["podIP"] for n, p in self.pods.items()
                if p["metadata"].get("labels", {}).get("app") == "web"}

    def cluster_ip(self, name: str) -> str:
        return self.services[name]["spec"]["clusterIP"]


@pytest.fixture(scope="module")
def kinds_lab(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("root integration tests need root")
    path = tmp_path_factory.mktemp("kinds") / "kinds.yaml"
    path.write_text(MANIFEST, encoding="utf-8")
    lab = Lab(lab_name())
    try:
        lab.up("--pods-per-node", "1", "-f", str(path))
        yield lab
    finally:
        down = lab.down()
    assert down.returncode == 0, explain(down)


@pytest.fixture(scope="module")
def facts(kinds_lab) -> Facts:
    facts = Facts(kinds_lab)
    web = facts.web()
    assert len(web) == 2 and all(facts.node_of(p) == "node-3" for p in web), web
    return facts


# -- Pod-to-Pod ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [[], ["-p", "udp"], ["-p", "tcp"]], ids=["icmp", "udp", "tcp"])
def test_pod_to_pod_is_never_rewritten(kinds_lab, facts, args):
    port = [] if not args else [f":{20000 + secrets.randbelow(20000)}"]
    t = trace(kinds_lab, "pod-1-1", "pod-3-1" + "".join(port), *args)
    assert t["kind"] == "Pod-to-Pod", t["kind"]
    assert t["status"] == "reached" and t["receiver"] == "pod-3-1", t
    assert t["rewrites"] == [] and notes(t) == [], t["rewrites"]
    src, dst = facts.ip("pod-1-1"), facts.ip("pod-3-1")
    assert t["hops"][0]["where"] == "pod-1-1" and t["hops"][-1]["where"] == "pod-3-1", t["hops"]
    assert {addr(h["src"]) for h in t["hops"]} == {src}, t["hops"]
    assert {addr(h["dst"]) for h in t["hops"]} == {dst}, t["hops"]
    assert any(h["where"] == "node-1" for h in t["hops"]) and any(h["where"] == "node-3" for h in t["hops"])


def test_pod_to_pod_trace_text_names_the_kind(kinds_lab, facts):
    result = trace_text(kinds_lab, "pod-1-1", "pod-3-1")
    assert result.returncode == 0, explain(result)
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Pod-to-Pod: "), lines[0]
    assert lines[-1].startswith(f"Pod-to-Pod: pod-1-1 -> {facts.ip('pod-3-1')}: reached pod-3-1"), lines[-1]
    assert "source unchanged (no SNAT)" in lines[-1] and "destination unchanged" in lines[-1], lines[-1]
    assert "DNAT" not in result.stdout and "SNAT " not in result.stdout, result.stdout


@pytest.mark.parametrize("proto, port", [("tcp", 8080), ("udp", 8081)])
def test_pod_to_pod_is_never_masqueraded_by_ip_masq_agent(kinds_lab, facts, proto, port):
    """The backend sees the client Pod's own IP, from every node, while ip-masq-agent runs."""
    for client in CLIENTS:
        for name, ip in facts.web().items():
            data = connect(kinds_lab, client, f"{ip}:{port}", "-p", proto, "-c", "2")
            for a in all_ok(data, 2):
                assert a["pod"] == name and client_ip(a) == facts.ip(client), (client, a)
    for node in ("node-1", "node-2", "node-3"):
        nat = kinds_lab.in_ns(node, "iptables-save", "-t", "nat")
        assert nat.returncode == 0, explain(nat)
        chain = [line for line in nat.stdout.splitlines() if line.startswith("-A IP-MASQ-AGENT ")]
        assert any("-d 10.0.0.0/8" in line and line.endswith("-j RETURN") for line in chain), chain
        assert chain and chain[-1].endswith("-j MASQUERADE"), chain


# -- Pod-to-Service ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("client", ["pod-1-1", "pod-2-1"])
@pytest.mark.parametrize("proto, port, target_port", [("tcp", 80, 8080), ("udp", 81, 8081)])
def test_pod_to_service_is_dnated_at_the_clients_node_and_not_snated(kinds_lab, facts, client, proto, port,
                                                                     target_port):
    cluster_ip = facts.cluster_ip("web")
    web = facts.web()
    node = CLIENTS[client]
    t = trace(kinds_lab, client, f"web:{port}", "-p", proto)
    assert t["kind"] == "Pod-to-Service", t["kind"]
    assert t["target"]["via"] == "clusterIP" and t["target"]["service"] == "default/web", t["target"]
    assert t["target"]["address"] == cluster_ip and t["target"]["port"] == port, t["target"]
    assert t["status"] == "reached" and t["receiver"] in web, t
    backend = web[t["receiver"]]
    where = rewritten_at(t)
    assert len(where) == 1 and len(t["rewrites"]) == 1, where
    (at, note), = where
    assert at == node, f"the DNAT should happen in {node}, the client's node: {where}"
    assert note.startswith(f"DNAT {cluster_ip}:{port} -> {backend}:{target_port} by kube-proxy"), note
    assert "KUBE-SERVICES -> KUBE-SVC-" in note and "-> KUBE-SEP-" in note, note
    hops = t["hops"]
    first = hops[0]
    assert first["where"] == client and first["dst"] == f"{cluster_ip}:{port}", first
    assert addr(first["src"]) == facts.ip(client)
    index = next(i for i, h in enumerate(hops) if h["rewrite"])
    assert all(h["dst"] == f"{cluster_ip}:{port}" for h in hops[:index]), hops
    assert all(h["dst"] == f"{backend}:{target_port}" for h in hops[index:]), hops
    # no SNAT: the very same source (address and port) from the client to the backend
    assert {h["src"] for h in hops} == {first["src"]}, hops
    assert hops[-1]["where"] == t["receiver"]
    # the backend agrees
    data = connect(kinds_lab, client, f"web:{port}", "-p", proto, "-c", "4")
    for a in all_ok(data, 4):
        assert client_ip(a) == facts.ip(client) and a["pod"] in web, a


def test_pod_to_service_trace_text_names_the_kind(kinds_lab, facts):
    result = trace_text(kinds_lab, "pod-1-1", "web:80")
    assert result.returncode == 0, explain(result)
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Pod-to-Service: "), lines[0]
    assert "DNAT" in result.stdout and "by kube-proxy" in result.stdout, result.stdout
    assert "destination rewritten (DNAT)" in lines[-1] and "source unchanged (no SNAT)" in lines[-1], lines[-1]


# -- External-to-Service --------------------------------------------------------------------------------

@pytest.mark.parametrize("node", ["node-1", "node-2"])
@pytest.mark.parametrize("proto, node_port, target_port", [("tcp", 30080, 8080), ("udp", 30081, 8081)])
def test_external_to_service_is_dnated_and_snated_at_the_node_it_entered(kinds_lab, facts, node, proto, node_port,
                                                                         target_port):
    node_ip = facts.node_ips[node]
    web = facts.web()
    t = trace(kinds_lab, "external", f"{node_ip}:{node_port}", "-p", proto)
    assert t["kind"] == "External-to-Service", t["kind"]
    assert t["target"]["via"] == "nodePort" and t["target"]["service"] == "default/web-np", t["target"]
    assert t["status"] == "reached" and t["receiver"] in web, t
    backend = web[t["receiver"]]
    where = rewritten_at(t)
    assert len(where) == 2 and len(t["rewrites"]) == 2, where
    assert {at for at, _ in where} == {node}, where
    dnat = [n for _, n in where if n.startswith("DNAT")]
    snat = [n for _, n in where if n.startswith("SNAT")]
    assert len(dnat) == 1 and dnat[0].startswith(f"DNAT {node_ip}:{node_port} -> {backend}:{target_port} by kube-proxy"), dnat
    assert "KUBE-NODEPORTS" in dnat[0], dnat
    assert len(snat) == 1 and snat[0].startswith(f"SNAT {EXTERNAL_IP}:") and f" -> {node_ip}:" in snat[0], snat
    assert "kube-proxy" in snat[0] and "MASQUERADE" in snat[0], snat
    hops = t["hops"]
    assert hops[0]["where"] == "external" and addr(hops[0]["src"]) == EXTERNAL_IP, hops[0]
    assert hops[-1]["where"] == t["receiver"] and addr(hops[-1]["src"]) == node_ip, hops[-1]
    assert hops[-1]["dst"] == f"{backend}:{target_port}", hops[-1]
    assert "destination rewritten (DNAT)" in t["summary"] and f"source rewritten to {node_ip} (SNAT)" in t["summary"]
    # what the backends saw: the node, never the external client
    data = connect(kinds_lab, "external", f"{node_ip}:{node_port}", "-p", proto, "-c", "6")
    for a in all_ok(data, 6):
        assert client_ip(a) == node_ip and a["pod"] in web, a


def test_external_to_service_trace_text_names_the_kind(kinds_lab, facts):
    result = trace_text(kinds_lab, "external", f"{facts.node_ips['node-1']}:30080")
    assert result.returncode == 0, explain(result)
    lines = result.stdout.splitlines()
    assert lines[0].startswith("External-to-Service: "), lines[0]
    assert "destination rewritten (DNAT)" in lines[-1], lines[-1]
    assert f"source rewritten to {facts.node_ips['node-1']} (SNAT)" in lines[-1], lines[-1]


# -- Pod-to-external ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("destination, args", [("internet", []), (f"{DNS_GOOGLE}:53", ["-p", "udp"]),
                                               (f"{EXAMPLE_COM}:80", ["-p", "tcp"])],
                         ids=["icmp-internet", "udp-8.8.8.8", "tcp-example.com"])
def test_pod_to_external_is_snated_to_the_node_by_ip_masq_agent(kinds_lab, facts, destination, args):
    for client in ("pod-1-1", "pod-3-1"):
        node = CLIENTS[client]
        node_ip = facts.node_ips[node]
        t = trace(kinds_lab, client, destination, *args)
        assert t["kind"] == "Pod-to-external", t["kind"]
        assert t["status"] == "reached" and t["receiver"] == "internet", t
        where = rewritten_at(t)
        assert len(where) == 1, where
        (at, note), = where
        assert at == node, where
        assert note.startswith(f"SNAT {facts.ip(client)}") and f"-> {node_ip}" in note, note
        assert "ip-masq-agent" in note, note
        hops = t["hops"]
        assert all(addr(h["dst"]) == addr(hops[0]["dst"]) for h in hops), hops  # no DNAT
        assert hops[-1]["where"] == "internet" and addr(hops[-1]["src"]) == node_ip, hops[-1]
        # inside the node, before the uplink, the Pod's own address
        index = next(i for i, h in enumerate(hops) if h["rewrite"])
        assert hops[index]["iface"] == "eth0" and hops[index]["direction"] == "out", hops[index]
        assert all(addr(h["src"]) == facts.ip(client) for h in hops[:index]), hops


@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_the_internet_host_sees_the_nodes_ip(kinds_lab, facts, proto):
    for client, node in CLIENTS.items():
        data = connect(kinds_lab, client, "example.com:80", "-p", proto, "-c", "2")
        assert data["lookup"]["address"] == EXAMPLE_COM and data["lookup"]["how"] == "dns", data["lookup"]
        for a in all_ok(data, 2):
            assert a["pod"] == "internet" and a["pod_ip"] == EXAMPLE_COM, a
            assert client_ip(a) == facts.node_ips[node], (client, a)
            assert client_ip(a) != facts.ip(client)


def test_pod_to_external_trace_text_names_the_kind(kinds_lab, facts):
    result = trace_text(kinds_lab, "pod-1-1", "internet")
    assert result.returncode == 0, explain(result)
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Pod-to-external: "), lines[0]
    assert "ip-masq-agent" in result.stdout, result.stdout
    assert f"source rewritten to {facts.node_ips['node-1']} (SNAT)" in lines[-1], lines[-1]


# -- without ip-masq-agent ---------------------------------------------------------------------------------

def test_without_ip_masq_agent_a_pods_request_to_the_internet_times_out(make_lab):
    lab = make_lab(lab_name())
    lab.up("--pods-per-node", "1", "--no-ip-masq-agent")
    pod_ip = lab.pod_ip("pod-1-1")
    node_ip = next(a["address"] for a in lab.nodes()["node-1"]["status"]["addresses"] if a["type"] == "InternalIP")
    for node in ("node-1", "node-2", "node-3"):
        nat = lab.in_ns(node, "iptables-save", "-t", "nat")
        assert nat.returncode == 0, explain(nat)
        assert "IP-MASQ-AGENT" not in nat.stdout, nat.stdout
    for proto in ("tcp", "udp"):
        started = time.monotonic()
        data = connect(lab, "pod-1-1", f"{EXAMPLE_COM}:80", "-p", proto, "-c", "2", "--timeout", "1", expect=1)
        assert [a["status"] for a in data["answers"]] == ["timeout", "timeout"], data["answers"]
        assert data["backends"] == [] and data["ok"] is False
        assert time.monotonic() - started >= 2
    t = trace(lab, "pod-1-1", "internet")
    assert t["kind"] == "Pod-to-external", t["kind"]
    assert t["rewrites"] == [] and notes(t) == [], t["rewrites"]
    assert all(addr(h["src"]) == pod_ip for h in t["hops"]), t["hops"]
    # it did leave the cluster, with the Pod's IP, which nothing outside can answer
    assert t["hops"][-1]["where"] == "internet" and addr(t["hops"][-1]["src"]) == pod_ip, t["hops"]
    assert "source unchanged (no SNAT)" in t["summary"], t["summary"]
    # the nodes themselves still reach the Internet, and Pods still reach each other
    for a in all_ok(connect(lab, "node-1", f"{EXAMPLE_COM}:80", "-c", "2"), 2):
        assert client_ip(a) == node_ip, a
    t = trace(lab, "pod-1-1", "pod-3-1")
    assert t["kind"] == "Pod-to-Pod" and t["status"] == "reached" and t["rewrites"] == [], t


# -- nothing leaves the lab --------------------------------------------------------------------------------

ROOT_FILTER = f"host {DNS_GOOGLE} or host {EXAMPLE_COM} or net 203.0.113.0/24"


def _root_capture() -> subprocess.Popen:
    """tcpdump on every interface of the machine's own namespace, for the lab's outside addresses."""
    proc = subprocess.Popen(["tcpdump", "-i", "any", "-nn", "-U", "-w", "-", *ROOT_FILTER.split()],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    err = b""
    while time.monotonic() < deadline and b"listening on" not in err:
        ready, _, _ = select.select([proc.stderr], [], [], 0.2)
        if ready:
            chunk = os.read(proc.stderr.fileno(), 4096)
            if not chunk:
                break
            err += chunk
        elif proc.poll() is not None:
            break
    if b"listening on" not in err:
        proc.kill()
        proc.communicate(timeout=10)
        raise AssertionError(f"tcpdump in the root namespace did not start: {err!r}")
    return proc


def test_nothing_reaches_the_machines_real_interfaces(kinds_lab, facts):
    tcpdump = _root_capture()
    try:
        started = time.monotonic()
        # Pod-to-external by name (DNS forwarded by CoreDNS to 8.8.8.8), TCP and UDP
        for proto in ("tcp", "udp"):
            all_ok(connect(kinds_lab, "pod-1-1", "example.com:80", "-p", proto, "-c", "3"), 3)
        # the external client through a NodePort, and the nodes and the Internet host themselves
        all_ok(connect(kinds_lab, "external", f"{facts.node_ips['node-2']}:30080", "-c", "3"), 3)
        all_ok(connect(kinds_lab, "node-3", f"{EXAMPLE_COM}:80", "-c", "2"), 2)
        t = trace(kinds_lab, "pod-2-1", f"{DNS_GOOGLE}:53", "-p", "udp")
        assert t["status"] == "reached" and t["receiver"] == "internet", t
        t = trace(kinds_lab, "pod-3-1", "internet")
        assert t["status"] == "reached", t
        look = kinds_lab.exec("pod-1-1", "getent", "hosts", "example.com")
        assert look.returncode == 0 and EXAMPLE_COM in look.stdout, explain(look)
        time.sleep(max(0.0, 3 - (time.monotonic() - started)))
    finally:
        tcpdump.send_signal(signal.SIGINT)
        try:
            data, err = tcpdump.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            tcpdump.kill()
            data, err = tcpdump.communicate(timeout=10)
    assert pcap_records(data) == 0, (f"{pcap_records(data)} packets for the lab's outside addresses were seen on "
                                     f"the machine's own interfaces: {err!r}")
