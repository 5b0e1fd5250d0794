"""Who made a rewrite (trace), a nodePort shared by TCP and UDP, and symlink-safe lab files."""

from __future__ import annotations

import os

import pytest

from podnet.lab.initial import initial_state
from podnet.course.workfiles import write_file
from podnet.core.errors import InputError
from podnet.core.model import RUNNING
from podnet.probes.verdict import Sighting
from podnet.core.spec import build_spec
from podnet.probes.trace import Target, annotate
from podnet.k8s.workloads.apply import apply_objects
from podnet.k8s.workloads.manifests import parse_documents


def _state():
    spec = build_spec(name="t", nodes=[("node-1", "control-plane"), ("node-2", "worker")],
                      pods=[("client", "node-1"), ("web", "node-2")])
    state = initial_state(spec)
    for i, pod in enumerate(state.pods.values()):
        pod.phase, pod.ip = RUNNING, f"10.244.{i}.2"
    return state


def _seen(name, src, dst, sport=40000, dport=80):
    return Sighting(f"t-{name}", name, "node", "eth0", "out", False, src, dst, sport, dport, 64)


def _snat_note(state, target, src_before, src_after, dst_after):
    path = [_seen("client", src_before, target.address), _seen("node-1", src_after, dst_after, dport=8080)]
    hops, _ = annotate(state, target, path)
    return next(r for r in hops[1].rewrite if r.startswith("SNAT"))


def test_a_stray_masquerade_on_pod_to_clusterip_is_not_blamed_on_kube_proxy():
    state = _state()
    target = Target("10.96.100.1", 80, "tcp", "default/web", "default/web", "clusterIP")
    note = _snat_note(state, target, "10.244.0.2", "192.168.77.11", "10.244.1.2")
    assert "not kube-proxy's" in note and "breaks the no-NAT rule" in note


@pytest.mark.parametrize("via, src, dst, why", [
    ("nodePort", "203.0.113.10", "10.244.1.2", "a NodePort"),
    ("clusterIP", "192.168.77.11", "10.244.1.2", "a node outside the cluster CIDR"),
    ("clusterIP", "10.244.1.2", "10.244.1.2", "hairpin"),
])
def test_kube_proxy_is_credited_where_it_masquerades(via, src, dst, why):
    state = _state()
    target = Target("10.96.100.1", 80, "tcp", "default/web", "default/web", via)
    assert "by kube-proxy" in _snat_note(state, target, src, "192.168.77.12", dst), why


def test_one_service_may_use_a_node_port_for_tcp_and_udp_but_two_services_may_not():
    state = _state()
    both = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "dns"},
            "spec": {"type": "NodePort", "selector": {"app": "x"}, "ports": [
                {"name": "udp", "port": 53, "protocol": "UDP", "nodePort": 30053},
                {"name": "tcp", "port": 53, "protocol": "TCP", "nodePort": 30053}]}}
    new, _ = apply_objects(state, parse_documents([both]))
    assert [p.node_port for p in new.services["default/dns"].ports] == [30053, 30053]
    other = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "other"},
             "spec": {"type": "NodePort", "selector": {"app": "y"}, "ports": [
                 {"port": 53, "protocol": "TCP", "nodePort": 30053}]}}
    with pytest.raises(InputError, match="provided port is already allocated"):
        apply_objects(new, parse_documents([other]))


def test_lab_files_replace_a_planted_symlink_instead_of_writing_through_it(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    work = tmp_path / "work"
    work.mkdir()
    os.symlink(victim, work / "answers.yaml")
    write_file(str(work / "answers.yaml"), b"a: 1\n")
    assert victim.read_text() == "precious"
    assert not os.path.islink(work / "answers.yaml") and (work / "answers.yaml").read_text() == "a: 1\n"
    os.symlink(tmp_path, tmp_path / "linked")
    with pytest.raises(InputError, match="symlink"):
        write_file(str(tmp_path / "linked" / "x"), b"")
