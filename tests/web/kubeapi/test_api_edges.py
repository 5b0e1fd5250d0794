"""The lab's API server at its edges, over raw HTTPS as any client could speak it: odd tokens,
bodies and parameters get a Status (never a 500), collections are deleted only in their
scope, subresources answer only their methods, a watch of one object starts with that
object only, and an exec whose client vanishes takes its command (and all it started) with
it, over WebSocket and over SPDY."""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import ssl
import time

import pytest

from tests.support.labs import Lab
from tests.support.processes import netns_inode, pids_in, podnet, wait_until

pytestmark = [pytest.mark.root, pytest.mark.xdist_group("kubectl-edges")]


@pytest.fixture(scope="module")
def lab():
    lab = Lab()
    lab.up("--nodes", "1", "--pods-per-node", "3")
    yield lab
    lab.down()


@pytest.fixture(scope="module")
def api(lab):
    config = json.loads(podnet("kubeconfig", "--name", lab.name, "-o", "json", check=True).stdout)
    cluster = config["clusters"][0]["cluster"]
    context = ssl.create_default_context(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
    port = int(cluster["server"].rsplit(":", 1)[1])
    token = config["users"][0]["user"]["token"]

    def call(method: str, path: str, body: bytes | None = None, headers: dict | None = None,
             token_value: bytes | str | None = None):
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=20)
        try:
            conn.putrequest(method, path)
            given = token if token_value is None else token_value
            conn.putheader("Authorization", b"Bearer " + (given.encode() if isinstance(given, str) else given))
            for name, value in (headers or {"Content-Type": "application/json"}).items():
                conn.putheader(name, value)
            conn.putheader("Content-Length", str(len(body or b"")))
            conn.endheaders(body or b"")
            response = conn.getresponse()
            data = response.read()
            return response.status, (json.loads(data) if data.startswith(b"{") else data.decode(errors="replace"))
        finally:
            conn.close()

    return call


def test_a_token_that_is_not_text_is_refused_with_401(api):
    code, body = api("GET", "/api/v1/pods", token_value="é".encode("latin-1"))
    assert code == 401 and body["reason"] == "Unauthorized", body


@pytest.mark.parametrize("body", [b'{"kind":"Pod","metadata":"x"}', b'{"kind":"Pod","metadata":null,"spec":{}}',
                                  b'{"kind":"Pod","metadata":{"name":"p","annotations":["a"]}}', b"\xff\xfe",
                                  b"[" * 5000, b'"just a string"'],
                         ids=["metadata-string", "metadata-null", "annotations-list", "not-utf8", "deep", "string"])
def test_a_malformed_body_gets_a_status_and_changes_nothing(api, lab, body):
    before = set(lab.pods())
    code, answer = api("POST", "/api/v1/namespaces/default/pods", body)
    assert code in (400, 422) and answer["kind"] == "Status" and answer["status"] == "Failure", (code, answer)
    assert set(lab.pods()) == before


@pytest.mark.parametrize("query", ["timeoutSeconds=abc", "resourceVersion=-5", "resourceVersion=abc"])
def test_bad_watch_parameters_are_bad_requests(api, query):
    code, answer = api("GET", f"/api/v1/namespaces/default/pods?watch=1&{query}")
    assert code == 400 and answer["reason"] == "BadRequest", (code, answer)


def test_a_watch_of_one_object_starts_with_that_object_only(api):
    code, text = api("GET", "/api/v1/namespaces/default/pods/pod-1-2?watch=1&timeoutSeconds=1")
    assert code == 200, text
    # one event per line; the helper has parsed a single-line answer already
    events = [text] if isinstance(text, dict) else [json.loads(line) for line in text.splitlines() if line.strip()]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "pod-1-2")], events


def test_delete_collection_stays_in_its_scope(api, lab):
    code, answer = api("DELETE", "/api/v1/pods")
    assert code == 405, (code, answer)
    code, answer = api("DELETE", "/api/v1/namespaces?labelSelector=a%3Db")
    assert code == 405, (code, answer)
    code, answer = api("DELETE", "/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Dnone")
    assert code == 200 and {"pod-1-1", "pod-1-2", "pod-1-3"} <= set(lab.pods()), answer  # nothing matched
    code, answer = api("DELETE", "/api/v1/namespaces/default/pods?labelSelector=app+in+(")
    assert code == 400 and answer["reason"] == "BadRequest", (code, answer)


@pytest.mark.parametrize("method, path", [("DELETE", "/apis/apps/v1/namespaces/default/deployments/x/scale"),
                                          ("PUT", "/api/v1/namespaces/default/pods/pod-1-1/status"),
                                          ("POST", "/api/v1/namespaces/default/pods/pod-1-1/log")])
def test_subresources_answer_only_their_methods(api, method, path):
    code, answer = api(method, path, b"{}")
    assert code == 405 and answer["reason"] == "MethodNotAllowed", (code, answer)


def _sleepers(lab, pod: str, seconds: str) -> list[int]:
    found = []
    for pid in pids_in({netns_inode(lab.ns(pod))}):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                argv = handle.read().split(b"\0")
        except OSError:
            continue
        if argv[:2] == [b"sleep", seconds.encode()]:
            found.append(pid)
    return found


def test_an_exec_whose_client_vanishes_ends_its_command(kubectl, lab):
    """kubectl killed (-9) in the middle of ``exec -- sh -c 'sleep N & sleep N'``: the server
    ends both sleeps (the command's whole process group) within seconds."""
    seconds = str(900 + kubectl.binary.minor)
    proc = kubectl.popen("exec", "pod-1-3", "--", "sh", "-c", f"sleep {seconds} & sleep {seconds}")
    try:
        wait_until(lambda: len(_sleepers(lab, "pod-1-3", seconds)) == 2, 20, what="both sleeps running in the Pod")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=10)
    started = time.monotonic()
    wait_until(lambda: not _sleepers(lab, "pod-1-3", seconds), 10, what="the sleeps ended after the client vanished")
    assert time.monotonic() - started < 10


def test_a_put_of_a_stale_object_is_a_conflict_and_changes_nothing(api, lab):
    """kubectl replace sends the resourceVersion it read: if podnet changed the object since,
    the API server's answer is 409 Conflict, and podnet's change stands."""
    code, read = api("GET", "/api/v1/namespaces/default/pods/pod-1-1")
    assert code == 200, read
    podnet("label", "pod", "pod-1-1", "changed=by-podnet", "--name", lab.name, check=True)
    read["metadata"]["labels"] = {"app": "pod-1-1", "changed": "by-kubectl"}
    code, answer = api("PUT", "/api/v1/namespaces/default/pods/pod-1-1", json.dumps(read).encode())
    assert code == 409 and answer["reason"] == "Conflict" and "the object has been modified" in answer["message"], answer
    assert lab.pods()["pod-1-1"]["metadata"]["labels"]["changed"] == "by-podnet"
    code, fresh = api("GET", "/api/v1/namespaces/default/pods/pod-1-1")
    fresh["metadata"]["labels"]["changed"] = "by-kubectl"
    code, answer = api("PUT", "/api/v1/namespaces/default/pods/pod-1-1", json.dumps(fresh).encode())
    assert code == 200 and lab.pods()["pod-1-1"]["metadata"]["labels"]["changed"] == "by-kubectl", answer
