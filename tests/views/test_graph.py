"""Diagrams of a lab (podnet.graph): SVG, Mermaid and DOT from pure state, escaping, PNG errors.

States are built without root: the spec from a topology file, the plan from it, then Pods
are marked Running with addresses from their node's podCIDR (as the CNI would give them),
and Services are added by hand.
"""

from __future__ import annotations

import glob
import os
import re
import stat
import xml.etree.ElementTree as ET
from ipaddress import IPv4Network

import pytest

from podnet.views import graph
from podnet.views.graph import facts, png
from podnet.core.errors import KernelError
from podnet.core.model import CONTAINER_CREATING, RUNNING, PodState, ServicePortState, ServiceState
from podnet.lab.initial import initial_state
from podnet.core.spec import build_spec
from podnet.core.topology import spec_from_sources

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOPOLOGIES = sorted(glob.glob(os.path.join(REPO, "topologies", "*.yaml")))
SVG_NS = "{http://www.w3.org/2000/svg}"
SVG_TAGS = {"svg", "title", "style", "rect", "text", "line", "path"}
HOSTILE = '<script>alert("x")</script> & \' \\ "q" \x00\x1b]0;t\x07 end\n%%{init: {}}%% ]]> `md` #35; --> }'


def run_everything(state, labels=("app", "web")):
    """Every Pod on a node with a podCIDR gets Running and the next address of that slice;
    alternate Pods carry app=web and app=db."""
    used: dict[str, int] = {}
    for index, pod in enumerate(state.pods.values()):
        node = state.nodes.get(pod.node)
        if node is None or not node.pod_cidr:
            continue
        used[node.name] = used.get(node.name, 1) + 1
        pod.phase = RUNNING
        pod.ip = str(IPv4Network(node.pod_cidr).network_address + used[node.name])
        pod.labels = {labels[0]: labels[1] if index % 2 == 0 else "db"}
    for node in state.nodes.values():
        node.ready = node.pod_cidr is not None
    return state


def add_service(state, name="web", selector=None, type_="ClusterIP", cluster_ip="10.96.0.20", node_port=None,
                namespace="default"):
    service = ServiceState(name, namespace, type_, cluster_ip, {"app": "web"} if selector is None else selector,
                           [ServicePortState("", "TCP", 80, 8080, node_port)])
    state.services[service.key] = service
    return service


def topology_state(path):
    state = run_everything(initial_state(spec_from_sources(path, {})))
    add_service(state, "web", type_="NodePort", node_port=30080)
    add_service(state, "db", selector={"app": "db"}, cluster_ip="10.96.0.21")
    add_service(state, "empty", selector={"app": "nothing"}, cluster_ip="10.96.0.22")
    state.external = True
    return state


def parse_svg(text):
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag == SVG_NS + "svg"
    for element in root.iter():
        assert element.tag.startswith(SVG_NS), element.tag
        assert element.tag[len(SVG_NS):] in SVG_TAGS, element.tag
    return root


def svg_strings(root):
    """Every piece of text in the picture: text nodes and tooltips."""
    return ["".join(e.itertext()) for e in root.iter() if e.tag in (SVG_NS + "text", SVG_NS + "title")]


def running_ips(state):
    return [p.ip for p in state.pods.values() if p.phase == RUNNING and p.ip]


# -- every topology ------------------------------------------------------------------------------

def test_there_are_topologies():
    assert len(TOPOLOGIES) >= 5


@pytest.mark.parametrize("path", TOPOLOGIES, ids=os.path.basename)
def test_svg_renders_every_topology(path):
    state = topology_state(path)
    root = parse_svg(graph.to_svg(state))
    texts = "\n".join(svg_strings(root))
    for node in state.nodes.values():
        assert node.name in texts
        assert node.internal_ip in texts
        if node.pod_cidr:
            assert node.pod_cidr in texts
    for ip in running_ips(state):  # every topology here has at most MAX_PODS_SHOWN Pods per node
        assert re.search(rf"(^|\s){re.escape(ip)}($|\s)", texts, re.M), ip
    assert "10.96.0.20" in texts and "NodePort 30080" in texts
    assert "no endpoints" in texts  # the Service whose selector matches nothing
    assert facts.INTERNET_IP in texts and facts.EXTERNAL_CLIENT_IP in texts
    assert str(state.spec.underlay_cidr.network_address) in texts
    width, height = float(root.get("width")), float(root.get("height"))
    assert 700 <= width <= 4000 and 200 <= height <= 3000


