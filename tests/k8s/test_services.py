"""Services through kube-proxy's iptables rules, checked the way Kubernetes' e2e Services tests do.

Every check talks to real echo servers through real sockets (``podnet connect``): each answer
names the Pod that answered and the client address it saw, so "reached every endpoint", "the
client IP was preserved" and "it was SNATed" are read from what the backends saw, not from the
rules. The rules themselves are read with ``iptables-save`` inside the nodes and compared with
names computed here the way kube-proxy computes them (base32 of SHA-256 of the ServicePortName
plus the protocol), so they are held to a real node's layout.

One lab (3 nodes, a client Pod per node) is shared by the tests that only read; the tests that
change Services, Pods or rules each bring up their own small lab.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import os
import re
import secrets
import time

import pytest

from tests.support.labs import Lab, all_ok, client_ip, connect, trace
from tests.support.processes import explain, podnet

pytestmark = pytest.mark.root

# -- manifests -------------------------------------------------------------------------------------

WEB_DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: echo
          image: registry.k8s.io/e2e-test-images/agnhost:2.47
          ports:
            - name: http
              containerPort: 8080
            - name: udp
              containerPort: 8081
              protocol: UDP
"""

WEB_SERVICE = """
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
"""

WEB_NODEPORT = """
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

# one backend, pinned to node-2: "the backend is on another node" is then known in advance
SOLO = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: solo
spec:
  replicas: 1
  selector:
    matchLabels:
      app: solo
  template:
    metadata:
      labels:
        app: solo
    spec:
      nodeName: node-2
      containers:
        - name: echo
          image: registry.k8s.io/e2e-test-images/agnhost:2.47
          ports:
            - name: tcp
              containerPort: 9000
            - name: udp
              containerPort: 9000
              protocol: UDP
---
apiVersion: v1
kind: Service
metadata:
  name: solo
spec:
  type: NodePort
  selector:
    app: solo
  ports:
    - name: tcp
      port: 90
      targetPort: 9000
      nodePort: 30090
    - name: udp
      port: 90
      targetPort: 9000
      protocol: UDP
      nodePort: 30091
"""

STICKY = """
apiVersion: v1
kind: Service
metadata:
  name: sticky
spec:
  selector:
    app: web
  sessionAffinity: ClientIP
  ports:
    - port: 80
      targetPort: 8080
"""

EMPTY = """
apiVersion: v1
kind: Service
metadata:
  name: empty
spec:
  type: NodePort
  selector:
    app: nothing-has-this-label
  ports:
    - name: http
      port: 80
      targetPort: 8080
      nodePort: 30100
    - name: udp
      port: 81
      targetPort: 8081
      protocol: UDP
      nodePort: 30101
"""


def manifest(*docs: str) -> str:
    return "\n---\n".join(doc.strip("\n") for doc in docs) + "\n"


def write(tmp_dir, name: str, text: str) -> str:
    path = os.path.join(str(tmp_dir), name)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


# -- helpers ---------------------------------------------------------------------------------------

NODES = ("node-1", "node-2", "node-3")
CLIENTS = ("pod-1-1", "pod-2-1", "pod-3-1")  # one plain Pod per node (--pods-per-node 1)
EXTERNAL_IP = "203.0.113.10"


def lab_name(prefix: str = "svc") -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


class StaticLab(Lab):
    """The shared lab, which no test changes: what ``get`` prints is read once and kept."""

    def __init__(self, name: str):
        super().__init__(name)
        self.cache: dict[tuple, object] = {}

    def get(self, kind: str) -> dict[str, dict]:
        key = ("Lab.get", kind)
        if key not in self.cache:
            self.cache[key] = super().get(kind)
        return self.cache[key]  # type: ignore[return-value]


def get_json(lab: Lab, *args: str) -> dict:
    cache = getattr(lab, "cache", None)
    if cache is not None and args in cache:
        return cache[args]
    result = podnet("get", *args, "-o", "json", "--name", lab.name, check=True)
    data = json.loads(result.stdout)
    if cache is not None:
        cache[args] = data
    return data


def pods_all(lab: Lab) -> dict[str, dict]:
    return {p["metadata"]["name"]: p for p in get_json(lab, "pods", "-A")["items"]}


def web_pods(lab: Lab, app: str = "web") -> dict[str, str]:
    """{Pod name: Pod IP} of the Running Pods labelled app=APP."""
    return {name: p["status"]["podIP"] for name, p in pods_all(lab).items()
            if p["metadata"].get("labels", {}).get("app") == app and p["status"]["phase"] == "Running"}


def endpoints(lab: Lab, service: str, namespace: str = "default") -> dict[str, set[tuple[str, str]]]:
    """{servicePort label: {(Pod name, IP:port)}} from ``get endpoints NAME -o json``."""
    item = get_json(lab, "endpoints", service, "-n", namespace)
    assert item["kind"] == "Endpoints" and item["metadata"]["name"] == service, item
    out: dict[str, set[tuple[str, str]]] = {}
    for subset in item.get("subsets") or []:
        label = subset.get("podnet", {}).get("servicePort", "")
        for port in subset.get("ports") or [{"port": None}]:
            for address in subset.get("addresses") or []:
                out.setdefault(label, set()).add((address["targetRef"]["name"], f"{address['ip']}:{port['port']}"))
            out.setdefault(label, set())
    return out


