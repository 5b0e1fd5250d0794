"""Cluster DNS, and workloads as manifests: apply, delete, logs, bring-up and teardown.

DNS is checked the way a Pod uses it: ``getent hosts`` inside the Pod (its resolv.conf is the
kubelet's: the kube-dns ClusterIP, the namespace's search path, ndots:5), ``podnet connect``'s
own lookup, and raw DNS queries for the answer codes (NXDOMAIN) and TCP. Names outside the
cluster are forwarded to the emulated 8.8.8.8, which is seen receiving them. Manifests are
held to kubectl's output lines and the API server's wording, and a refused apply must leave the
Services, workloads and every node's iptables exactly as they were.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import secrets
import sys
import time

import pytest

from tests.support.captures import NsTcpdump, tshark_fields
from tests.support.labs import Lab, assert_refused
from tests.support.processes import CMD_TIMEOUT, REPO, alive, explain, netns_inode, netns_list, pids_in, podnet

pytestmark = pytest.mark.root

WEB_YAML = REPO / "topologies" / "workloads" / "web.yaml"

OTHER = """
apiVersion: v1
kind: Namespace
metadata:
  name: other
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: other
spec:
  replicas: 1
  selector:
    matchLabels:
      app: api
  template:
    metadata:
      labels:
        app: api
    spec:
      containers:
        - name: echo
          image: registry.k8s.io/e2e-test-images/agnhost:2.47
          ports:
            - containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: api
  namespace: other
spec:
  selector:
    app: api
  ports:
    - port: 80
      targetPort: 8080
---
apiVersion: v1
kind: Pod
metadata:
  name: toolbox
  namespace: other
spec:
  nodeName: node-2
  containers:
    - name: shell
      image: busybox
"""

DNS_QUERY = r"""
import json, random, socket, struct, sys

server, name, proto = sys.argv[1], sys.argv[2], sys.argv[3]
ident = random.randrange(1, 65535)
question = b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".")) + b"\0"
query = struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + question + struct.pack("!HH", 1, 1)
if proto == "udp":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.sendto(query, (server, 53))
    reply = s.recv(4096)
else:
    s = socket.create_connection((server, 53), timeout=3)
    s.sendall(struct.pack("!H", len(query)) + query)
    data = b""
    while len(data) < 2 or len(data) < 2 + struct.unpack("!H", data[:2])[0]:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    reply = data[2:]
rid, flags, qd, an, _ns, _ar = struct.unpack("!HHHHHH", reply[:12])
offset = 12
while reply[offset]:
    offset += reply[offset] + 1
offset += 5
ips = []
for _ in range(an):
    if reply[offset] & 0xC0 == 0xC0:
        offset += 2
    else:
        while reply[offset]:
            offset += reply[offset] + 1
        offset += 1
    rtype, _rclass, _ttl, length = struct.unpack("!HHIH", reply[offset:offset + 10])
    offset += 10
    if rtype == 1:
        ips.append(socket.inet_ntoa(reply[offset:offset + length]))
    offset += length
