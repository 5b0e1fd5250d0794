"""DNS and echo on the wire, without sockets: the client's query/answer helpers
(podnet.workloads.client) against the server's (podnet.k8s.images.server)."""

from __future__ import annotations

import json
import os
import struct

import pytest

from podnet.core.errors import InputError
from podnet.lab.initial import initial_state
from podnet.core.spec import build_spec
from podnet.k8s.dns import addons
from podnet.probes import client
from podnet.k8s.images import server
from podnet.probes.client import NDOTS, candidates, check_target, dns_query, parse_answer
from podnet.k8s.images.server import (
    TYPE_AAAA,
    Zone,
    answer_dns,
    dns_reply,
    http_answer,
    identity,
    parse_question,
    request_complete,
)

QR, AA, RD, RA = 0x8000, 0x0400, 0x0100, 0x0080


def header(packet: bytes) -> tuple[int, int, int, int, int, int]:
    return struct.unpack("!HHHHHH", packet[:12])


def with_qtype(query: bytes, qtype: int) -> bytes:
    return query[:-4] + struct.pack("!HH", qtype, 1)


def zone_file(tmp_path, records, domain="cluster.local", name="zone.json"):
    path = tmp_path / name
    path.write_text(json.dumps({"domain": domain, "records": records}))
    return str(path)


@pytest.fixture
def zone(tmp_path):
    return Zone(zone_file(tmp_path, {"web.default.svc.cluster.local.": ["10.96.0.50"],
                                     "multi.default.svc.cluster.local.": ["10.96.0.51", "10.96.0.52"]}), [])


# --- the query -----------------------------------------------------------------------------------


def test_query_layout():
    query = dns_query("web.default.svc.cluster.local.", 0x1234)
    assert header(query) == (0x1234, RD, 1, 0, 0, 0)
    assert query[12:] == (b"\x03web\x07default\x03svc\x07cluster\x05local\x00" + struct.pack("!HH", 1, 1))


def test_query_roundtrips_through_the_server_parser():
    query = dns_query("Web.Default.svc.cluster.local", 7)
    ident, flags, name, qtype, qclass, end = parse_question(query)
    assert (ident, flags, name, qtype, qclass, end) == (7, RD, "web.default.svc.cluster.local.", 1, 1, len(query))


def test_parse_question_refuses_odd_packets():
    query = dns_query("web", 1)
    two = query[:4] + struct.pack("!H", 2) + query[6:]
    with pytest.raises(ValueError, match="one question expected"):
        parse_question(two)
    compressed = query[:12] + b"\xc0\x0c" + struct.pack("!HH", 1, 1)
    with pytest.raises(ValueError, match="compressed"):
        parse_question(compressed)


# --- answers -------------------------------------------------------------------------------------


def test_a_answer_roundtrip(zone):
    query = dns_query("web.default.svc.cluster.local.", 4242)
    reply = answer_dns(zone, None, query)
    ident, flags, qd, an, ns, ar = header(reply)
    assert (ident, qd, an, ns, ar) == (4242, 1, 1, 0, 0)
    assert flags & QR and flags & AA and flags & RD and flags & RA
    assert flags & 0xF == 0
    assert parse_answer(reply, 4242) == (0, ["10.96.0.50"])
    # the question is echoed back as it was asked
    assert reply[12:len(query)] == query[12:]


def test_several_addresses_in_one_answer(zone):
    reply = answer_dns(zone, None, dns_query("multi.default.svc.cluster.local", 9))
    assert parse_answer(reply, 9) == (0, ["10.96.0.51", "10.96.0.52"])


def test_names_are_case_insensitive(zone):
    reply = answer_dns(zone, None, dns_query("WEB.Default.SVC.cluster.local", 3))
    assert parse_answer(reply, 3) == (0, ["10.96.0.50"])


def test_nxdomain_inside_the_cluster_domain(zone):
    reply = answer_dns(zone, None, dns_query("nope.default.svc.cluster.local", 11))
    _ident, flags, _qd, an, _ns, _ar = header(reply)
    assert an == 0 and flags & AA
    assert parse_answer(reply, 11) == (3, [])


