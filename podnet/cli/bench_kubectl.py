"""``podnet bench --kubectl``: the lab's Kubernetes API server measured as kubectl meets it.

Mirrors what a student waits for when typing kubectl at a real cluster. On the benchmark's
lab: how long the API server takes to start and answer; the time of one ``list`` of every
Pod as the server-side Table ``kubectl get pods -A -o wide`` asks for, over a kept-alive
HTTPS connection (the server's time plus one loopback round trip, median and worst of 20);
the whole ``kubectl get pods -A -o wide`` process for each kubectl binary found (its
discovery cache warm, median of 5); and the delay from a change saved in the lab (a Pod
deleted and replaced, as ``podnet delete pod`` does it) to the watch event on an open watch
(median of 5). Floors from the issue: a list under 50 ms, the command under 0.3 s, events
within 0.2 s.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import ssl
import statistics
import subprocess
import tempfile
import time
from typing import Any

from podnet.cli.bench_web import workload_docs
from podnet.cli.common import PACKAGE_ROOT
from podnet.cli.kube import kubeconfig
from podnet.core.errors import KernelError
from podnet.k8s.workloads.manifests import parse_documents
from podnet.kernel import state_file
from podnet.lab import apiserver
from podnet.web.kubeapi import tls

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
DEBIAN_KUBECTL = os.path.join(PACKAGE_ROOT, ".venv", "kubernetes-client", "usr", "bin", "kubectl")


def kubectl_binaries() -> list[str]:
    """Every kubectl to time: Debian's unpacked one (the test tools') and the one on PATH."""
    found = []
    for path in (DEBIAN_KUBECTL, shutil.which("kubectl")):
        if path and os.access(path, os.X_OK) and os.path.realpath(path) not in map(os.path.realpath, found):
            found.append(path)
    return found


def _connect(lab: str) -> tuple[http.client.HTTPSConnection, str]:
    port = apiserver.endpoint(lab, wait=15)
    if port is None:
        raise KernelError(f"the API server of {lab} did not start (see {apiserver.directory(lab)}/apiserver.log)")
    creds = tls.ensure(apiserver.directory(lab), lab, apiserver.recorded_listen(lab))
    context = ssl.create_default_context(cadata=creds.ca_pem().decode())
    return http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=30), creds.token()


def _get(conn: http.client.HTTPSConnection, token: str, path: str, accept: str = "application/json") -> bytes:
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}", "Accept": accept})
    response = conn.getresponse()
    body = response.read()
    if response.status != 200:
        raise KernelError(f"GET {path}: {response.status} {body[:200]!r}")
    return body


def measure_lists(lab: str, rounds: int = 20) -> dict[str, Any]:
    conn, token = _connect(lab)
    try:
        _get(conn, token, "/api/v1/pods?limit=500", TABLE)  # the connection and TLS are made here
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            body = _get(conn, token, "/api/v1/pods?limit=500", TABLE)
            times.append((time.perf_counter() - started) * 1000.0)
        rows = len(json.loads(body)["rows"])
    finally:
        conn.close()
    return {"api_list_ms": statistics.median(times), "api_list_ms_max": max(times), "api_list_rows": rows}


def _kubeconfig(lab: str, folder: str) -> str:
    """The kubeconfig ``podnet kubeconfig`` prints, in a 0600 file of ``folder``."""
    creds = tls.ensure(apiserver.directory(lab), lab, apiserver.recorded_listen(lab))
    config = kubeconfig(lab, apiserver.server_url(lab, apiserver.endpoint(lab, wait=15)), creds.ca_pem(), creds.token())
    path = os.path.join(folder, "kubeconfig")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(config, out)
    return path


def measure_kubectl(lab: str, binary: str, folder: str, rounds: int = 5) -> dict[str, Any]:
    """The whole ``kubectl get pods -A -o wide`` process, discovery cache warm."""
    env = dict(os.environ, HOME=folder, KUBECONFIG=_kubeconfig(lab, folder))
    argv = [binary, "get", "pods", "-A", "-o", "wide"]
    times, lines = [], 0
    for attempt in range(rounds + 1):  # the first run fills the discovery cache
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            raise KernelError(f"{binary} get pods failed: {done.stderr.strip()[:300]}")
        if attempt:
            times.append(elapsed)
        lines = len(done.stdout.splitlines()) - 1
    version = subprocess.run([binary, "version", "--client", "-o", "json"], capture_output=True, text=True, timeout=30)
    try:
        name = json.loads(version.stdout)["clientVersion"]["gitVersion"]
    except (ValueError, KeyError):
        name = os.path.basename(binary)
    return {"kubectl": name, "kubectl_s": statistics.median(times), "kubectl_s_max": max(times), "kubectl_rows": lines}


def measure_watch(lab, rounds: int = 5) -> dict[str, Any]:
    """From a Pod deletion saved in the state file to its DELETED event on an open watch."""
    name = lab.state.name
    conn, token = _connect(name)
    delays = []
    try:
        revision = json.loads(_get(conn, token, "/api/v1/pods?limit=1"))["metadata"]["resourceVersion"]
        conn.request("GET", f"/api/v1/pods?watch=1&resourceVersion={revision}",
                     headers={"Authorization": f"Bearer {token}"})
        stream = conn.getresponse()
        for _ in range(rounds):
            victim = sorted(p.name for p in lab.state.pods.values() if p.owner and p.namespace == "default")[0]
            lab.delete("pod", [victim], "default")
            saved = os.stat(state_file.LabPaths(name).state_file).st_mtime_ns / 1e9
            while True:
                event = json.loads(stream.readline())
                if event["type"] == "DELETED" and event["object"]["metadata"]["name"] == victim:
                    delays.append((time.time() - saved) * 1000.0)
                    break
    finally:
        conn.close()
    return {"watch_ms": statistics.median(delays), "watch_ms_max": max(delays)}


def run_kubectl(lab, say) -> dict[str, Any]:
    """Every measurement on the running ``lab``; its API server is started here and ended with it."""
    name = lab.state.name
    lab.apply(parse_documents(workload_docs(0, max(3, len(lab.state.nodes))), "bench"))
    started = time.perf_counter()
    apiserver.start(name)
    conn, token = _connect(name)
    try:
        _get(conn, token, "/version")
    finally:
        conn.close()
    row: dict[str, Any] = {"api_ready_s": time.perf_counter() - started}
    say(f"bench kubectl: API server answering {row['api_ready_s']:.2f} s after it was started")
    row.update(measure_lists(name))
    say(f"bench kubectl: a list of {row['api_list_rows']} Pods as a Table in {row['api_list_ms']:.1f} ms "
        f"(worst {row['api_list_ms_max']:.1f} ms)")
    row["kubectls"] = []
    with tempfile.TemporaryDirectory(prefix="podnet-bench-kubectl-") as folder:
        for binary in kubectl_binaries():
            timed = measure_kubectl(name, binary, folder)
            row["kubectls"].append(timed)
            say(f"bench kubectl: {timed['kubectl']} get pods -A -o wide: {timed['kubectl_s']:.3f} s "
                f"({timed['kubectl_rows']} rows)")
    if not row["kubectls"]:
        say("bench kubectl: no kubectl found (scripts/test.sh installs Debian's); only the server was timed")
    row.update(measure_watch(lab))
    say(f"bench kubectl: watch events {row['watch_ms']:.0f} ms after the change was saved "
        f"(worst {row['watch_ms_max']:.0f} ms)")
    return row
