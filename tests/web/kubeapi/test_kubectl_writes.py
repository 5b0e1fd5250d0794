"""The real kubectl changes a running lab, and podnet sees the change (one state, two clients):
apply and create (client-side apply, the last-applied annotation, re-apply scales and rolls),
a Service applied with kubectl answers on its ClusterIP, label, scale, delete with its wait,
a Pod deleted with kubectl replaced by its Deployment with a new IP, bad manifests refused with
the server's words and nothing changed, concurrent writers, and a watch that sees the lab
change from either client."""

from __future__ import annotations

import json
import os
import select
import subprocess
import time

import pytest

from tests.support.kubectl import column
from tests.support.labs import Lab, all_ok, connect
from tests.support.processes import PODNET, TOPOLOGIES, explain, podnet, wait_until

pytestmark = [pytest.mark.root, pytest.mark.xdist_group("kubectl-writes")]
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


@pytest.fixture(scope="module")
def lab():
    lab = Lab()
    lab.up("--nodes", "2", "--pods-per-node", "1", "-f", str(TOPOLOGIES / "workloads" / "web.yaml"))
    yield lab
    lab.down()



def deployment(name: str, replicas: int = 2, image: str = "registry.k8s.io/e2e-test-images/agnhost:2.47") -> str:
    return f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
      - name: echo
        image: {image}
        ports: [{{containerPort: 8080}}]
"""


def service(name: str, port: int = 80) -> str:
    return f"""apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec:
  selector: {{app: {name}}}
  ports: [{{port: {port}, targetPort: 8080}}]
"""


def podnet_pods(lab, app: str) -> dict[str, dict]:
    return {n: p for n, p in lab.pods().items() if p["metadata"]["labels"].get("app") == app}


def running(lab, app: str, count: int) -> dict[str, dict]:
    def ready():
        pods = podnet_pods(lab, app)
        return pods if len(pods) == count and all(p["status"]["phase"] == "Running" for p in pods.values()) else None
    return wait_until(ready, 20, what=f"{count} Running Pods of {app}")


def everything(lab) -> dict:
    """What podnet shows of the lab's workloads, for before/after comparisons."""
    return {kind: json.loads(podnet("get", kind, "-A", "-o", "json", "--name", lab.name, check=True).stdout)["items"]
            for kind in ("pods", "deployments", "services", "endpoints")}


def name_for(kubectl, base: str) -> str:
    return f"{base}-{kubectl.binary.minor}"


def test_apply_creates_a_deployment_and_a_service_that_answers_from_a_pod(kubectl, lab):
    name = name_for(kubectl, "echo")
    applied = kubectl("apply", "-f", "-", input=deployment(name) + "---\n" + service(name), check=True)
    assert applied.stdout.splitlines() == [f"deployment.apps/{name} created", f"service/{name} created"], applied.stdout
    pods = running(lab, name, 2)
    cluster_ip = lab.get("services")[name]["spec"]["clusterIP"]
    assert column(kubectl("get", "svc", name, check=True).stdout, "CLUSTER-IP") == {name: cluster_ip}
    answers = all_ok(connect(lab, "client", f"{cluster_ip}:80", "--count", "4"), 4)
    assert {a["pod"] for a in answers} <= set(pods), answers
    assert {a["pod_ip"] for a in answers} <= {p["status"]["podIP"] for p in pods.values()}, answers
    recorded = kubectl.json("deployment", name)["metadata"]["annotations"][LAST_APPLIED]
    assert json.loads(recorded)["spec"]["replicas"] == 2, recorded
    deleted = kubectl("delete", "-f", "-", input=deployment(name) + "---\n" + service(name), check=True)
    assert deleted.stdout.splitlines() == [f'deployment.apps "{name}" deleted', f'service "{name}" deleted'], deleted.stdout
    assert podnet_pods(lab, name) == {} and name not in lab.get("services"), "kubectl delete waits until it is gone"


def test_reapplying_a_changed_deployment_scales_it_then_rolls_it(kubectl, lab):
    name = name_for(kubectl, "roll")
    kubectl("apply", "-f", "-", input=deployment(name, 1), check=True)
    first = running(lab, name, 1)
    again = kubectl("apply", "-f", "-", input=deployment(name, 1), check=True)
    assert again.stdout.strip() == f"deployment.apps/{name} unchanged", again.stdout
    scaled = kubectl("apply", "-f", "-", input=deployment(name, 3), check=True)
    assert scaled.stdout.strip() == f"deployment.apps/{name} configured", scaled.stdout
    three = running(lab, name, 3)
    assert set(first) < set(three), "scaling up keeps the Pod that ran"
    kubectl("apply", "-f", "-", input=deployment(name, 3, image="registry.k8s.io/e2e-test-images/agnhost:2.48"),
            check=True)
    rolled = running(lab, name, 3)
    assert not set(rolled) & set(three), "a new image is a new Pod template: every Pod is replaced"
    [new_hash] = {p["metadata"]["labels"]["pod-template-hash"] for p in rolled.values()}
    assert all(n.startswith(f"{name}-{new_hash}-") for n in rolled), rolled
    images = {c["image"] for p in kubectl.json("pods", "-l", f"app={name}")["items"] for c in p["spec"]["containers"]}
    assert images == {"registry.k8s.io/e2e-test-images/agnhost:2.48"}, images
    rs = kubectl.json("rs", "-l", f"app={name}")["items"]
    assert [r["spec"]["replicas"] for r in rs] == [3] and rs[0]["status"]["readyReplicas"] == 3, rs
    kubectl("delete", "deployment", name, check=True)