def test_aaaa_for_a_known_name_is_nodata(zone):
    query = with_qtype(dns_query("web.default.svc.cluster.local", 12), TYPE_AAAA)
    reply = answer_dns(zone, None, query)
    assert header(reply)[3] == 0
    assert parse_answer(reply, 12) == (0, [])  # NOERROR, no records: NODATA, not NXDOMAIN
    # and for an unknown name in the domain it is still NXDOMAIN
    query = with_qtype(dns_query("nope.default.svc.cluster.local", 13), TYPE_AAAA)
    assert parse_answer(answer_dns(zone, None, query), 13) == (3, [])


def test_dns_reply_puts_a_records_only_in_answers_to_a_queries():
    query = with_qtype(dns_query("web.default.svc.cluster.local", 17), TYPE_AAAA)
    reply = dns_reply(query, 0, ["10.96.0.50"])
    assert header(reply)[3] == 0 and len(reply) == len(query)


def test_other_names_are_forwarded_or_servfail_without_upstream(zone):
    reply = answer_dns(zone, None, dns_query("example.com", 14))
    _ident, flags, *_ = header(reply)
    assert parse_answer(reply, 14) == (2, [])
    assert not flags & AA


def test_answer_to_another_query_is_refused(zone):
    reply = answer_dns(zone, None, dns_query("web.default.svc.cluster.local", 15))
    with pytest.raises(ValueError):
        parse_answer(reply, 16)


def test_garbage_gets_no_answer(zone):
    assert answer_dns(zone, None, b"\x00\x01") is None
    assert answer_dns(zone, None, b"") is None


def test_dns_reply_without_recursion_desired_does_not_set_it():
    query = dns_query("a.cluster.local", 1)
    query = query[:2] + struct.pack("!H", 0) + query[4:]
    flags = header(dns_reply(query, 0, ["1.2.3.4"]))[1]
    assert not flags & RD and flags & QR


# --- the zone ------------------------------------------------------------------------------------


def test_zone_from_the_lab_state_answers_service_names(tmp_path):
    state = initial_state(build_spec(nodes=[("node-1", "control-plane")], pods=[]))
    from podnet.k8s.workloads.apply import apply_objects

    state, _ = apply_objects(state, addons.dns_objects(state))
    path = tmp_path / "zone.json"
    path.write_text(json.dumps(addons.zone(state)))
    zone = Zone(str(path), [])
    reply = answer_dns(zone, None, dns_query("kube-dns.kube-system.svc.cluster.local", 21))
    assert parse_answer(reply, 21) == (0, ["10.96.0.10"])


def test_zone_reloads_when_the_file_changes(tmp_path):
    path = zone_file(tmp_path, {"web.default.svc.cluster.local.": ["10.96.0.50"]})
    zone = Zone(path, [])
    assert zone.lookup("web.default.svc.cluster.local.") == ("answer", ["10.96.0.50"])
    zone_file(tmp_path, {"api.default.svc.cluster.local.": ["10.96.0.60"]})
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert zone.lookup("web.default.svc.cluster.local.") == ("nxdomain", [])
    assert zone.lookup("api.default.svc.cluster.local.") == ("answer", ["10.96.0.60"])


def test_zone_keeps_old_records_when_the_file_is_unreadable(tmp_path):
    path = zone_file(tmp_path, {"web.default.svc.cluster.local.": ["10.96.0.50"]})
    zone = Zone(path, [])
    assert zone.lookup("web.default.svc.cluster.local.")[0] == "answer"
    with open(path, "w") as handle:
        handle.write("{not json")
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert zone.lookup("web.default.svc.cluster.local.") == ("answer", ["10.96.0.50"])


def test_zone_file_missing_forwards_everything(tmp_path):
    zone = Zone(str(tmp_path / "missing.json"), [])
    assert zone.lookup("web.default.svc.cluster.local.") == ("forward", [])


def test_zone_domain_defaults_to_cluster_local(tmp_path):
    path = tmp_path / "zone.json"
    path.write_text(json.dumps({"records": {}}))
    zone = Zone(str(path), [])
    assert zone.lookup("x.cluster.local.") == ("nxdomain", [])
    assert zone.lookup("cluster.local.") == ("nxdomain", [])
    assert zone.lookup("notcluster.local.") == ("forward", [])