@pytest.mark.parametrize("path", TOPOLOGIES, ids=os.path.basename)
def test_dot_and_mermaid_name_every_node_and_pod_ip(path):
    state = topology_state(path)
    dot, mermaid = graph.to_dot(state), graph.to_mermaid(state)
    assert dot.startswith("digraph podnet {") and dot.rstrip().endswith("}")
    assert mermaid.startswith("flowchart TB\n")
    for node in state.nodes.values():
        assert node.name in dot and node.name in mermaid
        assert node.internal_ip in dot and node.internal_ip in mermaid
    for pod in state.pods.values():
        assert pod.name in dot and pod.name in mermaid
    ips = running_ips(state)
    assert ips or state.spec.cni == "none"
    for ip in ips:
        assert ip in dot and ip in mermaid
    assert _balanced_dot(dot)


def test_default_topology_shows_host_gw_routes():
    state = topology_state(os.path.join(REPO, "topologies", "default.yaml"))
    texts = "\n".join(svg_strings(parse_svg(graph.to_svg(state))))
    assert "10.244.1.0/24 via 192.168.77.12" in texts
    assert "10.244.0.0/24 via 192.168.77.11" in texts
    assert "VXLAN" not in texts
    assert "10.244.1.0/24 via 192.168.77.12 dev eth0" in graph.to_dot(state)
    assert "no NAT" in texts


def test_vxlan_topology_shows_the_tunnel():
    state = topology_state(os.path.join(REPO, "topologies", "vxlan.yaml"))
    texts = "\n".join(svg_strings(parse_svg(graph.to_svg(state))))
    assert "VXLAN overlay" in texts and "UDP 8472" in texts and "VNI 1" in texts
    assert "flannel.1 VTEP 10.244.0.0" in texts
    assert "10.244.1.0/24 via 10.244.1.0" in texts
    assert "vxlan" in graph.to_mermaid(state) and "tunnel" in graph.to_dot(state)


def test_routed_underlay_shows_segments_router_and_unroutable_cidrs():
    state = topology_state(os.path.join(REPO, "topologies", "routed.yaml"))
    texts = "\n".join(svg_strings(parse_svg(graph.to_svg(state))))
    assert "underlay segment 1 192.168.77.0/25" in texts
    assert "underlay segment 2 192.168.77.128/25" in texts
    assert "router" in texts and "192.168.77.1" in texts and "192.168.77.129" in texts
    assert "10.244.2.0/24: no route" in texts  # host-gw cannot cross the router
    assert "cut off" in texts
    dot = graph.to_dot(state)
    assert "no route to 10.244.2.0/24" in dot
    # The Internet host is the uplink on the first segment (.2 there; .1 is the router).
    assert "internet -> underlay_0;" in dot and "client -> internet;" in dot
    assert "uplink 192.168.77.2" in texts


def test_a_summarised_route_list_still_shows_what_is_unroutable():
    state = initial_state(build_spec(nodes=[(f"node-{i}", "worker") for i in range(1, 13)], pods=[],
                                     underlay="routed"))
    texts = "\n".join(svg_strings(parse_svg(graph.to_svg(state))))
    assert texts.count(": no route") == 12 and texts.count("+8 more routes") == 12


def test_tiny_cidr_node_without_pod_cidr():
    state = topology_state(os.path.join(REPO, "topologies", "tiny-cidr.yaml"))
    texts = "\n".join(svg_strings(parse_svg(graph.to_svg(state))))
    assert "podCIDR none (CIDRNotAvailable)" in texts
    assert "NotReady" in texts and "Pending" in texts


# -- other models --------------------------------------------------------------------------------

def small_state(**kwargs):
    pods = kwargs.pop("pods", [("pod-a", "node-1"), ("pod-b", "node-2")])
    return initial_state(build_spec(nodes=[("node-1", "control-plane"), ("node-2", "worker")], pods=pods, **kwargs))


