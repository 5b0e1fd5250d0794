"""``podnet trace`` logic without a kernel: targets, the four kinds, and where rewrites happen
(podnet.trace with fake podnet.probes.verdict.Sighting lists)."""

from __future__ import annotations

import pytest

from podnet.probes import trace
from podnet.core.errors import InputError
from podnet.core.model import RUNNING
from podnet.lab.initial import initial_state
from podnet.probes.verdict import ProbeSpec, Sighting, judge
from podnet.k8s.kube_proxy.proxier import render, sep_chain, svc_chain
from podnet.core.spec import build_spec
from podnet.k8s.dns import addons
from podnet.k8s.workloads.apply import apply_objects
from podnet.k8s.workloads.manifests import parse_documents

NODES = [("node-1", "control-plane"), ("node-2", "worker"), ("node-3", "worker")]
NODE_IP = {"node-1": "192.168.77.11", "node-2": "192.168.77.12", "node-3": "192.168.77.13"}


def make_state(**spec_kwargs):
    state = initial_state(build_spec(nodes=NODES, pods=[("client", "node-1"), ("idle", "node-1")], **spec_kwargs))
    state, _ = apply_objects(state, addons.dns_objects(state))
    docs = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-a", "labels": {"app": "web"}},
         "spec": {"nodeName": "node-2", "containers": [{"name": "c", "ports": [{"containerPort": 8080}]}]}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-b", "labels": {"app": "web"}},
         "spec": {"nodeName": "node-3", "containers": [{"name": "c", "ports": [{"containerPort": 8080}]}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
         "spec": {"type": "NodePort", "selector": {"app": "web"},
                  "ports": [{"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30080},
                            {"name": "echo", "port": 7, "targetPort": 8080, "protocol": "UDP", "nodePort": 30007}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db", "namespace": "prod"},
         "spec": {"selector": {"app": "db"}, "ports": [{"port": 5432}]}},
    ]
    state, _ = apply_objects(state, parse_documents(docs))
    ips = {"client": "10.244.0.2", "web-a": "10.244.1.2", "web-b": "10.244.2.2"}
    for pod in state.pods.values():
        if pod.name in ips:
            pod.phase, pod.ip = RUNNING, ips[pod.name]
        elif pod.role == "dns":
            pod.phase, pod.ip = RUNNING, "10.244.0.3"
    # "idle" stays Pending without an IP
    return state


@pytest.fixture
def state():
    return make_state()


def sighting(name, kind, iface, direction, src, dst, sport=None, dport=None, local=False, ttl=64):
    return Sighting(f"podnet-{name}", name, kind, iface, direction, local, src, dst, sport, dport, ttl)


# --- resolve_target ------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["web", "web:80", "default/web", "web.default", "web.default.svc",
                                  "web.default.svc.cluster.local", "web.default.svc.cluster.local.:80"])
def test_service_names_resolve_to_the_cluster_ip(state, text):
    target = trace.resolve_target(state, text, None)
    svc = state.services["default/web"]
    assert (target.address, target.port, target.protocol) == (svc.cluster_ip, 80, "tcp")
    assert (target.service, target.service_port, target.via) == ("default/web", "default/web:http", "clusterIP")


def test_service_port_and_protocol_choose_the_service_port(state):
    target = trace.resolve_target(state, "web:7", None)
    assert (target.port, target.protocol, target.service_port) == (7, "udp", "default/web:echo")
    target = trace.resolve_target(state, "web", "udp")
    assert (target.port, target.service_port) == (7, "default/web:echo")
    with pytest.raises(InputError) as info:
        trace.resolve_target(state, "web:81", None)
    assert str(info.value) == "invalid port: 81: Service default/web has ports 80/TCP, 7/UDP"
    with pytest.raises(InputError):
        trace.resolve_target(state, "web:80", "udp")


def test_service_in_another_namespace(state):
    for text in ("prod/db", "db.prod", "db.prod.svc.cluster.local"):
        target = trace.resolve_target(state, text, None)
        assert target.service == "prod/db" and target.address == state.services["prod/db"].cluster_ip
    dns = trace.resolve_target(state, "kube-dns.kube-system:53", None)
    assert (dns.address, dns.protocol, dns.service_port) == ("10.96.0.10", "udp", "kube-system/kube-dns:dns")
    # a short name is looked up in default only
    with pytest.raises(InputError):
        trace.resolve_target(state, "db", None)


def test_pods_nodes_and_addresses(state):
    pod = trace.resolve_target(state, "web-a:8080", None)
    assert (pod.address, pod.port, pod.protocol, pod.via, pod.service) == ("10.244.1.2", 8080, "tcp", "pod", None)
    icmp = trace.resolve_target(state, "web-a", None)
    assert (icmp.port, icmp.protocol) == (None, "icmp")
    node = trace.resolve_target(state, "node-2", None)
    assert (node.address, node.via) == ("192.168.77.12", "node")
    address = trace.resolve_target(state, "8.8.8.8:53", "udp")
    assert (address.address, address.port, address.protocol, address.via) == ("8.8.8.8", 53, "udp", "address")


def test_node_ip_and_node_port_is_a_node_port_target(state):
    for text in ("node-3:30080", "192.168.77.13:30080"):
        target = trace.resolve_target(state, text, None)
        assert (target.address, target.port, target.protocol) == ("192.168.77.13", 30080, "tcp")
        assert (target.service, target.service_port, target.via) == ("default/web", "default/web:http", "nodePort")
    udp = trace.resolve_target(state, "node-1:30007", None)
    assert (udp.protocol, udp.service_port, udp.via) == ("udp", "default/web:echo", "nodePort")
    # another port on a node is just the node; a NodePort on a non-node address is just the address
    assert trace.resolve_target(state, "node-1:22", None).via == "node"
    assert trace.resolve_target(state, "8.8.8.8:30080", None).via == "address"


@pytest.mark.parametrize("text, message", [
    ("web:0", "invalid port: '0': must be a number from 1 to 65535"),
    ("web:65536", "invalid port: '65536': must be a number from 1 to 65535"),
    ("web-a:http", "invalid port: 'http': must be a number from 1 to 65535"),
    ("no_such", "invalid destination: 'no_such': must be a Pod, node or Service name, internet, or an IPv4 address"),
    ("idle", "invalid destination: 'idle': that Pod has no IP (it is not Running)"),
    ("internet", "invalid destination: 'internet': must be a Pod, node or Service name, internet, or an IPv4 address"),
])
def test_bad_destinations(state, text, message):
    with pytest.raises(InputError) as info:
        trace.resolve_target(state, text, None)
    assert str(info.value) == message


# --- classify ------------------------------------------------------------------------------------


def kind_of(state, source, text, protocol=None):
    return trace.classify(state, source, trace.resolve_target(state, text, protocol))


def test_the_four_kinds(state):
    assert kind_of(state, "client", "web-a:8080") == trace.POD_TO_POD == "Pod-to-Pod"
    assert kind_of(state, "client", "web:80") == trace.POD_TO_SERVICE == "Pod-to-Service"
    assert kind_of(state, "external", "node-2:30080") == trace.EXTERNAL_TO_SERVICE == "External-to-Service"
    assert kind_of(state, "client", "8.8.8.8:53") == trace.POD_TO_EXTERNAL == "Pod-to-external"


def test_other_sources_and_destinations(state):
    assert kind_of(state, "internet", "192.168.77.11:30080") == trace.EXTERNAL_TO_SERVICE
    assert kind_of(state, "client", "node-2:30080") == trace.POD_TO_SERVICE  # a Pod using a NodePort
    assert kind_of(state, "node-1", "node-2:30080") == "node-to-Service"
    assert kind_of(state, "node-1", "web:80") == "node-to-Service"
    assert kind_of(state, "node-1", "web-b") == "node-to-Pod"
    assert kind_of(state, "client", "node-3") == "Pod-to-node"
    assert kind_of(state, "node-1", "node-3") == "node-to-node"
    assert kind_of(state, "external", "web:80") == "other"
    assert kind_of(state, "external", "web-a:8080") == "other"
    assert kind_of(state, "node-1", "8.8.8.8") == "other"
    # a private address outside the cluster is not egress that ip-masq-agent rewrites
    assert kind_of(state, "client", "192.168.1.1") == "other"
    # an unused address of the cluster CIDR is still Pod-to-Pod
    assert kind_of(state, "client", "10.244.2.99") == trace.POD_TO_POD


def test_egress_to_a_non_rfc1918_cluster_cidr_stays_pod_to_pod():
    state = make_state(cluster_cidr="100.64.0.0/16")
    assert kind_of(state, "client", "100.64.5.5") == trace.POD_TO_POD
    assert kind_of(state, "client", "100.65.0.1") == trace.POD_TO_EXTERNAL


def test_a_cluster_ip_given_as_an_address_is_pod_to_service(state):
    target = trace.resolve_target(state, "10.96.0.10:53", "udp")
    assert target.service == "kube-system/kube-dns"
    assert trace.classify(state, "client", target) == trace.POD_TO_SERVICE


# --- annotate ------------------------------------------------------------------------------------


def pod_to_service_path(state):
    cluster_ip = state.services["default/web"].cluster_ip
    return [
        sighting("client", "pod", "eth0", "out", "10.244.0.2", cluster_ip, 40000, 80),
        sighting("node-1", "node", "veth1234", "in", "10.244.0.2", cluster_ip, 40000, 80),
        sighting("node-1", "node", "eth0", "out", "10.244.0.2", "10.244.1.2", 40000, 8080),
        sighting("node-2", "node", "eth0", "in", "10.244.0.2", "10.244.1.2", 40000, 8080, ttl=63),
        sighting("web-a", "pod", "eth0", "in", "10.244.0.2", "10.244.1.2", 40000, 8080, local=True, ttl=62),
    ]


def test_pod_to_service_dnat_is_named_at_the_first_hop_that_shows_it(state):
    target = trace.resolve_target(state, "web:80", None)
    path = pod_to_service_path(state)
    hops, rewrites = trace.annotate(state, target, path)
    assert [h.index for h in hops] == [1, 2, 3, 4, 5]
    assert [h.rewrite for h in hops[:2]] == [[], []]
    assert hops[3].rewrite == [] and hops[4].rewrite == []
    chain = svc_chain("default/web:http", "TCP")
    sep = sep_chain("default/web:http", "TCP", "10.244.1.2:8080")
    cluster_ip = state.services["default/web"].cluster_ip
    assert hops[2].rewrite == [f"DNAT {cluster_ip}:80 -> 10.244.1.2:8080 by kube-proxy (KUBE-SERVICES -> {chain} "
                               f"-> {sep})"]
    assert rewrites == [f"at node-1 (seen out on eth0): {hops[2].rewrite[0]}"]
    assert (hops[0].src, hops[0].dst) == ("10.244.0.2:40000", f"{cluster_ip}:80")
    assert (hops[2].where, hops[2].kind, hops[2].iface, hops[2].direction) == ("node-1", "node", "eth0", "out")
    # the chains named are the ones kube-proxy's render really has
    rendered = render(state)
    assert chain in rendered.nat_chains and sep in rendered.nat_chains


def test_external_to_service_dnat_and_snat_at_the_same_hop(state):
    target = trace.resolve_target(state, "node-2:30080", None)
    path = [
        sighting("external", "node", "eth0", "out", "192.168.77.3", "192.168.77.12", 50000, 30080),
        sighting("node-2", "node", "eth0", "in", "192.168.77.3", "192.168.77.12", 50000, 30080),
        sighting("node-2", "node", "eth0", "out", "192.168.77.12", "10.244.2.2", 61000, 8080),
        sighting("web-b", "pod", "eth0", "in", "192.168.77.12", "10.244.2.2", 61000, 8080, local=True, ttl=62),
    ]
    hops, rewrites = trace.annotate(state, target, path)
    assert hops[1].rewrite == [] and hops[3].rewrite == []
    chain = svc_chain("default/web:http", "TCP")
    sep = sep_chain("default/web:http", "TCP", "10.244.2.2:8080")
    assert hops[2].rewrite == [
        f"DNAT 192.168.77.12:30080 -> 10.244.2.2:8080 by kube-proxy (KUBE-NODEPORTS -> KUBE-EXT -> {chain} -> {sep})",
        "SNAT 192.168.77.3:50000 -> 192.168.77.12:61000 by kube-proxy (KUBE-MARK-MASQ, then KUBE-POSTROUTING "
        "MASQUERADE to the outgoing interface's address)",
    ]
    assert len(rewrites) == 2 and all(r.startswith("at node-2 (seen out on eth0): ") for r in rewrites)


def test_pod_to_external_snat_by_ip_masq_agent(state):
    target = trace.resolve_target(state, "8.8.8.8:53", "udp")
    path = [
        sighting("client", "pod", "eth0", "out", "10.244.0.2", "8.8.8.8", 41000, 53),
        sighting("node-1", "node", "cni0", "in", "10.244.0.2", "8.8.8.8", 41000, 53),
        sighting("node-1", "node", "eth1", "out", "203.0.113.11", "8.8.8.8", 41000, 53),
        sighting("internet", "node", "eth0", "in", "203.0.113.11", "8.8.8.8", 41000, 53, local=True),
    ]
    hops, rewrites = trace.annotate(state, target, path)
    assert hops[2].rewrite == ["SNAT 10.244.0.2:41000 -> 203.0.113.11:41000 by ip-masq-agent (IP-MASQ-AGENT "
                               "MASQUERADE: the destination is outside the non-masquerade CIDRs)"]
    assert [h.rewrite for h in (hops[0], hops[1], hops[3])] == [[], [], []]
    assert rewrites == [f"at node-1 (seen out on eth1): {hops[2].rewrite[0]}"]


def test_snat_without_ip_masq_agent_is_called_out():
    state = make_state(ip_masq_agent=False)
    target = trace.resolve_target(state, "8.8.8.8", None)
    path = [sighting("client", "pod", "eth0", "out", "10.244.0.2", "8.8.8.8"),
            sighting("node-1", "node", "eth1", "out", "203.0.113.11", "8.8.8.8")]
    hops, _ = trace.annotate(state, target, path)
    assert hops[1].rewrite == ["SNAT 10.244.0.2 -> 203.0.113.11 by a MASQUERADE/SNAT rule that is neither "
                               "kube-proxy's nor ip-masq-agent's (this breaks the no-NAT rule)"]


def test_unexpected_dnat_on_pod_traffic_is_not_blamed_on_kube_proxy(state):
    target = trace.resolve_target(state, "web-a:8080", None)
    path = [sighting("client", "pod", "eth0", "out", "10.244.0.2", "10.244.1.2", 40000, 8080),
            sighting("node-1", "node", "eth0", "out", "10.244.0.2", "10.244.2.2", 40000, 8080)]
    hops, _ = trace.annotate(state, target, path)
    assert hops[1].rewrite == ["DNAT 10.244.1.2:8080 -> 10.244.2.2:8080 by a DNAT rule that is not kube-proxy's"]


def test_pod_to_pod_path_has_no_rewrites(state):
    target = trace.resolve_target(state, "web-b", None)
    path = [sighting("client", "pod", "eth0", "out", "10.244.0.2", "10.244.2.2"),
            sighting("node-1", "node", "eth0", "out", "10.244.0.2", "10.244.2.2", ttl=63),
            sighting("web-b", "pod", "eth0", "in", "10.244.0.2", "10.244.2.2", local=True, ttl=62)]
    hops, rewrites = trace.annotate(state, target, path)
    assert rewrites == [] and all(h.rewrite == [] for h in hops)
    assert (hops[0].src, hops[0].dst) == ("10.244.0.2", "10.244.2.2")  # ICMP: no ports shown
    assert trace.annotate(state, target, []) == ([], [])


# --- build ---------------------------------------------------------------------------------------


def probe_spec(destination, proto="tcp", port=80, sport=40000):
    return ProbeSpec("client", "10.244.0.2", destination, proto, port, sport, 1, "tok", 1.0)


def test_build_reached_pod_to_service(state):
    target = trace.resolve_target(state, "web:80", None)
    verdict = judge(probe_spec(target.address), pod_to_service_path(state), "ok", 0.5)
    result = trace.build(state, "client", target, verdict)
    assert result.kind == trace.POD_TO_SERVICE and result.explanation == trace.EXPLAIN[trace.POD_TO_SERVICE]
    assert (result.status, result.receiver) == ("reached", "web-a")
    assert result.summary == (f"Pod-to-Service: client -> {target.address}:80 (Service default/web): reached web-a; "
                              "destination rewritten (DNAT); source unchanged (no SNAT)")
    assert len(result.hops) == 5 and len(result.rewrites) == 1
    data = result.to_json()
    assert data["target"]["service"] == "default/web" and data["hops"][2]["rewrite"] == result.hops[2].rewrite


def test_build_unreachable(state):
    target = trace.resolve_target(state, "web:80", None)
    path = pod_to_service_path(state)[:2]
    verdict = judge(probe_spec(target.address), path, None, None)
    result = trace.build(state, "client", target, verdict)
    assert result.status == "unreachable" and result.receiver is None
    assert result.summary.startswith(f"Pod-to-Service: client -> {target.address}:80 (Service default/web): "
                                     "UNREACHABLE: no namespace of the lab received it within 1s; last seen in node-1")


def test_every_kind_has_an_explanation():
    for kind in (trace.POD_TO_POD, trace.POD_TO_SERVICE, trace.EXTERNAL_TO_SERVICE, trace.POD_TO_EXTERNAL,
                 "node-to-Pod", "node-to-Service", "Pod-to-node", "node-to-node", "other"):
        assert trace.EXPLAIN[kind]