def service(lab: Lab, name: str, namespace: str = "default") -> dict:
    item = get_json(lab, "svc", name, "-n", namespace)
    assert item["kind"] == "Service" and item["metadata"]["name"] == name, item
    return item


def node_ips(lab: Lab) -> dict[str, str]:
    return {n: lab.node_ip(n) for n in NODES}


def gateway_of(lab: Lab, node: str) -> str:
    """The bridge plugin's gateway (cni0) on a node: the first address of its podCIDR."""
    cidr = ipaddress.IPv4Network(lab.nodes()[node]["spec"]["podCIDR"])
    return str(cidr.network_address + 1)


# kube-proxy's chain names (pkg/proxy/iptables/proxier.go: portProtoHash, servicePortEndpointChainName)
def _kp_hash(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:16]


def port_name(namespace: str, name: str, port: str = "") -> str:
    return f"{namespace}/{name}" + (f":{port}" if port else "")


def svc_chain(spn: str, proto: str) -> str:
    return "KUBE-SVC-" + _kp_hash(spn + proto.lower())


def ext_chain(spn: str, proto: str) -> str:
    return "KUBE-EXT-" + _kp_hash(spn + proto.lower())


def sep_chain(spn: str, proto: str, endpoint: str) -> str:
    return "KUBE-SEP-" + _kp_hash(spn + proto.lower() + endpoint)


def iptables_save(lab: Lab, node: str) -> str:
    result = lab.in_ns(node, "iptables-save")
    assert result.returncode == 0, explain(result)
    return result.stdout


def parse_save(text: str) -> dict[str, dict]:
    """{table: {"chains": [declared chains], "rules": {chain: [rule text after '-A CHAIN ']}}}"""
    out: dict[str, dict] = {}
    table = None
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
            out[table] = {"chains": [], "rules": {}}
        elif table and line.startswith(":"):
            chain = line[1:].split()[0]
            out[table]["chains"].append(chain)
            out[table]["rules"].setdefault(chain, [])
        elif table and line.startswith("-A "):
            _, chain, rest = line.split(" ", 2)
            out[table]["rules"].setdefault(chain, []).append(rest)
    return out


def normalized(text: str) -> list[str]:
    """iptables-save without comments and packet counters."""
    return [re.sub(r"\[\d+:\d+\]", "[-]", line) for line in text.splitlines() if line and not line.startswith("#")]


def jumps(rules: list[str]) -> list[str]:
    return [r.rsplit("-j ", 1)[1].split()[0] for r in rules if "-j " in r]


# -- the shared lab ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def svc_lab(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("root integration tests need root")
    path = write(tmp_path_factory.mktemp("svc"), "services.yaml",
                 manifest(WEB_DEPLOYMENT.format(replicas=3), WEB_SERVICE, WEB_NODEPORT, SOLO, STICKY, EMPTY))
    lab = StaticLab(lab_name())
    try:
        lab.up("--pods-per-node", "1", "-f", path)
        yield lab
    finally:
        down = lab.down()
    assert down.returncode == 0, explain(down)


@pytest.fixture
def fresh(make_lab, tmp_path):
    """A lab of its own for a test that changes things: 3 nodes, a Pod per node, ``docs`` applied."""

    def _up(*docs: str) -> Lab:
        lab = make_lab(lab_name())
        lab.up("--pods-per-node", "1", "-f", write(tmp_path, "lab.yaml", manifest(*docs)))
        return lab

    return _up


# -- Pod-to-Service and node-to-Service reach every endpoint -----------------------------------------

@pytest.mark.parametrize("proto, port, target_port", [("tcp", 80, 8080), ("udp", 81, 8081)])
def test_pod_to_clusterip_reaches_every_endpoint(svc_lab, proto, port, target_port):
    backends = web_pods(svc_lab)
    assert len(backends) == 3, backends
    cluster_ip = service(svc_lab, "web")["spec"]["clusterIP"]
    for src in ("pod-1-1", "pod-3-1"):
        src_ip = svc_lab.pod_ip(src)
        data = connect(svc_lab, src, f"web:{port}", "-p", proto, "-c", "30")
        assert data["lookup"]["address"] == cluster_ip, data["lookup"]
        answers = all_ok(data, 30)
        assert set(data["backends"]) == set(backends), (src, data["backends"], backends)
        for a in answers:
            assert backends[a["pod"]] == a["pod_ip"], a
            assert a["port"] == target_port, a
            # no SNAT through a ClusterIP from a Pod: the backend sees the client Pod's own IP
            assert client_ip(a) == src_ip, a