def test_docker_model_shows_the_same_range_on_every_host_and_published_ports():
    state = small_state(model="docker")
    for pod in state.pods.values():
        pod.phase, pod.ip, pod.published = RUNNING, "172.17.0.2", ["8080:80/tcp"]
    root = parse_svg(graph.to_svg(state))
    texts = "\n".join(svg_strings(root))
    assert texts.count("docker0 172.17.0.1/16") == 2
    assert "172.17.0.2 :8080" in texts
    assert "NAT" in texts and "no routes to other hosts' containers" in texts
    assert "published 8080:80/tcp" in graph.to_dot(state)
    assert "published 8080:80/tcp" in graph.to_mermaid(state)


def test_vpc_native_has_no_pod_cidr_and_no_routes():
    state = small_state(cni="vpc")
    for offset, pod in enumerate(state.pods.values()):
        pod.phase, pod.ip = RUNNING, f"192.168.77.{30 + offset}"
    texts = "\n".join(svg_strings(parse_svg(graph.to_svg(state))))
    assert "Pods: /32s of 192.168.77.0/24" in texts
    assert "192.168.77.30" in texts and "192.168.77.31" in texts
    assert "routing VPC-native" in texts


def test_pods_without_network_show_their_phase():
    state = small_state(cni="missing", pods=[("pod-a", "node-1"), ("pod-b", None)])
    state.pods["pod-a"].phase = CONTAINER_CREATING
    state.pods["ghost"] = PodState(name="ghost", node=None)
    texts = "\n".join(svg_strings(parse_svg(graph.to_svg(state))))
    assert "ContainerCreating" in texts
    assert "not scheduled: ghost (Pending)" in texts
    assert "nothing implements it" in texts
    assert "ghost" in graph.to_dot(state) and "ghost" in graph.to_mermaid(state)


# -- endpoints -----------------------------------------------------------------------------------

def test_endpoints_are_running_matching_pods_of_the_namespace():
    state = small_state(pods=[("a", "node-1"), ("b", "node-2"), ("c", "node-1"), ("d", "node-2"), ("e", "node-1")])
    run_everything(state)
    for pod in state.pods.values():
        pod.labels = {"app": "web", "tier": "front"}
    state.pods["b"].namespace = "other"
    state.pods["c"].phase, state.pods["c"].ip = CONTAINER_CREATING, None
    state.pods["d"].labels = {"app": "web"}  # lacks tier=front
    service = add_service(state, selector={"app": "web", "tier": "front"})
    assert [p.name for p in facts.endpoints(state, service)] == ["a", "e"]
    assert facts.endpoints(state, add_service(state, "headless", selector={})) == []


# -- size ----------------------------------------------------------------------------------------

def test_large_lab_is_summarised_but_every_pod_is_in_the_text_formats():
    pods = [(f"p-{n}-{j}", f"node-{n}") for n in range(1, 11) for j in range(1, 26)]
    state = initial_state(build_spec(nodes=[(f"node-{n}", "worker") for n in range(1, 11)], pods=pods))
    run_everything(state)
    add_service(state)
    svg = graph.to_svg(state)
    root = parse_svg(svg)
    texts = "\n".join(svg_strings(root))
    hidden = 25 - (facts.MAX_PODS_SHOWN - 1)
    assert texts.count(f"+{hidden} more Pods") == 10
    assert "+6 more routes" in texts
    assert float(root.get("width")) < 2000 and float(root.get("height")) < 1500
    dot, mermaid = graph.to_dot(state), graph.to_mermaid(state)
    for ip in running_ips(state):
        assert ip in dot and ip in mermaid


def test_three_by_two_is_compact():
    state = topology_state(os.path.join(REPO, "topologies", "default.yaml"))
    root = parse_svg(graph.to_svg(state))
    assert float(root.get("width")) < 1400 and float(root.get("height")) < 700
    assert "more Pods" not in "\n".join(svg_strings(root))


# -- escaping ------------------------------------------------------------------------------------

