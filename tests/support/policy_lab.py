"""The lab of the NetworkPolicy root tests, its manifests and its helpers.

Lab 09's scenario (namespaces shop, tools and monitoring; a backend Deployment with the named
port ``http``; db, frontend, debug and prober pinned to nodes), brought up once per test module
with no policy; ``np`` checks after each test that it is as it started (no policy, the same
Pods, addresses and labels). Used by tests/k8s/test_network_policy*.py.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import secrets

import pytest

from tests.support.labs import Lab, all_ok, connect
from tests.support.processes import explain, podnet

LAB_YAML = """
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: shop}}
---
apiVersion: v1
kind: Namespace
metadata: {name: tools, labels: {team: tools}}
---
apiVersion: v1
kind: Namespace
metadata: {name: monitoring, labels: {purpose: monitoring}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: backend, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: backend}}
  template:
    metadata: {labels: {app: backend}}
    spec:
      containers: [{name: api, image: agnhost, ports: [{name: http, containerPort: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: backend, namespace: shop}
spec:
  selector: {app: backend}
  ports: [{name: http, port: 8080, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: backend-outside, namespace: shop}
spec:
  type: NodePort
  selector: {app: backend}
  ports: [{port: 8080, targetPort: http, nodePort: 30081}]
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db}}
spec: {nodeName: node-3, containers: [{name: db, image: postgres, ports: [{containerPort: 5432}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: frontend, namespace: shop, labels: {app: frontend}}
spec: {nodeName: node-1, containers: [{name: web, image: nginx, ports: [{containerPort: 80}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: debug, namespace: tools, labels: {app: debug}}
spec: {nodeName: node-2, containers: [{name: shell, image: busybox}]}
---
apiVersion: v1
kind: Pod
metadata: {name: prober, namespace: monitoring, labels: {app: prober}}
spec: {nodeName: node-1, containers: [{name: prober, image: busybox}]}
"""


def netpol(name: str, namespace: str, spec: str) -> str:
    return (f"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
            f"metadata: {{name: {name}, namespace: {namespace}}}\nspec: {spec}\n")


DENY = netpol("default-deny-ingress", "shop", "{podSelector: {}, policyTypes: [Ingress]}")
ALLOW_FRONTEND = netpol("allow-frontend-to-backend", "shop", "{podSelector: {matchLabels: {app: backend}}, "
                        "ingress: [{from: [{podSelector: {matchLabels: {app: frontend}}}], ports: [{port: http}]}]}")
ALLOW_MONITORING = netpol("allow-monitoring", "shop", "{podSelector: {}, ingress: [{from: [{namespaceSelector: "
                          "{matchLabels: {purpose: monitoring}}}], ports: [{protocol: TCP, port: 8080}]}]}")
TO_BACKEND = "{to: [{podSelector: {matchLabels: {app: backend}}}], ports: [{protocol: TCP, port: 8080}]}"
TO_DNS = ("{to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: "
          "{matchLabels: {k8s-app: kube-dns}}}], ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]}")
FRONTEND_OUT = "podSelector: {matchLabels: {app: frontend}}, policyTypes: [Egress]"
EGRESS_NO_DNS = netpol("frontend-egress", "shop", f"{{{FRONTEND_OUT}, egress: [{TO_BACKEND}]}}")
EGRESS_DNS = netpol("frontend-egress", "shop", f"{{{FRONTEND_OUT}, egress: [{TO_BACKEND}, {TO_DNS}]}}")
DEBUG_EGRESS = netpol("debug-egress", "tools", "{podSelector: {matchLabels: {app: debug}}, policyTypes: [Egress], "
                      "egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0, except: [8.8.8.8/32]}}]}]}")


# -- helpers -------------------------------------------------------------------------------------------

def cli(lab: Lab, *args: str, expect: int | None = 0):
    result = podnet(*args, "--name", lab.name)
    if expect is not None:
        assert result.returncode == expect, explain(result)
    return result


def get_json(lab: Lab, *args: str) -> dict:
    return json.loads(cli(lab, "get", *args, "-o", "json").stdout)


def by_name(lab: Lab, *args: str) -> dict[str, dict]:
    return {i["metadata"]["name"]: i for i in get_json(lab, *args)["items"]}


def workloads(lab: Lab) -> dict[str, dict]:
    """Every Pod outside kube-system, by name, as ``get pods -A -o json`` has it now."""
    return {n: p for n, p in by_name(lab, "pods", "-A").items() if p["metadata"]["namespace"] != "kube-system"}


def pod(lab: Lab, name: str) -> dict:
    """A Pod as it was when the lab came up (every test leaves the Pods as they were)."""
    return lab.start[name]


def ip_of(lab: Lab, name: str) -> str:
    return pod(lab, name)["status"]["podIP"]


def backends(lab: Lab) -> list[str]:
    return sorted(n for n, p in lab.start.items() if p["metadata"]["labels"].get("app") == "backend")


def write(lab: Lab, *docs: str) -> str:
    path = lab.dir / f"{secrets.token_hex(4)}.yaml"
    path.write_text("\n---\n".join(docs), encoding="utf-8")
    return str(path)


@contextlib.contextmanager
def applied(lab: Lab, *docs: str):
    """The policies of ``docs`` in force for the block; deleted afterwards, whatever happened."""
    path = write(lab, *docs)
    cli(lab, "apply", "-f", path)
    try:
        yield path
    finally:
        cli(lab, "delete", "-f", path)


def each_backend(lab: Lab, source: str, *args: str) -> dict[str, dict]:
    """``connect`` from ``source`` to every backend Pod's own address on 8080 (not through the
    Service, whose random pick could miss one), by backend name."""
    return {b: connect(lab, source, f"{ip_of(lab, b)}:8080", *args) for b in backends(lab)}


def reaches_every_backend(lab: Lab, source: str) -> None:
    for name, data in each_backend(lab, source, "-c", "2").items():
        assert {a["pod"] for a in all_ok(data, 2)} == {name}, data
        assert {a["client"].rsplit(":", 1)[0] for a in data["answers"]} == {ip_of(lab, source)}, data  # no NAT


def dropped(data: dict, count: int = 1) -> None:
    """Every request timed out: silently dropped (a policy's DROP), neither answered nor refused."""
    assert data["_exit"] == 1 and data["ok"] is False, data
    assert [a["status"] for a in data["answers"]] == ["timeout"] * count, data


def filter_rules(lab: Lab, node: str) -> list[str]:
    result = lab.in_ns(node, "iptables-save", "-t", "filter")
    assert result.returncode == 0, explain(result)
    return [re.sub(r"\[\d+:\d+\]", "[-]", line) for line in result.stdout.splitlines() if not line.startswith("#")]


def kube_router_hash(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:16]


def grid(text: str) -> dict[tuple[str, str], str]:
    """{(source, target): cell} of the matrix's table output. Long Pod names make numbered
    columns, each row starting with its number (nodes, sources only, have none)."""
    lines = text.splitlines()
    columns, rows = lines[0].split(), []
    for line in lines[1:]:
        if line.startswith("ok:"):
            break
        rows.append(line.split())
    numbered = columns == [str(i) for i in range(1, len(columns) + 1)]
    if numbered:
        names = {r[0]: r[1] for r in rows if r[0].isdigit()}
        columns = [names[c] for c in columns]
        rows = [r[1:] if r[0].isdigit() else r for r in rows]
    cells = {}
    for source, *row in rows:
        assert len(row) == len(columns), (source, row)
        cells.update({(source, t): c for t, c in zip(columns, row)})
    return cells


# -- the shared lab --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def netlab(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("root integration tests need root")
    lab = Lab(f"np-{secrets.token_hex(3)}")
    lab.dir = tmp_path_factory.mktemp("netpol")
    try:
        lab.up("--nodes", "3", "--pods-per-node", "0", "-f", write(lab, LAB_YAML))
        lab.start = workloads(lab)
        assert len(lab.start) == 6 and {p["status"]["phase"] for p in lab.start.values()} == {"Running"}, lab.start
        yield lab
    finally:
        down = lab.down()
    assert down.returncode == 0, explain(down)


@pytest.fixture
def np(netlab):
    """The shared lab; afterwards it must be as it started: no policy, the same Pods, IPs and labels."""
    yield netlab
    assert get_json(netlab, "netpol", "-A")["items"] == [], "a test left a NetworkPolicy behind"
    assert by_name(netlab, "ns")["monitoring"]["metadata"]["labels"].get("purpose") == "monitoring"
    now = {n: (p["status"]["podIP"], p["metadata"]["labels"]) for n, p in workloads(netlab).items()}
    assert now == {n: (p["status"]["podIP"], p["metadata"]["labels"]) for n, p in netlab.start.items()}


# -- the truth table ------------------------------------------------------------------------------------