@pytest.mark.parametrize("proto, port", [("tcp", 80), ("udp", 81)])
def test_node_to_clusterip_reaches_every_endpoint(svc_lab, proto, port):
    backends = web_pods(svc_lab)
    cluster_ip = service(svc_lab, "web")["spec"]["clusterIP"]
    node = "node-2"
    data = connect(svc_lab, node, f"{cluster_ip}:{port}", "-p", proto, "-c", "30")
    answers = all_ok(data, 30)
    assert set(data["backends"]) == set(backends), data["backends"]
    # a node is outside the cluster CIDR: kube-proxy masquerades it (to the outgoing interface)
    allowed = {svc_lab.node_ip(node), gateway_of(svc_lab, node)}
    assert {client_ip(a) for a in answers} <= allowed, [a["client"] for a in answers]
    assert not {client_ip(a) for a in answers} & set(backends.values())


# -- NodePort ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("source", ["pod-1-1", "node-1", "external"])
@pytest.mark.parametrize("proto, node_port", [("tcp", 30080), ("udp", 30081)])
def test_nodeport_reaches_every_endpoint_on_every_node(svc_lab, source, proto, node_port):
    backends = web_pods(svc_lab)
    for node, ip in node_ips(svc_lab).items():
        data = connect(svc_lab, source, f"{ip}:{node_port}", "-p", proto, "-c", "30")
        assert data["lookup"]["address"] == ip, data["lookup"]
        answers = all_ok(data, 30)
        assert set(data["backends"]) == set(backends), (source, node, data["backends"])
        assert {a["port"] for a in answers} == {8080 if proto == "tcp" else 8081}


@pytest.mark.parametrize("proto, node_port", [("tcp", 30090), ("udp", 30091)])
def test_external_nodeport_to_a_backend_on_another_node_is_snated_to_the_node(svc_lab, proto, node_port):
    solo = web_pods(svc_lab, "solo")
    assert len(solo) == 1, solo
    (solo_name, solo_ip), = solo.items()
    assert pods_all(svc_lab)[solo_name]["spec"]["nodeName"] == "node-2"
    ips = node_ips(svc_lab)
    for node in ("node-1", "node-3"):  # the backend runs on node-2
        data = connect(svc_lab, "external", f"{ips[node]}:{node_port}", "-p", proto, "-c", "5")
        for a in all_ok(data, 5):
            assert a["pod"] == solo_name and a["pod_ip"] == solo_ip, a
            assert client_ip(a) == ips[node], f"expected the client to be seen as {node} ({ips[node]}): {a}"
            assert client_ip(a) != EXTERNAL_IP
    # on the backend's own node it is still masqueraded (externalTrafficPolicy Cluster), to cni0
    data = connect(svc_lab, "external", f"{ips['node-2']}:{node_port}", "-p", proto, "-c", "3")
    for a in all_ok(data, 3):
        assert a["pod"] == solo_name and client_ip(a) == gateway_of(svc_lab, "node-2"), a


@pytest.mark.parametrize("proto, node_port", [("tcp", 30090), ("udp", 30091)])
def test_trace_shows_dnat_and_snat_of_external_nodeport_traffic(svc_lab, proto, node_port):
    (solo_name, solo_ip), = web_pods(svc_lab, "solo").items()
    node1 = svc_lab.node_ip("node-1")
    t = trace(svc_lab, "external", f"{node1}:{node_port}", "-p", proto)
    assert t["kind"] == "External-to-Service", t["kind"]
    assert t["status"] == "reached" and t["receiver"] == solo_name, t
    assert t["target"]["via"] == "nodePort" and t["target"]["service"] == "default/solo", t["target"]
    hops = t["hops"]
    assert hops[0]["where"] == "external" and hops[0]["src"].startswith(EXTERNAL_IP + ":"), hops[0]
    assert hops[0]["dst"] == f"{node1}:{node_port}", hops[0]
    assert hops[-1]["where"] == solo_name, hops[-1]
    assert hops[-1]["dst"] == f"{solo_ip}:9000", hops[-1]
    assert hops[-1]["src"].startswith(node1 + ":"), f"the backend should see node-1's address: {hops[-1]}"
    # both rewrites happen in node-1, where the packet entered the cluster
    changed = [h for h in hops if h["rewrite"]]
    assert changed and all(h["where"] == "node-1" for h in changed), changed
    notes = [n for h in changed for n in h["rewrite"]]
    dnat = [n for n in notes if n.startswith("DNAT")]
    snat = [n for n in notes if n.startswith("SNAT")]
    assert len(dnat) == 1 and f"{node1}:{node_port} -> {solo_ip}:9000" in dnat[0], notes
    spn = port_name("default", "solo", proto)
    assert svc_chain(spn, proto) in dnat[0] and sep_chain(spn, proto, f"{solo_ip}:9000") in dnat[0], dnat
    assert len(snat) == 1 and f"{EXTERNAL_IP}:" in snat[0] and f"-> {node1}:" in snat[0], snat
    assert len(t["rewrites"]) == 2, t["rewrites"]
    # it crossed to node-2 already rewritten
    on_node2 = [h for h in hops if h["where"] == "node-2" and h["iface"] == "eth0" and h["direction"] == "in"]
    assert on_node2 and on_node2[0]["src"].startswith(node1 + ":"), hops