def test_static_names_and_authoritative_only_server():
    upstream = Zone(None, ["Example.COM=93.184.216.34", "example.com.=93.184.216.35", "dns.google=8.8.8.8"])
    assert upstream.lookup("example.com.") == ("answer", ["93.184.216.34", "93.184.216.35"])
    assert upstream.lookup("other.org.") == ("nxdomain", [])
    reply = answer_dns(upstream, None, dns_query("dns.google", 30))
    assert parse_answer(reply, 30) == (0, ["8.8.8.8"])


def test_static_names_win_over_the_zone_and_others_still_forward(tmp_path):
    zone = Zone(zone_file(tmp_path, {"web.default.svc.cluster.local.": ["10.96.0.50"]}),
                ["web.default.svc.cluster.local=10.96.0.99", "internet.example=203.0.113.1"])
    assert zone.lookup("web.default.svc.cluster.local.") == ("answer", ["10.96.0.99"])
    assert zone.lookup("example.org.") == ("forward", [])


# --- the search path -----------------------------------------------------------------------------


def test_short_name_tries_the_search_path_first():
    assert NDOTS == 5
    assert candidates("web", "default") == ["web.default.svc.cluster.local.", "web.svc.cluster.local.",
                                            "web.cluster.local.", "web."]


def test_fewer_than_five_dots_still_search_first():
    assert candidates("db.prod", "default") == ["db.prod.default.svc.cluster.local.", "db.prod.svc.cluster.local.",
                                                "db.prod.cluster.local.", "db.prod."]
    assert candidates("web.default.svc.cluster", "default")[0] == "web.default.svc.cluster.default.svc.cluster.local."
    assert candidates("web.default.svc.cluster", "default")[-1] == "web.default.svc.cluster."


def test_five_dots_or_more_try_the_name_as_is_first():
    name = "a.b.c.d.e.f"
    assert candidates(name, "default") == ["a.b.c.d.e.f.", "a.b.c.d.e.f.default.svc.cluster.local.",
                                           "a.b.c.d.e.f.svc.cluster.local.", "a.b.c.d.e.f.cluster.local."]


def test_absolute_names_and_no_namespace():
    assert candidates("web.default.svc.cluster.local.", "default") == ["web.default.svc.cluster.local."]
    assert candidates("web", None) == ["web."]


def test_search_expansion_is_answered_by_the_zone(zone):
    verdicts = [zone.lookup(name)[0] for name in candidates("web", "default")]
    assert verdicts == ["answer", "nxdomain", "nxdomain", "forward"]


# --- client target and answers -------------------------------------------------------------------


def test_check_target():
    assert check_target("web:80", None) == ("web", 80)
    assert check_target("web", 8080) == ("web", 8080)
    assert check_target("web.prod.svc.cluster.local:53", 80) == ("web.prod.svc.cluster.local", 53)
    assert check_target("10.96.0.10:53", None) == ("10.96.0.10", 53)


TAIL = " (ASCII letters, digits, '-' and '.', labels of 1 to 63 characters)"


@pytest.mark.parametrize("target, port, message", [
    ("web", None, "invalid target: 'web': give a port: HOST:PORT or --port"),
    ("web:0", None, "invalid port: '0': must be a number from 1 to 65535"),
    ("web:http", None, "invalid port: 'http': must be a number from 1 to 65535"),
    ("web:70000", None, "invalid port: '70000': must be a number from 1 to 65535"),
    (":80", None, "invalid target: '': must be an IPv4 address, a node or Pod name, or a DNS name (ASCII letters, digits, '-' and '.', labels of 1 to 63 characters)"),
    ("we b:80", None, "invalid target: 'we b': must be an IPv4 address, a node or Pod name, or a DNS name (ASCII letters, digits, '-' and '.', labels of 1 to 63 characters)"),
    ("wéb:80", None, "invalid target: 'wéb': must be an IPv4 address, a node or Pod name, or a DNS name" + TAIL),
    ("a" * 64 + ".example:80", None, f"invalid target: '{'a' * 64}.example': must be an IPv4 address, a node or Pod name, "
     "or a DNS name" + TAIL),
    ("web:١٢", None, "invalid port: '١٢': must be a number from 1 to 65535"),
    ("web;rm:80", None, "invalid target: 'web;rm': must be an IPv4 address, a node or Pod name, or a DNS name (ASCII letters, digits, '-' and '.', labels of 1 to 63 characters)"),
])
def test_check_target_errors(target, port, message):
    with pytest.raises(InputError) as info:
        check_target(target, port)
    assert str(info.value) == message