def hostile_state():
    state = small_state(pods=[("pod-a", "node-1")])
    run_everything(state)
    state.pods[HOSTILE] = PodState(name=HOSTILE, node="node-1", phase=RUNNING, ip="10.244.0.99",
                                   namespace=HOSTILE, labels={"app": HOSTILE})
    service = ServiceState(HOSTILE, HOSTILE, "ClusterIP", "10.96.0.9", {"app": HOSTILE},
                           [ServicePortState(HOSTILE, "TCP", 80, HOSTILE)])
    state.services[service.key] = service
    state.nodes["node-1"].network_unavailable = HOSTILE
    return state


def test_svg_escapes_hostile_names():
    svg = graph.to_svg(hostile_state())
    root = parse_svg(svg)  # well-formed, only our own elements: no <script> got through
    assert "<script" not in svg
    strings = svg_strings(root)
    cleaned = HOSTILE.replace("\x00", "\ufffd").replace("\x1b", "\ufffd").replace("\x07", "\ufffd").replace("\n", " ")
    assert any(cleaned in s for s in strings)  # the full name survives in a tooltip
    assert any("10.244.0.99" in s for s in strings)


def _balanced_dot(dot: str) -> bool:
    """Every double-quoted DOT string is closed, and braces outside strings balance."""
    outside = re.sub(r'"(?:[^"\\\n]|\\.)*"', '""', dot)
    return '"' not in outside.replace('""', "") and outside.count("{") == outside.count("}")


def test_dot_escapes_hostile_names():
    dot = graph.to_dot(hostile_state())
    assert _balanced_dot(dot)
    outside = re.sub(r'"(?:[^"\\\n]|\\.)*"', '""', dot)
    assert "script" not in outside and "alert" not in outside and "init" not in outside
    assert "\x00" not in dot and "\x1b" not in dot
    strings = re.findall(r'"((?:[^"\\\n]|\\.)*)"', dot)
    assert any('<script>alert(\\"x\\")</script>' in s for s in strings)


def test_mermaid_escapes_hostile_names():
    mermaid = graph.to_mermaid(hostile_state())
    labels = re.findall(r'"([^"\n]*)"', mermaid)
    assert labels
    for label in labels:
        assert not re.search(r"[<>`{}\[\]|%;&]", label.replace("<br/>", "").replace("#", "").replace(";", "")), label
    assert "%%{" not in mermaid and "<script" not in mermaid
    assert "#60;script#62;" in mermaid
    for line in mermaid.splitlines():
        assert line.startswith(("flowchart", "  ")), line
    assert mermaid.count('"') % 2 == 0


def test_escape_helpers():
    assert facts.xml_escape('<a href="x">&\'') == "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
    assert facts.xml_escape("a\x00b\nc") == "a\ufffdb c"
    assert facts.dot_escape('a"b\\n') == 'a\\"b\\\\n'
    assert facts.mermaid_escape('web "x" <b>') == "web #34;x#34; #60;b#62;"


# -- PNG -----------------------------------------------------------------------------------------

def _fake_tool(directory, name, script):
    path = os.path.join(directory, name)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("#!/bin/sh\n" + script + "\n")
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def test_png_without_any_converter_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(KernelError, match="librsvg2-bin"):
        graph.to_png("<svg xmlns='http://www.w3.org/2000/svg'/>")


def test_png_reports_a_failing_converter(tmp_path, monkeypatch):
    _fake_tool(tmp_path, "rsvg-convert", "while read -r _; do :; done; echo 'rsvg-convert: broken SVG' >&2; exit 3")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(KernelError, match=r"rsvg-convert exited 3: rsvg-convert: broken SVG"):
        graph.to_png("<svg/>")


def test_png_rejects_output_that_is_not_png_and_falls_back(tmp_path, monkeypatch):
    _fake_tool(tmp_path, "rsvg-convert", "while read -r _; do :; done; echo 'not a png'")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(KernelError, match="without writing a PNG"):
        graph.to_png("<svg/>")
    # ImageMagick as the fallback: its answer is taken when rsvg-convert's is not a PNG.
    _fake_tool(tmp_path, "convert", r"while read -r _; do :; done; printf '\211PNG\r\n\032\nfake'")
    assert graph.to_png("<svg/>") == b"\x89PNG\r\n\x1a\nfake"