# -- source IP, hairpin, sizes --------------------------------------------------------------------------

@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_source_pod_ip_is_preserved_through_the_clusterip(svc_lab, proto):
    (solo_name, solo_ip), = web_pods(svc_lab, "solo").items()
    for src in CLIENTS:  # pod-2-1 is on the backend's node, the others cross nodes
        data = connect(svc_lab, src, "solo:90", "-p", proto, "-c", "3")
        for a in all_ok(data, 3):
            assert a["pod"] == solo_name and a["pod_ip"] == solo_ip
            assert client_ip(a) == svc_lab.pod_ip(src), (src, a)


@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_hairpin_a_backend_reaches_its_own_service(svc_lab, proto):
    # one replica: every answer must come from the Pod itself, masqueraded to its node's bridge
    (solo_name, solo_ip), = web_pods(svc_lab, "solo").items()
    data = connect(svc_lab, solo_name, "solo:90", "-p", proto, "-c", "5")
    for a in all_ok(data, 5):
        assert a["pod"] == solo_name and a["pod_ip"] == solo_ip, a
        assert client_ip(a) == gateway_of(svc_lab, "node-2"), a

    # three replicas: some answers come from the Pod itself (hairpin, masqueraded), the others
    # from other Pods, which see the Pod's own IP
    backends = web_pods(svc_lab)
    me = sorted(backends)[0]
    my_node = pods_all(svc_lab)[me]["spec"]["nodeName"]
    port = "80" if proto == "tcp" else "81"
    data = connect(svc_lab, me, f"web:{port}", "-p", proto, "-c", "40")
    answers = all_ok(data, 40)
    mine = [a for a in answers if a["pod"] == me]
    others = [a for a in answers if a["pod"] != me]
    assert mine, f"{me} never reached itself through its Service in 40 requests: {data['backends']}"
    assert all(client_ip(a) == gateway_of(svc_lab, my_node) for a in mine), mine
    assert others and all(client_ip(a) == backends[me] for a in others), others


def test_trace_of_hairpin_shows_dnat_and_snat(svc_lab):
    (solo_name, solo_ip), = web_pods(svc_lab, "solo").items()
    t = trace(svc_lab, solo_name, "solo:90")
    assert t["kind"] == "Pod-to-Service" and t["status"] == "reached" and t["receiver"] == solo_name, t
    notes = [n for h in t["hops"] for n in h["rewrite"]]
    assert any(n.startswith("DNAT") and f"-> {solo_ip}:9000" in n for n in notes), notes
    assert any(n.startswith("SNAT") and f"-> {gateway_of(svc_lab, 'node-2')}:" in n for n in notes), notes


@pytest.mark.parametrize("proto, port", [("tcp", 80), ("udp", 81)])
def test_a_2000_byte_request_through_the_service(svc_lab, proto, port):
    data = connect(svc_lab, "pod-1-1", f"web:{port}", "-p", proto, "--size", "2000", "-c", "6")
    for a in all_ok(data, 6):
        assert a["received"] == 2000 and a["echoed"] is True, a
    node2 = svc_lab.node_ip("node-2")
    data = connect(svc_lab, "external", f"{node2}:{30080 if proto == 'tcp' else 30081}", "-p", proto,
                   "--size", "2000", "-c", "3")
    for a in all_ok(data, 3):
        assert a["received"] == 2000, a


# -- no endpoints: refused, not a timeout ---------------------------------------------------------------

@pytest.mark.parametrize("proto, port, node_port", [("tcp", 80, 30100), ("udp", 81, 30101)])
def test_service_without_endpoints_refuses_fast(svc_lab, proto, port, node_port):
    assert all(not eps for eps in endpoints(svc_lab, "empty").values())
    cluster_ip = service(svc_lab, "empty")["spec"]["clusterIP"]
    for source, target in (("pod-1-1", f"empty:{port}"), ("node-3", f"{cluster_ip}:{port}"),
                           ("external", f"{svc_lab.node_ip('node-2')}:{node_port}"),
                           ("pod-3-1", f"{svc_lab.node_ip('node-1')}:{node_port}")):
        started = time.monotonic()
        data = connect(svc_lab, source, target, "-p", proto, "-c", "3", "--timeout", "5", expect=1)
        elapsed = time.monotonic() - started
        statuses = [a["status"] for a in data["answers"]]
        if source.startswith("node-") and proto == "udp":
            # the node's own datagram hits the REJECT in filter OUTPUT: the kernel fails the send
            # itself with EPERM (as on a real node) instead of delivering an ICMP error
            assert all(a["status"] == "refused" or (a["status"] == "error" and "not permitted" in a["detail"])
                       for a in data["answers"]) and len(statuses) == 3, (source, target, data["answers"])
        else:
            assert statuses == ["refused"] * 3, (source, target, data["answers"])
        assert data["backends"] == [] and data["ok"] is False
        assert elapsed < 4, f"{source} -> {target}: refusal took {elapsed:.1f}s (waited for a timeout?)"
    filt = parse_save(iptables_save(svc_lab, "node-1"))["filter"]["rules"]
    rejects = [r for r in filt.get("KUBE-SERVICES", []) if f"-d {cluster_ip}/32" in r]
    assert rejects and all("REJECT" in r and "has no endpoints" in r for r in rejects), rejects