def echo_args(**kw):
    return server.parse_args(["--pod", kw.get("pod", "web-a"), "--namespace", "default", "--node", "node-2",
                              "--ip", "10.244.1.2", "--echo", "8080/TCP"])


def test_echo_identity_parsed_by_the_client():
    args = echo_args()
    reply = (json.dumps(identity(args, 8080, "udp", ("10.244.0.2", 40000), b"podnet-request 1 xx\n")) + "\n").encode()
    answer = client._parse(1, reply)
    assert (answer.status, answer.pod, answer.pod_ip, answer.node) == ("ok", "web-a", "10.244.1.2", "node-2")
    assert (answer.client, answer.port, answer.received) == ("10.244.0.2:40000", 8080, 20)


def test_identity_fields_and_binary_payload():
    args = echo_args()
    data = identity(args, 8080, "tcp", ("10.244.0.2", 40000), b"hello\n")
    assert data == {"pod": "web-a", "namespace": "default", "node": "node-2", "podIP": "10.244.1.2", "port": 8080,
                    "protocol": "tcp", "client": "10.244.0.2:40000", "received": 6, "echo": "hello"}
    assert "echo" not in identity(args, 8080, "tcp", ("10.244.0.2", 1), b"\xff\xfe")


def test_client_parses_http_bodies_and_refuses_junk():
    args = echo_args()
    response = http_answer(args, 8080, ("10.244.0.2", 40000), b"GET / HTTP/1.1\r\nHost: web\r\n\r\n")
    answer = client._parse(2, response)
    assert (answer.status, answer.pod, answer.client) == ("ok", "web-a", "10.244.0.2:40000")
    junk = client._parse(3, b"SSH-2.0-OpenSSH\r\n")
    assert junk.status == "error" and junk.detail.startswith("not an echo server answer: ")
    assert client._parse(4, b"").status == "error"
    assert client._parse(5, b"[1, 2]\n").status == "error"


# --- the echo server's HTTP side -----------------------------------------------------------------


def split_http(response: bytes) -> tuple[str, dict, bytes]:
    head, body = response.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return lines[0], headers, body


@pytest.mark.parametrize("request_line, status, body", [
    ("GET /hostname HTTP/1.1", "HTTP/1.1 200 OK", b"web-a\n"),
    ("GET /clientip HTTP/1.1", "HTTP/1.1 200 OK", b"10.244.0.2:40000\n"),
    ("GET /echo?msg=hello%20there HTTP/1.1", "HTTP/1.1 200 OK", b"hello there\n"),
    ("GET /echo HTTP/1.1", "HTTP/1.1 200 OK", b"\n"),
    ("GET /missing HTTP/1.1", "HTTP/1.1 404 Not Found", b"404 page not found: /missing\n"),
])
def test_http_paths(request_line, status, body):
    response = http_answer(echo_args(), 8080, ("10.244.0.2", 40000), f"{request_line}\r\nHost: x\r\n\r\n".encode())
    first, headers, payload = split_http(response)
    assert first == status
    assert payload == body
    assert headers["Content-Length"] == str(len(payload))
    assert headers["Connection"] == "close"


def test_http_root_and_healthz_are_the_identity():
    for path in ("/", "/healthz"):
        _, _, payload = split_http(http_answer(echo_args(), 8080, ("10.244.0.2", 1), f"GET {path} HTTP/1.1\r\n\r\n".encode()))
        data = json.loads(payload)
        assert (data["pod"], data["port"], data["protocol"], data["client"]) == ("web-a", 8080, "tcp", "10.244.0.2:1")


def test_request_complete():
    assert not request_complete(b"GET / HTTP/1.1\r\nHost: x\r\n")
    assert request_complete(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert request_complete(b"HEAD / HTTP/1.0\n\n")
    assert not request_complete(b"podnet-request 1 xxx")
    assert request_complete(b"podnet-request 1 xxx\n")
    assert not request_complete(b"")


def test_client_payload_is_exactly_the_requested_size_and_complete():
    for size in (1, 20, 2000):
        payload = client._payload(3, size)
        assert len(payload) == size and request_complete(payload)
    assert client._payload(3, 2000).startswith(b"podnet-request 3 ")