def test_png_prefers_rsvg_convert(tmp_path, monkeypatch):
    _fake_tool(tmp_path, "rsvg-convert", r"while read -r _; do :; done; printf '\211PNG\r\n\032\nrsvg'")
    _fake_tool(tmp_path, "convert", r"while read -r _; do :; done; printf '\211PNG\r\n\032\nmagick'")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert graph.to_png("<svg/>").endswith(b"rsvg")
    assert [argv[0] for argv in graph.png_converters()] == ["rsvg-convert", "convert"]


# -- the command (podnet graph), on a saved state in a private run directory ---------------------

@pytest.fixture
def saved_lab(tmp_path, monkeypatch):
    from podnet.kernel import state_file as state_store

    monkeypatch.setattr(state_store, "RUN_DIR", str(tmp_path / "run"))
    state = topology_state(os.path.join(REPO, "topologies", "default.yaml"))
    state_store.claim(state.name, state)
    return state


@pytest.fixture
def graph_cli():
    import argparse

    from podnet.cli import graph as graph_verbs

    parser = argparse.ArgumentParser(prog="podnet")
    graph_verbs.add_parsers(parser.add_subparsers(dest="command", required=True))

    def run(*argv):
        args = parser.parse_args(["graph", *argv])
        return graph_verbs.HANDLERS["graph"](args)

    return run


def test_cmd_graph_prints_svg_by_default(saved_lab, graph_cli, capsys):
    assert graph_cli() == 0  # the only lab in the run directory is picked
    root = parse_svg(capsys.readouterr().out)
    assert any("pod-1-1" in s for s in svg_strings(root))


@pytest.mark.parametrize("fmt,needle", [("mermaid", "flowchart TB"), ("dot", "digraph podnet")])
def test_cmd_graph_prints_text_formats(saved_lab, graph_cli, capsys, fmt, needle):
    assert graph_cli("--name", "podnet", "-f", fmt) == 0
    assert needle in capsys.readouterr().out


@pytest.mark.parametrize("filename,needle", [
    ("lab.svg", b"<svg"), ("lab.mmd", b"flowchart"), ("lab.dot", b"digraph"), ("lab.gv", b"digraph"),
])
def test_cmd_graph_writes_a_new_file_by_extension(saved_lab, graph_cli, capsys, tmp_path, filename, needle):
    target = tmp_path / filename
    assert graph_cli("-w", str(target)) == 0
    assert needle in target.read_bytes()
    assert stat.S_IMODE(target.stat().st_mode) & 0o022 == 0
    assert f"written to {target}" in capsys.readouterr().out


def test_cmd_graph_never_overwrites_or_follows_symlinks(saved_lab, graph_cli, tmp_path):
    from podnet.core.errors import InputError

    existing = tmp_path / "old.svg"
    existing.write_text("keep me", encoding="utf-8")
    with pytest.raises(InputError, match="already exists"):
        graph_cli("-w", str(existing))
    assert existing.read_text(encoding="utf-8") == "keep me"
    link = tmp_path / "link.svg"
    link.symlink_to(tmp_path / "elsewhere.svg")
    with pytest.raises(InputError):
        graph_cli("-w", str(link))
    assert not (tmp_path / "elsewhere.svg").exists()
    with pytest.raises(InputError, match="does not exist"):
        graph_cli("-w", str(tmp_path / "no-dir" / "x.svg"))
    with pytest.raises(InputError, match="give -f"):
        graph_cli("-w", str(tmp_path / "x.txt"))
    assert graph_cli("-f", "dot", "-w", str(tmp_path / "x.txt")) == 0  # -f wins over the extension


def test_cmd_graph_png_via_converter(saved_lab, graph_cli, tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_tool(bin_dir, "rsvg-convert", r"while read -r _; do :; done; printf '\211PNG\r\n\032\nok'")
    monkeypatch.setenv("PATH", str(bin_dir))
    assert graph_cli("-w", str(tmp_path / "lab.png")) == 0
    assert (tmp_path / "lab.png").read_bytes().startswith(png.PNG_SIGNATURE)


def test_cmd_graph_unknown_lab(saved_lab, graph_cli):
    from podnet.core.errors import LabConflict

    with pytest.raises(LabConflict, match="no lab named 'gq-absent'"):
        graph_cli("--name", "gq-absent")
