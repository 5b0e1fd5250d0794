"""``podnet web`` over HTTP, on a real lab: what it serves and to whom, the live feed following
changes made from a terminal, actions refused or run, captures downloaded, and the command
line's bad input. The page itself, in a real browser, is tests/web/test_browser.py."""

from __future__ import annotations

import os
import re
import secrets
import socket
import threading

import pytest

from tests.support.labs import Lab
from tests.support.processes import TOPOLOGIES, explain, podnet
from tests.support.webserver import WebServer

pytestmark = [pytest.mark.root, pytest.mark.xdist_group("web-server")]


@pytest.fixture(scope="module")
def weblab():
    if os.geteuid() != 0:
        pytest.skip("root integration tests need root")
    lab = Lab(f"ws-{secrets.token_hex(3)}")
    try:
        lab.up("--nodes", "2", "--pods-per-node", "1", "-f", str(TOPOLOGIES / "workloads" / "web.yaml"))
        yield lab
    finally:
        lab.down()


@pytest.fixture(scope="module")
def readonly(weblab):
    server = WebServer(weblab.name)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def acting(weblab):
    server = WebServer(weblab.name, "--allow-actions")
    yield server
    server.stop()


def test_it_serves_the_page_and_the_picture_on_loopback(weblab, readonly):
    assert readonly.info["listen"] == "127.0.0.1" and readonly.url.startswith("http://127.0.0.1:")
    status, headers, body = readonly.request("/")
    assert status == 200 and body.lower().startswith(b"<!doctype html")
    assert "script-src 'self'" in headers["Content-Security-Policy"] and headers["X-Content-Type-Options"] == "nosniff"
    status, data = readonly.json("/api/picture")
    pods = {p["name"]: p["ip"] for p in data["picture"]["pods"] if not p["system"]}
    assert status == 200 and pods == {n: p["status"]["podIP"] for n, p in weblab.pods().items()}
    assert readonly.json("/api/info")[1] == {"lab": weblab.name, "allowActions": False, "course": None, "gone": False}


def test_static_files_stay_inside_the_package(readonly):
    assert readonly.request("/static/../server.py")[0] in (403, 404)
    assert readonly.request("/static/%2e%2e/server.py")[0] in (403, 404)
    assert readonly.request("/api/captures/..%2fserver.py")[0] == 404


def test_a_host_header_other_than_its_own_address_is_refused(readonly):
    answer = readonly.raw_get("/api/info", "attacker.example")
    assert answer.startswith(b"HTTP/1.1 421"), answer[:200]
    assert readonly.raw_get("/api/info", f"localhost:{readonly.port}").startswith(b"HTTP/1.1 200")


def test_a_read_only_server_refuses_actions(readonly):
    status, data = readonly.json("/api/actions/trace", {"source": "client", "destination": "web:80"})
    assert status == 403 and "--allow-actions" in data["error"]


def test_the_feed_follows_a_change_made_in_a_terminal(weblab, readonly):
    stream = readonly.events()
    try:
        kind, first = stream.next()
        assert kind == "picture"
        victim = next(p["name"] for p in first["picture"]["pods"] if p["owner"] == "default/web")
        deleted = podnet("delete", "pod", victim, "--name", weblab.name)
        assert deleted.returncode == 0, explain(deleted)
        _, data, took = stream.until(lambda k, d: k == "picture" and victim not in {p["name"] for p in d["picture"]["pods"]})
    finally:
        stream.close()
    now = {p["name"] for p in data["picture"]["pods"] if p["owner"] == "default/web"}
    assert len(now) == 3 and victim not in now
    assert took < 5, took  # well within; the benchmark measures it properly


def test_a_trace_from_a_terminal_reaches_the_feed(weblab, readonly):
    stream = readonly.events()
    try:
        traced = podnet("trace", "client", "web:80", "--name", weblab.name)
        assert traced.returncode == 0, explain(traced)
        _, data, _ = stream.until(lambda k, d: k == "activity" and any(i["kind"] == "trace" for i in d["items"]))
    finally:
        stream.close()
    item = [i for i in data["items"] if i["kind"] == "trace"][-1]
    assert item["origin"] == "cli" and item["data"]["kind"] == "Pod-to-Service"
    assert any("DNAT" in r and "kube-proxy" in r for h in item["data"]["hops"] for r in h["rewrite"])
    assert all(isinstance(h["ttl"], int) for h in item["data"]["hops"])