print(json.dumps({"id_ok": rid == ident, "qr": bool(flags & 0x8000), "rcode": flags & 0xF, "answers": ips}))
"""


# -- helpers -------------------------------------------------------------------------------------------

def lab_name() -> str:
    return f"dnsw-{secrets.token_hex(3)}"


def get_json(lab: Lab, *args: str) -> dict:
    result = podnet("get", *args, "-o", "json", "--name", lab.name, check=True)
    return json.loads(result.stdout)


def services(lab: Lab) -> dict[str, dict]:
    """{"namespace/name": Service} of ``get svc -A -o json``."""
    return {f"{i['metadata']['namespace']}/{i['metadata']['name']}": i for i in get_json(lab, "svc", "-A")["items"]}


def pods(lab: Lab) -> dict[str, dict]:
    return {i["metadata"]["name"]: i for i in get_json(lab, "pods", "-A")["items"]}


def connect(lab: Lab, source: str, target: str, *args: str) -> dict:
    result = podnet("connect", "--name", lab.name, source, target, *args, "-o", "json", timeout=CMD_TIMEOUT)
    try:
        data = json.loads(result.stdout)
    except ValueError:
        raise AssertionError("connect printed no JSON\n" + explain(result)) from None
    data["_exit"] = result.returncode
    return data


def getent(lab: Lab, pod: str, name: str):
    """(exit code, [(address, canonical name)]) of ``getent hosts NAME`` inside the Pod."""
    result = lab.exec(pod, "getent", "hosts", name)
    rows = [tuple(line.split()[:2]) for line in result.stdout.splitlines() if line.strip()]
    return result.returncode, rows


def dns_query(lab: Lab, pod: str, server: str, name: str, proto: str = "udp") -> dict:
    result = lab.in_ns(pod, sys.executable, "-c", DNS_QUERY, server, name, proto)
    assert result.returncode == 0, explain(result)
    reply = json.loads(result.stdout)
    assert reply["id_ok"] and reply["qr"], reply
    return reply


def write(tmp_dir, name: str, text: str) -> str:
    path = os.path.join(str(tmp_dir), name)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def iptables_rules(lab: Lab, node: str) -> list[str]:
    result = lab.in_ns(node, "iptables-save")
    assert result.returncode == 0, explain(result)
    return [re.sub(r"\[\d+:\d+\]", "[-]", line) for line in result.stdout.splitlines()
            if line and not line.startswith("#")]


def internal_ip(node_item: dict) -> str:
    return next(a["address"] for a in node_item["status"]["addresses"] if a["type"] == "InternalIP")


def up_lab(prefix_args: tuple, manifest_paths: list[str]) -> Lab:
    lab = Lab(lab_name())
    args = list(prefix_args)
    for path in manifest_paths:
        args += ["-f", path]
    lab.up(*args)
    return lab


# -- the shared lab --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dns_lab(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("root integration tests need root")
    other = write(tmp_path_factory.mktemp("dnsw"), "other.yaml", OTHER)
    lab = Lab(lab_name())
    try:
        lab.up("--pods-per-node", "1", "-f", str(WEB_YAML), "-f", other)
        yield lab
    finally:
        down = lab.down()
    assert down.returncode == 0, explain(down)


@pytest.fixture(scope="module")
def svcs(dns_lab) -> dict[str, dict]:
    return services(dns_lab)


# -- names resolve to ClusterIPs ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["web", "web.default", "web.default.svc", "web.default.svc.cluster.local",
                                  "web.default.svc.cluster.local."])
def test_service_names_resolve_to_the_cluster_ip_in_a_pod(dns_lab, svcs, name):
    cluster_ip = svcs["default/web"]["spec"]["clusterIP"]
    for pod in ("pod-1-1", "pod-2-1", "pod-3-1"):
        code, rows = getent(dns_lab, pod, name)
        assert code == 0 and rows, (pod, name, code, rows)
        assert rows[0] == (cluster_ip, "web.default.svc.cluster.local"), (pod, name, rows)
    data = connect(dns_lab, "pod-1-1", f"{name}:80", "-c", "3")
    look = data["lookup"]
    assert look["how"] == "dns" and look["server"] == "10.96.0.10", look
    assert look["address"] == cluster_ip and look["error"] == "", look
    assert look["tried"][-1].rstrip(".") in ("web.default.svc.cluster.local", name.rstrip(".")), look
    assert data["ok"] is True and len(data["answers"]) == 3, data


def test_kube_dns_is_the_tenth_address_and_every_pod_uses_it(dns_lab, svcs):
    dns = svcs["kube-system/kube-dns"]
    assert dns["spec"]["clusterIP"] == "10.96.0.10", dns["spec"]
    assert sorted((p["port"], p["protocol"]) for p in dns["spec"]["ports"]) == [(53, "TCP"), (53, "UDP")]
    everything = pods(dns_lab)
    coredns = [n for n, p in everything.items() if n.startswith("coredns-")]
    assert len(coredns) == 1 and everything[coredns[0]]["metadata"]["namespace"] == "kube-system", coredns
    dns_ip = everything[coredns[0]]["status"]["podIP"]
    eps = get_json(dns_lab, "endpoints", "kube-dns", "-n", "kube-system")
    assert {a["ip"] for s in eps["subsets"] for a in s["addresses"]} == {dns_ip}, eps
    deployments = {f"{d['metadata']['namespace']}/{d['metadata']['name']}": d
                   for d in get_json(dns_lab, "deployments", "-A")["items"]}
    assert "kube-system/coredns" in deployments, deployments.keys()

    resolv = dns_lab.exec("pod-1-1", "cat", "/etc/resolv.conf")
    assert resolv.returncode == 0, explain(resolv)
    assert resolv.stdout.splitlines() == ["search default.svc.cluster.local svc.cluster.local cluster.local",
                                          "nameserver 10.96.0.10", "options ndots:5"], resolv.stdout
    other = dns_lab.exec("toolbox", "cat", "/etc/resolv.conf")
    assert other.returncode == 0, explain(other)
    assert other.stdout.splitlines()[0] == "search other.svc.cluster.local svc.cluster.local cluster.local", other.stdout
    # the machine's own resolv.conf is untouched by the bind mount
    with open("/etc/resolv.conf", encoding="utf-8") as handle:
        assert "svc.cluster.local" not in handle.read()
    # answered over UDP and TCP through the Service, by the CoreDNS Pod
    web_ip = svcs["default/web"]["spec"]["clusterIP"]
    for proto in ("udp", "tcp"):
        reply = dns_query(dns_lab, "pod-3-1", "10.96.0.10", "web.default.svc.cluster.local", proto)
        assert reply["rcode"] == 0 and reply["answers"] == [web_ip], (proto, reply)
    # and from a node too (a node's agents use the cluster DNS by its ClusterIP)
    reply = dns_query(dns_lab, "node-2", "10.96.0.10", "api.other.svc.cluster.local")
    assert reply["answers"] == [svcs["other/api"]["spec"]["clusterIP"]], reply


def test_a_service_in_another_namespace(dns_lab, svcs):
    api_ip = svcs["other/api"]["spec"]["clusterIP"]
    web_ip = svcs["default/web"]["spec"]["clusterIP"]
    for name in ("api.other", "api.other.svc", "api.other.svc.cluster.local"):
        code, rows = getent(dns_lab, "pod-1-1", name)
        assert code == 0 and rows and rows[0] == (api_ip, "api.other.svc.cluster.local"), (name, code, rows)
    # the short name is only in the Service's own namespace's search path
    code, rows = getent(dns_lab, "pod-1-1", "api")
    assert code == 2 and rows == [], (code, rows)
    code, rows = getent(dns_lab, "toolbox", "api")
    assert code == 0 and rows and rows[0][0] == api_ip, rows
    code, rows = getent(dns_lab, "toolbox", "web")
    assert code == 2 and rows == [], (code, rows)
    code, rows = getent(dns_lab, "toolbox", "web.default")
    assert code == 0 and rows and rows[0][0] == web_ip, rows

    data = connect(dns_lab, "pod-1-1", "api.other:80", "-c", "3")
    assert data["lookup"]["address"] == api_ip and data["ok"] is True, data
    api_pods = [n for n, p in pods(dns_lab).items() if p["metadata"]["namespace"] == "other" and n.startswith("api-")]
    assert data["backends"] == api_pods, (data["backends"], api_pods)
    short = connect(dns_lab, "pod-1-1", "api:80")
    assert short["_exit"] == 1 and short["lookup"]["address"] is None and short["answers"] == [], short
    from_other = connect(dns_lab, "toolbox", "api:80")
    assert from_other["lookup"]["tried"][0] == "api.other.svc.cluster.local.", from_other["lookup"]
    assert from_other["ok"] is True and from_other["backends"] == api_pods, from_other

    # get -n / -A
    assert [i["metadata"]["name"] for i in get_json(dns_lab, "svc", "-n", "other")["items"]] == ["api"]
    assert "api" not in {i["metadata"]["name"] for i in get_json(dns_lab, "svc")["items"]}
    assert [i["metadata"]["name"] for i in get_json(dns_lab, "deployments", "-n", "other")["items"]] == ["api"]


def test_an_unknown_name_is_nxdomain(dns_lab):
    for name in ("nosuch.default.svc.cluster.local", "web.nosuch.svc.cluster.local", "nosuch.cluster.local"):
        reply = dns_query(dns_lab, "pod-1-1", "10.96.0.10", name)
        assert reply["rcode"] == 3 and reply["answers"] == [], (name, reply)
    # a name outside the cluster domain is forwarded, and the upstream says NXDOMAIN too
    reply = dns_query(dns_lab, "pod-1-1", "10.96.0.10", "nosuch.invalid")
    assert reply["rcode"] == 3 and reply["answers"] == [], reply
    code, rows = getent(dns_lab, "pod-1-1", "nosuch")
    assert code == 2 and rows == [], (code, rows)
    data = connect(dns_lab, "pod-1-1", "nosuch:80")
    assert data["_exit"] == 1 and data["ok"] is False and data["answers"] == [], data
    look = data["lookup"]
    assert look["address"] is None and look["error"].startswith("NXDOMAIN"), look
    assert look["tried"] == ["nosuch.default.svc.cluster.local.", "nosuch.svc.cluster.local.",
                             "nosuch.cluster.local.", "nosuch."], look


def test_names_outside_the_cluster_are_forwarded_to_8_8_8_8(dns_lab, tmp_path):
    everything = pods(dns_lab)
    coredns = next(p for n, p in everything.items() if n.startswith("coredns-"))
    coredns_node_ip = internal_ip(dns_lab.nodes()[coredns["spec"]["nodeName"]])
    capture = NsTcpdump(dns_lab.ns_path("internet"), "any", "udp and dst port 53 and dst host 8.8.8.8",
                        tmp_path / "upstream.pcap", count=1, timeout=10)
    try:
        code, rows = getent(dns_lab, "pod-1-1", "example.com")
        pcap = capture.finish()
    finally:
        capture.close()
    assert code == 0 and rows and rows[0][0] == "93.184.215.14", (code, rows)
    assert pcap, "no DNS query reached 8.8.8.8 in the emulated Internet"
    rows = tshark_fields(tmp_path / "upstream.pcap", "ip.src", "ip.dst", "dns.qry.name", decode_vxlan=False)
    assert len(rows) == 1, rows
    src, dst, qname = rows[0]
    assert dst == "8.8.8.8" and qname == "example.com", rows
    # CoreDNS's query left its node masqueraded (ip-masq-agent): the node's address, not the Pod's
    assert src == coredns_node_ip, (src, coredns_node_ip, coredns["status"]["podIP"])
    code, rows = getent(dns_lab, "pod-2-1", "dns.google")
    assert code == 0 and rows and rows[0][0] == "8.8.8.8", rows
    data = connect(dns_lab, "pod-3-1", "example.com:80")
    assert data["lookup"]["address"] == "93.184.215.14" and data["lookup"]["tried"][-1] == "example.com.", data
    assert data["ok"] is True and data["backends"] == ["internet"], data


@pytest.mark.parametrize("cidr", ["10.100.0.0/16", "172.20.0.0/20"])
def test_kube_dns_follows_a_custom_service_cluster_ip_range(make_lab, cidr):
    network = ipaddress.IPv4Network(cidr)
    tenth = str(network.network_address + 10)
    lab = make_lab(lab_name())
    lab.up("--pods-per-node", "1", "--service-cluster-ip-range", cidr, "-f", str(WEB_YAML))
    found = services(lab)
    assert found["kube-system/kube-dns"]["spec"]["clusterIP"] == tenth, found["kube-system/kube-dns"]["spec"]
    for key, item in found.items():
        assert ipaddress.IPv4Address(item["spec"]["clusterIP"]) in network, (key, item["spec"]["clusterIP"])
    resolv = lab.exec("pod-1-1", "cat", "/etc/resolv.conf")
    assert f"nameserver {tenth}" in resolv.stdout.splitlines(), resolv.stdout
    web_ip = found["default/web"]["spec"]["clusterIP"]
    code, rows = getent(lab, "pod-2-1", "web")
    assert code == 0 and rows and rows[0] == (web_ip, "web.default.svc.cluster.local"), rows
    data = connect(lab, "client", "web:80", "-c", "3")
    assert data["lookup"]["server"] == tenth and data["lookup"]["address"] == web_ip, data["lookup"]
    assert data["ok"] is True, data
    rules = iptables_rules(lab, "node-3")
    assert any(r.startswith(f"-A KUBE-SERVICES -d {tenth}/32 -p udp") and r.endswith("-j KUBE-SVC-TCOU7JCQXEZGVUNU")
               for r in rules), "\n".join(rules)
    assert not any("10.96.0.10" in r for r in rules)


def test_no_dns_gives_no_coredns(make_lab):
    lab = make_lab(lab_name())
    lab.up("--pods-per-node", "1", "--no-dns", "-f", str(WEB_YAML))
    everything = pods(lab)
    assert not [n for n in everything if n.startswith("coredns")], list(everything)
    assert not [n for n, p in everything.items() if p["metadata"]["namespace"] == "kube-system"], list(everything)
    found = services(lab)
    assert "kube-system/kube-dns" not in found and set(found) == {"default/web", "default/web-nodeport"}, found.keys()
    assert not [d for d in get_json(lab, "deployments", "-A")["items"] if d["metadata"]["name"] == "coredns"]
    for node in ("node-1", "node-2", "node-3"):
        rules = iptables_rules(lab, node)
        assert not any("kube-dns" in r or "KUBE-SVC-TCOU7JCQXEZGVUNU" in r for r in rules), node
    # nothing answers at the conventional address: names do not resolve
    data = connect(lab, "client", "web:80")
    assert data["_exit"] == 1 and data["lookup"]["address"] is None and data["answers"] == [], data
    assert data["lookup"]["server"] == "10.96.0.10", data["lookup"]
    # Services still work by address
    web_ip = found["default/web"]["spec"]["clusterIP"]
    data = connect(lab, "client", f"{web_ip}:80", "-c", "3")
    assert data["ok"] is True, data


# -- apply and delete -------------------------------------------------------------------------------------

def _lines(result) -> list[str]:
    return [line for line in result.stdout.splitlines() if not line.startswith("  ")]


def test_apply_and_delete_print_kubectls_lines(make_lab, tmp_path):
    lab = make_lab(lab_name())
    lab.up("--pods-per-node", "0")
    applied = podnet("apply", "--name", lab.name, "-f", str(WEB_YAML))
    assert applied.returncode == 0, explain(applied)
    assert _lines(applied) == ["deployment.apps/web created", "service/web created", "service/web-nodeport created",
                               "pod/client created"], applied.stdout
    created = [line for line in applied.stdout.splitlines() if line.startswith("  ")]
    assert len(created) == 3 and all(re.fullmatch(r"  pod/web-\S+ on node-\d has IP 10\.244\.\d+\.\d+", c)
                                     for c in created), created
    before_pods = {n: p["status"]["podIP"] for n, p in pods(lab).items()}
    before_svcs = services(lab)
    before_rules = {n: iptables_rules(lab, n) for n in ("node-1", "node-2", "node-3")}

    again = podnet("apply", "--name", lab.name, "-f", str(WEB_YAML), "-o", "json")
    assert again.returncode == 0, explain(again)
    report = json.loads(again.stdout)
    assert report["results"] == ["deployment.apps/web unchanged", "service/web unchanged",
                                 "service/web-nodeport unchanged", "pod/client unchanged"], report
    assert report["createdPods"] == {} and report["removedPods"] == {}, report
    assert {n: p["status"]["podIP"] for n, p in pods(lab).items()} == before_pods
    assert services(lab) == before_svcs
    assert {n: iptables_rules(lab, n) for n in before_rules} == before_rules

    text = WEB_YAML.read_text(encoding="utf-8")
    scaled = text.replace("replicas: 3", "replicas: 4")
    assert scaled != text
    result = podnet("apply", "--name", lab.name, "-f", "-", input=scaled)
    assert result.returncode == 0, explain(result)
    assert _lines(result) == ["deployment.apps/web configured", "service/web unchanged",
                              "service/web-nodeport unchanged", "pod/client unchanged"], result.stdout
    assert len([n for n in pods(lab) if n.startswith("web-")]) == 4

    changed = scaled.replace("targetPort: 8081", "targetPort: udp")
    assert changed != scaled
    result = podnet("apply", "--name", lab.name, "-f", "-", input=changed)
    assert result.returncode == 0, explain(result)
    assert _lines(result) == ["deployment.apps/web unchanged", "service/web configured",
                              "service/web-nodeport unchanged", "pod/client unchanged"], result.stdout
    assert services(lab)["default/web"]["spec"]["clusterIP"] == before_svcs["default/web"]["spec"]["clusterIP"]

    gone = podnet("delete", "--name", lab.name, "-f", str(WEB_YAML))
    assert gone.returncode == 0, explain(gone)
    assert gone.stdout.splitlines() == ['deployment.apps "web" deleted', 'service "web" deleted',
                                        'service "web-nodeport" deleted', 'pod "client" deleted'], gone.stdout
    assert set(services(lab)) == {"kube-system/kube-dns"}
    assert not [n for n in pods(lab) if n.startswith("web-") or n == "client"]
    assert not [n for n in lab.namespaces() if n.startswith(f"{lab.name}-web-") or n == lab.ns("client")]
    for node in ("node-1", "node-2", "node-3"):
        assert not any("default/web" in r for r in iptables_rules(lab, node)), node

    missing = podnet("delete", "--name", lab.name, "svc", "web")
    assert_refused(missing, 'services "web" not found')
    missing = podnet("delete", "--name", lab.name, "deployment", "web")
    assert_refused(missing, 'deployments.apps "web" not found')


# -- refused input changes nothing ---------------------------------------------------------------------------

def _service(name: str, spec: str) -> str:
    return f"apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n{spec}"


INVALID = {
    "nodeport-out-of-range": (
        _service("bad", "  type: NodePort\n  selector:\n    app: web\n  ports:\n    - port: 80\n      nodePort: 40000\n"),
        ['The Service "bad" is invalid', "spec.ports[0].nodePort", "Invalid value: 40000",
         "provided port is not in the valid range. The range of valid ports is 30000-32767"]),
    "nodeport-already-allocated": (
        _service("bad", "  type: NodePort\n  selector:\n    app: web\n  ports:\n    - port: 80\n      nodePort: 30080\n"),
        ['The Service "bad" is invalid', "spec.ports[0].nodePort", "30080", "provided port is already allocated"]),
    "cluster-ip-outside-the-range": (
        _service("bad", "  clusterIP: 10.200.0.5\n  selector:\n    app: web\n  ports:\n    - port: 80\n"),
        ['The Service "bad" is invalid', "spec.clusterIP", "10.200.0.5", "not in the valid range", "10.96.0.0/12"]),
    "cluster-ip-changed": (
        _service("web", "  clusterIP: 10.96.0.99\n  selector:\n    app: web\n  ports:\n    - port: 80\n"),
        ['The Service "web" is invalid', "spec.clusterIP", "field is immutable"]),
    "type-loadbalancer": (
        _service("bad", "  type: LoadBalancer\n  selector:\n    app: web\n  ports:\n    - port: 80\n"),
        ['The Service "bad" is invalid', "spec.type", 'Unsupported value: "LoadBalancer"', '"ClusterIP"', '"NodePort"']),
    "selector-mismatch": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: bad\nspec:\n  replicas: 1\n"
        "  selector:\n    matchLabels:\n      app: bad\n  template:\n    metadata:\n      labels:\n"
        "        app: other\n    spec:\n      containers:\n        - name: c\n          image: busybox\n",
        ['The Deployment "bad" is invalid', "spec.template.metadata.labels", "`selector` does not match template `labels`"]),
    "bad-yaml": (
        "apiVersion: v1\nkind: Service\nmetadata: {name: bad\nspec: [\n",
        ["YAML"]),
    "unknown-kind": (
        "apiVersion: v1\nkind: Widget\nmetadata:\n  name: bad\nspec: {}\n",
        ["Widget"]),
    "valid-object-before-an-invalid-one": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: extra\nspec:\n  replicas: 2\n"
        "  selector:\n    matchLabels:\n      app: extra\n  template:\n    metadata:\n      labels:\n"
        "        app: extra\n    spec:\n      containers:\n        - name: c\n          image: busybox\n"
        "          ports:\n            - containerPort: 8080\n---\n"
        + _service("extra", "  type: NodePort\n  selector:\n    app: extra\n  ports:\n    - port: 80\n"
                            "      nodePort: 40000\n"),
        ['The Service "extra" is invalid', "provided port is not in the valid range"]),
}


@pytest.fixture(scope="module")
def invalid_lab():
    if os.geteuid() != 0:
        pytest.skip("root integration tests need root")
    lab = Lab(lab_name())
    try:
        lab.up("--pods-per-node", "0", "-f", str(WEB_YAML))
        yield lab
    finally:
        down = lab.down()
    assert down.returncode == 0, explain(down)


def _everything(lab: Lab) -> dict:
    """Services, Endpoints, Deployments, Pods, every node's iptables and the lab's namespaces
    (read side by side: each is its own process)."""
    from concurrent.futures import ThreadPoolExecutor

    reads = {
        "svc": lambda: get_json(lab, "svc", "-A"),
        "endpoints": lambda: get_json(lab, "endpoints", "-A"),
        "deployments": lambda: get_json(lab, "deployments", "-A"),
        "pods": lambda: {n: (p["spec"]["nodeName"], p["status"]["podIP"]) for n, p in pods(lab).items()},
        "netns": lambda: sorted(lab.namespaces()),
    }
    for node in ("node-1", "node-2", "node-3"):
        reads[f"iptables {node}"] = lambda node=node: iptables_rules(lab, node)
    with ThreadPoolExecutor(max_workers=len(reads)) as pool:
        futures = {key: pool.submit(read) for key, read in reads.items()}
        return {key: future.result() for key, future in futures.items()}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_manifest_is_refused_in_kubernetes_words_and_changes_nothing(invalid_lab, tmp_path, case):
    text, mentions = INVALID[case]
    before = _everything(invalid_lab)
    path = write(tmp_path, f"{case}.yaml", text)
    line = assert_refused(podnet("apply", "--name", invalid_lab.name, "-f", path), *mentions)
    assert "Traceback" not in line
    # the same through stdin
    assert_refused(podnet("apply", "--name", invalid_lab.name, "-f", "-", input=text), *mentions)
    assert _everything(invalid_lab) == before


def test_up_with_an_invalid_manifest_brings_nothing_up(tmp_path):
    lab = Lab(lab_name())
    path = write(tmp_path, "bad.yaml", INVALID["nodeport-out-of-range"][0])
    try:
        result = podnet("up", "-d", "--name", lab.name, "-f", path, timeout=120)
        assert_refused(result, "provided port is not in the valid range")
        assert not [n for n in netns_list() if n.startswith(lab.name + "-")]
        assert not os.path.exists(lab.run_dir)
    finally:
        lab.down()


# -- bring-up with manifests, logs --------------------------------------------------------------------------

def test_up_with_a_manifest_applies_it_at_bring_up(dns_lab, svcs):
    assert {"default/web", "default/web-nodeport", "other/api", "kube-system/kube-dns"} == set(svcs)
    assert [p["nodePort"] for p in svcs["default/web-nodeport"]["spec"]["ports"]] == [30080]
    deployments = {f"{d['metadata']['namespace']}/{d['metadata']['name']}": d
                   for d in get_json(dns_lab, "deployments", "-A")["items"]}
    assert set(deployments) == {"default/web", "other/api", "kube-system/coredns"}, deployments.keys()
    web = deployments["default/web"]
    assert web["spec"]["replicas"] == 3 and web["status"]["readyReplicas"] == 3, web["status"]
    everything = pods(dns_lab)
    web_pods = [n for n, p in everything.items() if p["metadata"].get("labels", {}).get("app") == "web"]
    assert len(web_pods) == 3 and all(everything[n]["status"]["phase"] == "Running" for n in web_pods)
    assert everything["client"]["spec"]["nodeName"] == "node-1"
    table = podnet("get", "deployments", "-A", "--name", dns_lab.name, check=True).stdout.splitlines()
    assert table[0].split() == ["NAMESPACE", "NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"], table
    assert ["default", "web", "3/3", "3", "3"] in [row.split()[:5] for row in table[1:]], table


def test_logs_show_the_echo_servers_lines(dns_lab):
    everything = pods(dns_lab)
    web = sorted(n for n, p in everything.items() if p["metadata"].get("labels", {}).get("app") == "web")
    target = web[0]
    ip = everything[target]["status"]["podIP"]
    client_ip = everything["pod-1-1"]["status"]["podIP"]
    tcp = connect(dns_lab, "pod-1-1", f"{ip}:8080", "--size", "123", "-c", "2")
    udp = connect(dns_lab, "pod-1-1", f"{ip}:8081", "-p", "udp", "--size", "77", "-c", "2")
    assert tcp["ok"] and udp["ok"], (tcp, udp)
    logs = podnet("logs", "--name", dns_lab.name, target, "--tail", "-1")
    assert logs.returncode == 0, explain(logs)
    lines = logs.stdout.splitlines()
    for answer in tcp["answers"]:
        assert any(re.fullmatch(rf"\d\d:\d\d:\d\d tcp/8080 from {re.escape(answer['client'])} 123 bytes", line)
                   for line in lines), (answer["client"], lines[-6:])
        assert answer["client"].startswith(client_ip + ":")
    for answer in udp["answers"]:
        assert any(re.fullmatch(rf"\d\d:\d\d:\d\d udp/8081 from {re.escape(answer['client'])} 77 bytes", line)
                   for line in lines), (answer["client"], lines[-6:])
    assert any("serving" in line and "8080/TCP" in line and "8081/UDP" in line for line in lines), lines[:3]
    last = podnet("logs", "--name", dns_lab.name, target, "--tail", "1")
    assert last.returncode == 0 and last.stdout.splitlines() == lines[-1:], explain(last)
    # another Pod's log has none of it
    other = podnet("logs", "--name", dns_lab.name, web[1], "--tail", "-1")
    assert other.returncode == 0, explain(other)
    assert not any(f"from {a['client']} " in other.stdout for a in tcp["answers"] + udp["answers"]), other.stdout
    coredns = next(n for n in everything if n.startswith("coredns-"))
    dns_logs = podnet("logs", "--name", dns_lab.name, coredns)
    assert dns_logs.returncode == 0 and "serving 53/UDP" in dns_logs.stdout, explain(dns_logs)
    assert_refused(podnet("logs", "--name", dns_lab.name, "no-such-pod"), "no-such-pod")


# -- down --------------------------------------------------------------------------------------------------

def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def test_down_leaves_no_namespace_and_no_server_process(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("root integration tests need root")
    lab = Lab(lab_name())
    other = write(tmp_path, "other.yaml", OTHER)
    try:
        lab.up("--pods-per-node", "1", "-f", str(WEB_YAML), "-f", other)
        with open(os.path.join(lab.run_dir, "state.json"), encoding="utf-8") as handle:
            state = json.load(handle)
        servers = {p["name"]: p["server_pid"] for p in state["pods"] if p.get("server_pid")}
        # coredns, 3 web, 1 api
        assert len(servers) == 5, servers
        assert all(alive(pid) for pid in servers.values()), servers
        for name, pid in servers.items():
            assert f"--pod {name} " in _cmdline(pid), (name, pid, _cmdline(pid))
        names = lab.namespaces()
        inodes = {netns_inode(n) for n in names} - {None}
        assert lab.ns("internet") in names and lab.ns("external") in names, names
        internet = pids_in({netns_inode(lab.ns("internet"))})
        assert internet, "no process serves the emulated Internet"
        in_lab = {p for p in pids_in(inodes) if alive(p)}
        assert set(servers.values()) <= in_lab, (servers, in_lab)
    finally:
        down = lab.down()
    assert down.returncode == 0, explain(down)
    assert not [n for n in netns_list() if n.startswith(lab.name + "-")]
    assert not os.path.exists(lab.run_dir)
    deadline = time.monotonic() + 2  # an exiting process may take a moment to be reaped
    while time.monotonic() < deadline and any(alive(p) for p in in_lab):
        time.sleep(0.05)
    left = {p: _cmdline(p) for p in in_lab if alive(p)}
    assert not left, f"processes of lab {lab.name} outlived podnet down: {left}"
    assert not {p for p in pids_in(inodes) if alive(p)}
    for name in servers:
        mentions = [pid for pid in map(int, filter(str.isdigit, os.listdir("/proc")))
                    if f"--pod {name} " in _cmdline(pid) and alive(pid)]
        assert not mentions, (name, mentions)
    again = lab.down()
    assert again.returncode == 0, explain(again)