# -- session affinity ----------------------------------------------------------------------------------

def test_client_ip_affinity_sticks_while_a_plain_service_spreads(svc_lab):
    backends = web_pods(svc_lab)
    chosen = {}
    for src in ("pod-1-1", "pod-3-1", "node-2"):
        data = connect(svc_lab, src, "sticky:80" if src.startswith("pod") else
                       f"{service(svc_lab, 'sticky')['spec']['clusterIP']}:80", "-c", "20")
        all_ok(data, 20)
        assert len(data["backends"]) == 1, f"{src}: ClientIP affinity spread over {data['backends']}"
        assert data["backends"][0] in backends
        chosen[src] = data["backends"][0]
        # and again: still the same one
        again = connect(svc_lab, src, "sticky:80" if src.startswith("pod") else
                        f"{service(svc_lab, 'sticky')['spec']['clusterIP']}:80", "-c", "5")
        all_ok(again, 5)
        assert again["backends"] == [chosen[src]], (src, chosen[src], again["backends"])
    data = connect(svc_lab, "pod-1-1", "web:80", "-c", "20")
    all_ok(data, 20)
    assert len(data["backends"]) >= 2, f"a Service without affinity stuck to {data['backends']}"
    # the rules: -m recent checks before the random choice, and a --set in every endpoint chain
    spn = port_name("default", "sticky")
    nat = parse_save(iptables_save(svc_lab, "node-1"))["nat"]["rules"]
    svc = nat[svc_chain(spn, "tcp")]
    recent = [r for r in svc if "--rcheck" in r]
    assert len(recent) == 3 and all("-m recent" in r and "--seconds 10800" in r for r in recent), svc
    first_random = next(i for i, r in enumerate(svc) if "statistic" in r)
    assert max(svc.index(r) for r in recent) < first_random, svc
    for ip in backends.values():
        sep = nat[sep_chain(spn, "tcp", f"{ip}:8080")]
        assert any("--set" in r and "DNAT" in r for r in sep), sep


# -- iptables-save reads like a real node -------------------------------------------------------------