def test_actions_run_the_terminal_commands(weblab, acting):
    status, data = acting.json("/api/actions/trace", {"source": "client", "destination": "web:80", "protocol": "tcp"})
    assert status == 200 and data["ok"] and data["result"]["kind"] == "Pod-to-Service", data
    status, activity = acting.json("/api/activity")
    assert activity["items"][-1]["origin"] == "web" and activity["items"][-1]["kind"] == "trace"
    status, data = acting.json("/api/actions/probe", {"source": "pod-1-1", "destination": "pod-2-1"})
    assert status == 200 and data["result"]["status"] == "reached", data
    status, data = acting.json("/api/actions/probe", {"source": "nowhere", "destination": "pod-2-1"})
    assert status == 400 and data["exit"] == 2 and "nowhere" in data["error"], data


def test_bad_or_foreign_action_requests_are_refused(acting):
    status, data = acting.json("/api/actions/trace", {"source": "--help", "destination": "web:80"})
    assert status == 400 and data["error"].startswith("invalid source: '--help'")
    status, data = acting.json("/api/actions/trace", {"source": "client", "destination": "web:80"},
                               headers={"Origin": "http://attacker.example"})
    assert status == 403 and "another origin" in data["error"]
    status, _headers, body = acting.request("/api/actions/trace", b"source=client", headers={"Content-Type": "text/plain"})
    assert status == 415
    assert acting.json("/api/actions/check", {})[0] == 400  # not a course lab


def test_a_capture_from_the_page_can_be_downloaded(weblab, acting):
    result = {}
    thread = threading.Thread(target=lambda: result.update(
        zip(("status", "data"), acting.json("/api/actions/capture", {"target": "pod-2-1", "filter": "icmp", "count": 2,
                                                                     "duration": 15}))))
    thread.start()
    for _ in range(40):
        if not thread.is_alive():
            break
        weblab.exec("pod-1-1", "ping", "-c", "1", "-W", "1", weblab.pod_ip("pod-2-1"))
    thread.join(timeout=30)
    assert result["status"] == 200 and result["data"]["ok"], result
    assert re.fullmatch(r"/api/captures/capture-\d+\.pcap", result["data"]["download"])
    status, headers, pcap = acting.request(result["data"]["download"])
    assert status == 200 and headers["Content-Type"] == "application/vnd.tcpdump.pcap"
    assert pcap[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4") and len(result["data"]["result"]["packets"]) == 2


@pytest.mark.parametrize("args, words", [
    (["--port", "70000"], "invalid port: '70000'"),
    (["--port", "http"], "invalid port: 'http'"),
    (["--listen", "my-laptop"], "invalid listen: 'my-laptop': must be an IP address"),
    (["--listen", "192.0.2.77"], "invalid listen: '192.0.2.77': is not an address of this machine"),
])
def test_bad_port_or_listen_is_one_line_exit_2(weblab, args, words):
    result = podnet("web", "--name", weblab.name, *args, timeout=30)
    assert result.returncode == 2, explain(result)
    assert result.stdout == "" and result.stderr.count("\n") == 1 and words in result.stderr, explain(result)


def test_no_such_lab_and_a_busy_port(weblab):
    result = podnet("web", "--name", "no-such-lab", timeout=30)
    assert result.returncode == 2 and "no such lab is running" in result.stderr, explain(result)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = podnet("web", "--name", weblab.name, "--port", str(port), timeout=30)
    assert result.returncode == 1 and f"port {port} on 127.0.0.1 is in use" in result.stderr, explain(result)


def test_the_page_says_when_the_lab_is_gone(tmp_path):
    lab = Lab(f"wg-{secrets.token_hex(3)}")
    try:
        lab.up("--nodes", "1", "--pods-per-node", "1")
        server = WebServer(lab.name)
        stream = server.events()
        assert stream.next()[0] == "picture"
        down = lab.down()
        assert down.returncode == 0, explain(down)
        kind, data, _ = stream.until(lambda k, d: k == "gone")
        assert data["lab"] == lab.name
        stream.close()
        assert server.stop() == 0  # SIGTERM: a clean exit
    finally:
        lab.down()