def test_create_of_an_existing_object_is_refused_as_already_exists(kubectl, lab):
    created = kubectl("create", "-f", "-", input=service("web"))
    assert created.returncode == 1, explain(created)
    assert 'Error from server (AlreadyExists): error when creating "STDIN": services "web" already exists' in created.stderr


@pytest.mark.parametrize("manifest, words", [
    (deployment("bad", replicas=-1), ['The Deployment "bad" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0']),
    (service("bad", port=70000), ['Service "bad" is invalid: spec.ports[0].port: Invalid value: 70000']),
    (deployment("Bad_Name"), ['metadata.name: Invalid value: "Bad_Name"']),
], ids=["negative-replicas", "port-out-of-range", "bad-name"])
def test_a_bad_manifest_is_refused_with_the_servers_status_and_nothing_changes(kubectl, lab, manifest, words):
    before = everything(lab)
    refused = kubectl("apply", "-f", "-", input=manifest)
    assert refused.returncode == 1, explain(refused)
    assert "Error from server (Invalid)" in refused.stderr or "is invalid" in refused.stderr, refused.stderr
    assert all(w in refused.stderr for w in words), refused.stderr
    assert everything(lab) == before


def test_label_and_scale_change_what_podnet_shows(kubectl, lab):
    name = name_for(kubectl, "scale")
    kubectl("apply", "-f", "-", input=deployment(name, 1), check=True)
    [pod] = running(lab, name, 1)
    labelled = kubectl("label", "pod", pod, "tier=front", check=True)
    assert labelled.stdout.strip() == f"pod/{pod} labeled", labelled.stdout
    assert lab.pods()[pod]["metadata"]["labels"]["tier"] == "front"
    scaled = kubectl("scale", "deployment", name, "--replicas=2", check=True)
    assert scaled.stdout.strip() == f"deployment.apps/{name} scaled", scaled.stdout
    running(lab, name, 2)
    kubectl("delete", "deployment", name, check=True)
    assert podnet_pods(lab, name) == {}


def test_a_pod_deleted_with_kubectl_is_replaced_with_a_new_ip_in_podnet(kubectl, lab):
    before = running(lab, "web", 3)
    victim = sorted(before)[0]
    deleted = kubectl("delete", "pod", victim, check=True)
    assert deleted.stdout.strip() == f'pod "{victim}" deleted', deleted.stdout
    after = running(lab, "web", 3)
    [new] = set(after) - set(before)
    assert victim not in after and after[new]["status"]["podIP"] != before[victim]["status"]["podIP"], after
    shown = column(kubectl("get", "pods", "-o", "wide", check=True).stdout, "IP")
    assert shown[new] == after[new]["status"]["podIP"] and victim not in shown


def test_concurrent_writers_never_lose_an_object(kubectl, lab, tmp_path):
    """Two kubectl applies, a kubectl create and a podnet apply at once: all four land."""
    names = [name_for(kubectl, f"many{i}") for i in range(4)]
    files = []
    for name in names:
        path = tmp_path / f"{name}.yaml"
        path.write_text(deployment(name, 1), encoding="utf-8")
        files.append(str(path))
    writers = [kubectl.popen("apply", "-f", files[0]), kubectl.popen("apply", "-f", files[1]),
               kubectl.popen("create", "-f", files[2]),
               subprocess.Popen([*PODNET, "apply", "--name", lab.name, "-f", files[3]], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)]
    for writer in writers:
        out, err = writer.communicate(timeout=60)
        assert writer.returncode == 0, (writer.args, out, err)
    for name in names:
        running(lab, name, 1)
    shown = column(kubectl("get", "deploy", check=True).stdout, "READY")
    assert all(shown.get(name) == "1/1" for name in names), shown
    kubectl("delete", "deployment", *names, check=True)
    assert all(podnet_pods(lab, name) == {} for name in names)


class Lines:
    """A running watch's output, read as it comes (from the pipe itself, never buffered away)."""

    def __init__(self, proc: subprocess.Popen):
        self.fd, self.partial, self.seen, self.cursor = proc.stdout.fileno(), b"", [], 0

    def until(self, predicate, timeout: float) -> list[str]:
        """The lines after the last match up to the first that satisfies ``predicate``."""
        first, deadline = self.cursor, time.monotonic() + timeout
        while time.monotonic() < deadline:
            for index in range(self.cursor, len(self.seen)):
                if predicate(self.seen[index]):
                    self.cursor = index + 1
                    return self.seen[first:self.cursor]
            self.cursor = len(self.seen)
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if ready:
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    break
                *complete, self.partial = (self.partial + chunk).split(b"\n")
                self.seen += [line.decode() for line in complete]
        raise AssertionError(f"the watch did not show it in {timeout}s: {self.seen[first:]}")


def test_a_watch_sees_a_reschedule_made_with_podnet(kubectl, lab):
    before = running(lab, "web", 3)
    victim = sorted(before)[-1]
    watch = kubectl.popen("get", "pods", "-w", "-o", "wide", "-l", "app=web")
    lines = Lines(watch)
    try:
        lines.until(lambda line: line.startswith(victim), 15)  # the listing came
        podnet("delete", "pod", victim, "--name", lab.name, check=True)
        after = running(lab, "web", 3)
        [new] = set(after) - set(before)
        ip = after[new]["status"]["podIP"]
        seen = lines.until(lambda line: line.startswith(new) and f" {ip} " in line and "Running" in line, 15)
        assert any(line.startswith(victim) and "Terminating" in line for line in seen), seen  # its deletion first
    finally:
        watch.terminate()
        watch.communicate(timeout=15)