def test_iptables_save_reads_like_a_real_node(svc_lab):
    backends = web_pods(svc_lab)
    web_ip = service(svc_lab, "web")["spec"]["clusterIP"]
    np_ip = service(svc_lab, "web-np")["spec"]["clusterIP"]
    dns = service(svc_lab, "kube-dns", "kube-system")
    assert dns["spec"]["clusterIP"] == "10.96.0.10"
    dns_pods = {n: p["status"]["podIP"] for n, p in pods_all(svc_lab).items() if n.startswith("coredns-")}
    assert len(dns_pods) == 1, dns_pods
    dns_ip = next(iter(dns_pods.values()))
    kube_rules = {}
    for node in NODES:
        text = iptables_save(svc_lab, node)
        saved = parse_save(text)
        nat = saved["nat"]["rules"]
        declared = set(saved["nat"]["chains"])
        for chain in ("KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-MARK-MASQ", "KUBE-POSTROUTING",
                      "KUBE-SVC-TCOU7JCQXEZGVUNU", "KUBE-SVC-ERIFXISQEP7F7OF4"):
            assert chain in declared, f"{node}: no {chain} in\n{text}"
        assert "KUBE-SERVICES" in jumps(nat["PREROUTING"]) and "KUBE-SERVICES" in jumps(nat["OUTPUT"]), node
        assert "KUBE-POSTROUTING" in jumps(nat["POSTROUTING"]), node
        assert nat["KUBE-MARK-MASQ"] == ["-j MARK --set-xmark 0x4000/0x4000"], nat["KUBE-MARK-MASQ"]
        assert any("-j MASQUERADE" in r for r in nat["KUBE-POSTROUTING"]), nat["KUBE-POSTROUTING"]
        assert any("! --mark 0x4000/0x4000 -j RETURN" in r for r in nat["KUBE-POSTROUTING"]), nat["KUBE-POSTROUTING"]

        # ClusterIP -> KUBE-SVC, with kube-proxy's own chain names
        http = port_name("default", "web", "http")
        svc = svc_chain(http, "tcp")
        entry = [r for r in nat["KUBE-SERVICES"] if r.endswith(f"-j {svc}")]
        assert len(entry) == 1 and f"-d {web_ip}/32 -p tcp" in entry[0] and "--dport 80" in entry[0], entry
        assert '"default/web:http cluster IP"' in entry[0], entry
        assert nat["KUBE-SERVICES"][-1].endswith("-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS"), nat["KUBE-SERVICES"]
        # three endpoints: 1/3, then 1/2, then the last one unconditionally
        picks = [r for r in nat[svc] if "-j KUBE-SEP-" in r]
        assert len(picks) == 3, nat[svc]
        probabilities = [re.search(r"--probability (\S+)", r) for r in picks]
        assert [m.group(1) if m else None for m in probabilities] == ["0.33333333349", "0.50000000000", None], picks
        assert all("-m statistic --mode random" in r for r in picks[:2]), picks
        expected = {sep_chain(http, "tcp", f"{ip}:8080"): ip for ip in backends.values()}
        assert set(jumps(picks)) == set(expected), (jumps(picks), expected)
        assert any(r.startswith(f"! -s 10.244.0.0/16 -d {web_ip}/32") and r.endswith("-j KUBE-MARK-MASQ")
                   for r in nat[svc]), nat[svc]
        for sep, ip in expected.items():
            assert sep in declared
            assert any(r.startswith(f"-s {ip}/32") and r.endswith("-j KUBE-MARK-MASQ") for r in nat[sep]), nat[sep]
            assert any(r.endswith(f"-j DNAT --to-destination {ip}:8080") for r in nat[sep]), nat[sep]
        # UDP port of the same Service: its own chains
        udp = port_name("default", "web", "udp")
        assert set(jumps([r for r in nat[svc_chain(udp, "udp")] if "KUBE-SEP-" in r])) == {
            sep_chain(udp, "udp", f"{ip}:8081") for ip in backends.values()}
        # NodePort: KUBE-NODEPORTS -> KUBE-EXT (mark for masquerade) -> KUBE-SVC
        np_http = port_name("default", "web-np", "http")
        ext = ext_chain(np_http, "tcp")
        assert any("--dport 30080" in r and r.endswith(f"-j {ext}") for r in nat["KUBE-NODEPORTS"]), nat["KUBE-NODEPORTS"]
        assert any("--dport 30081" in r and r.endswith(f"-j {ext_chain(port_name('default', 'web-np', 'udp'), 'udp')}")
                   for r in nat["KUBE-NODEPORTS"]), nat["KUBE-NODEPORTS"]
        assert jumps(nat[ext]) == ["KUBE-MARK-MASQ", svc_chain(np_http, "tcp")], nat[ext]
        assert any(f"-d {np_ip}/32" in r for r in nat["KUBE-SERVICES"])
        # kube-dns, as on every real cluster
        dns_svc = nat["KUBE-SVC-TCOU7JCQXEZGVUNU"]
        dns_sep = sep_chain("kube-system/kube-dns:dns", "udp", f"{dns_ip}:53")
        assert jumps([r for r in dns_svc if "KUBE-SEP" in r]) == [dns_sep], dns_svc
        assert any(r.endswith(f"-j DNAT --to-destination {dns_ip}:53") for r in nat[dns_sep]), nat[dns_sep]
        assert any("-d 10.96.0.10/32 -p udp" in r and "--dport 53" in r and r.endswith("-j KUBE-SVC-TCOU7JCQXEZGVUNU")
                   for r in nat["KUBE-SERVICES"])
        # kube-proxy's content is the same on every node (externalTrafficPolicy Cluster)
        kube_rules[node] = sorted(line for line in normalized(text) if re.match(r"-A KUBE-|:KUBE-", line))
    assert kube_rules["node-1"] == kube_rules["node-2"] == kube_rules["node-3"]


# -- changes: endpoint churn, deleted Services, hand-edited rules ----------------------------------------

def test_endpoint_churn_scale_and_a_deleted_pod_replaced(fresh, tmp_path):
    lab = fresh(WEB_DEPLOYMENT.format(replicas=3), WEB_SERVICE)
    cluster_ip = service(lab, "web")["spec"]["clusterIP"]
    http = port_name("default", "web", "http")

    def check(expected: dict[str, str], count: int) -> None:
        eps = endpoints(lab, "web")
        assert {ep for _, ep in eps["default/web:http"]} == {f"{ip}:8080" for ip in expected.values()}, eps
        assert {name for name, _ in eps["default/web:http"]} == set(expected), eps
        for proto, port in (("tcp", 80), ("udp", 81)):
            data = connect(lab, "pod-1-1", f"{cluster_ip}:{port}", "-p", proto, "-c", str(count))
            answers = all_ok(data, count)
            assert set(data["backends"]) == set(expected), (proto, data["backends"], expected)
            assert {a["pod_ip"] for a in answers} <= set(expected.values())
        for node in NODES:
            nat = parse_save(iptables_save(lab, node))["nat"]["rules"]
            picks = [r for r in nat[svc_chain(http, "tcp")] if "KUBE-SEP-" in r]
            assert set(jumps(picks)) == {sep_chain(http, "tcp", f"{ip}:8080") for ip in expected.values()}, picks

    first = web_pods(lab)
    assert len(first) == 3
    check(first, 30)

    # scale up
    path = os.path.join(str(tmp_path), "scale.yaml")
    for replicas, count in ((5, 60), (2, 30)):
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(manifest(WEB_DEPLOYMENT.format(replicas=replicas), WEB_SERVICE))
        applied = podnet("apply", "--name", lab.name, "-f", path)
        assert applied.returncode == 0, explain(applied)
        assert "deployment.apps/web configured" in applied.stdout.splitlines(), applied.stdout
        assert "service/web unchanged" in applied.stdout.splitlines(), applied.stdout
        now = web_pods(lab)
        assert len(now) == replicas, now
        assert service(lab, "web")["spec"]["clusterIP"] == cluster_ip
        check(now, count)

    # delete one Pod: the Deployment replaces it under a new name, with a new IP
    before = web_pods(lab)
    victim, victim_ip = sorted(before.items())[0]
    deleted = podnet("delete", "--name", lab.name, "pod", victim)
    assert deleted.returncode == 0, explain(deleted)
    assert f'pod "{victim}" deleted' in deleted.stdout, deleted.stdout
    after = web_pods(lab)
    assert len(after) == 2 and victim not in after, after
    (new_name, new_ip), = ((n, ip) for n, ip in after.items() if n not in before)
    assert new_ip != victim_ip and victim_ip not in after.values(), (victim_ip, after)
    assert new_name.startswith("web-"), new_name
    assert lab.ns(victim) not in lab.namespaces()
    assert service(lab, "web")["spec"]["clusterIP"] == cluster_ip
    check(after, 30)
    for node in NODES:
        assert f"--to-destination {victim_ip}:" not in iptables_save(lab, node), node


def test_deleted_service_answers_nothing_and_only_its_chains_go(fresh):
    lab = fresh(WEB_DEPLOYMENT.format(replicas=3), WEB_SERVICE, WEB_NODEPORT)
    gone = service(lab, "web-np")["spec"]["clusterIP"]
    kept = service(lab, "web")["spec"]["clusterIP"]
    backends = web_pods(lab)
    ips = node_ips(lab)
    # it answers before
    all_ok(connect(lab, "pod-1-1", f"{gone}:80", "-c", "3"), 3)
    all_ok(connect(lab, "external", f"{ips['node-1']}:30080", "-c", "3"), 3)

    np_ports = [(port_name("default", "web-np", "http"), "tcp", 8080), (port_name("default", "web-np", "udp"), "udp", 8081)]
    np_chains = set()
    for spn, proto, target in np_ports:
        np_chains |= {svc_chain(spn, proto), ext_chain(spn, proto)}
        np_chains |= {sep_chain(spn, proto, f"{ip}:{target}") for ip in backends.values()}
    before = {node: set(parse_save(iptables_save(lab, node))["nat"]["chains"]) for node in NODES}
    for node in NODES:
        assert np_chains <= before[node], (node, np_chains - before[node])

    result = podnet("delete", "--name", lab.name, "svc", "web-np")
    assert result.returncode == 0, explain(result)
    assert result.stdout.strip() == 'service "web-np" deleted', result.stdout
    assert "web-np" not in {i["metadata"]["name"] for i in get_json(lab, "svc", "-A")["items"]}

    for proto, port, node_port in (("tcp", 80, 30080), ("udp", 81, 30081)):
        for source, target in [("pod-1-1", f"{gone}:{port}"), ("node-2", f"{gone}:{port}")] + [
                ("external", f"{ip}:{node_port}") for ip in ips.values()] + [("pod-3-1", f"{ips['node-1']}:{node_port}")]:
            data = connect(lab, source, target, "-p", proto, "-c", "2", "--timeout", "0.5", expect=1)
            statuses = [a["status"] for a in data["answers"]]
            assert statuses and set(statuses) <= {"refused", "timeout", "unreachable"}, (source, target, data["answers"])
            assert data["backends"] == [] and not any(a["pod"] for a in data["answers"]), data

    for node in NODES:
        text = iptables_save(lab, node)
        after = set(parse_save(text)["nat"]["chains"])
        assert not np_chains & after, (node, np_chains & after)
        assert before[node] - after == np_chains, (node, before[node] - after)
        rules = "\n".join(normalized(text))
        assert "default/web-np" not in rules and "--dport 30080" not in rules and "--dport 30081" not in rules, node
        assert "KUBE-SVC-TCOU7JCQXEZGVUNU" in after and svc_chain(port_name("default", "web", "http"), "tcp") in after
    # the other Service still answers, from every endpoint
    data = connect(lab, "pod-1-1", f"{kept}:80", "-c", "30")
    all_ok(data, 30)
    assert set(data["backends"]) == set(backends)


def test_sync_restores_kube_proxy_rules_and_keeps_foreign_ones(fresh):
    lab = fresh(WEB_DEPLOYMENT.format(replicas=3), WEB_SERVICE, WEB_NODEPORT)
    cluster_ip = service(lab, "web")["spec"]["clusterIP"]
    backends = web_pods(lab)
    http = port_name("default", "web", "http")
    svc = svc_chain(http, "tcp")
    before = {node: normalized(iptables_save(lab, node)) for node in NODES}

    def ipt(node: str, *argv: str) -> None:
        result = lab.in_ns(node, "iptables", "-w", "5", "-t", "nat", *argv)
        assert result.returncode == 0, explain(result)

    # node-1: flush the Service's chain; node-2: delete the KUBE-SERVICES entry of kube-dns and
    # one endpoint's DNAT; node-3: delete the PREROUTING jump into KUBE-SERVICES
    ipt("node-1", "-F", svc)
    dns_entry = next(line for line in before["node-2"] if line.startswith("-A KUBE-SERVICES ")
                     and line.endswith("-j KUBE-SVC-TCOU7JCQXEZGVUNU"))
    ipt("node-2", "-D", *_split_rule(dns_entry))
    sep = sep_chain(http, "tcp", f"{sorted(backends.values())[0]}:8080")
    dnat = next(line for line in before["node-2"] if line.startswith(f"-A {sep} ") and "DNAT" in line)
    ipt("node-2", "-D", *_split_rule(dnat))
    prerouting = next(line for line in before["node-3"] if line.startswith("-A PREROUTING ")
                      and line.endswith("-j KUBE-SERVICES"))
    ipt("node-3", "-D", *_split_rule(prerouting))
    # a rule of someone else's in POSTROUTING (not kube-proxy's) on node-1
    foreign = ["-s", "10.244.0.0/24", "-d", "198.51.100.0/24", "-j", "MASQUERADE"]
    ipt("node-1", "-A", "POSTROUTING", *foreign)

    assert iptables_save(lab, "node-1").count(f"-A {svc} ") == 0
    broken = connect(lab, "pod-1-1", f"{cluster_ip}:80", "-c", "3", "--timeout", "1")
    assert not any(a["status"] == "ok" for a in broken["answers"]), broken["answers"]
    external = connect(lab, "external", f"{lab.node_ip('node-3')}:30080", "-c", "3", "--timeout", "1")
    assert not any(a["status"] == "ok" for a in external["answers"]), external["answers"]

    synced = podnet("sync", "--name", lab.name, "-o", "json")
    assert synced.returncode == 0, explain(synced)
    report = json.loads(synced.stdout)
    assert {r["node"] for r in report["kubeProxy"]} == set(NODES), report

    for node in NODES:
        now = normalized(iptables_save(lab, node))
        extra = [line for line in now if line not in before[node]]
        if node == "node-1":
            assert extra == ["-A POSTROUTING " + " ".join(foreign)], extra
        else:
            assert extra == [], (node, extra)
        assert sorted(line for line in now if line not in extra) == sorted(before[node]), node
    assert "-A POSTROUTING " + " ".join(foreign) in normalized(iptables_save(lab, "node-1"))
    check = lab.in_ns("node-1", "iptables", "-w", "5", "-t", "nat", "-C", "POSTROUTING", *foreign)
    assert check.returncode == 0, explain(check)

    data = connect(lab, "pod-1-1", f"{cluster_ip}:80", "-c", "30")
    all_ok(data, 30)
    assert set(data["backends"]) == set(backends)
    all_ok(connect(lab, "pod-2-1", "web:80", "-c", "3"), 3)
    data = connect(lab, "external", f"{lab.node_ip('node-3')}:30080", "-c", "30")
    all_ok(data, 30)
    assert set(data["backends"]) == set(backends)


def _split_rule(line: str) -> list[str]:
    """``-A CHAIN args...`` of iptables-save as an argv for ``iptables -D CHAIN args...``."""
    import shlex

    parts = shlex.split(line)
    assert parts[0] == "-A", line
    return parts[1:]


UDP_FIXED_PORT_CLIENT = r"""
import json, socket, sys

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[3])))
s.settimeout(1.0)
s.sendto(b"podnet-request fixed-port\n", (sys.argv[1], int(sys.argv[2])))
try:
    print(json.loads(s.recv(65535).decode())["pod"])
except socket.timeout:
    print("TIMEOUT")
"""


def test_udp_flow_of_a_deleted_endpoint_moves_to_a_live_one(fresh):
    """kube-proxy deletes the conntrack entries of a UDP endpoint that went away
    (``conntrack -D --orig-dst CLUSTER-IP --dst-nat POD-IP -p udp``); without that, a client that
    keeps its source port (a resolver, a long-lived UDP flow) stays DNATed to the dead Pod."""
    import sys

    lab = fresh(WEB_DEPLOYMENT.format(replicas=2), WEB_SERVICE)
    cluster_ip = service(lab, "web")["spec"]["clusterIP"]
    sport = str(20000 + secrets.randbelow(20000))

    def ask() -> str:
        result = lab.in_ns("pod-1-1", sys.executable, "-c", UDP_FIXED_PORT_CLIENT, cluster_ip, "81", sport)
        assert result.returncode == 0, explain(result)
        return result.stdout.strip()

    first = ask()
    assert first in web_pods(lab), first
    deleted = podnet("delete", "--name", lab.name, "pod", first)
    assert deleted.returncode == 0, explain(deleted)
    live = web_pods(lab)
    assert first not in live and len(live) == 2, live
    answers = [ask() for _ in range(3)]
    assert all(a in live for a in answers), (
        f"the same UDP flow (source port {sport}) to {cluster_ip}:81 still goes to the deleted Pod {first}: "
        f"{answers}; stale conntrack entries of a removed UDP endpoint were not cleared")
