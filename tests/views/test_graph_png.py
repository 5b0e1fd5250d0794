"""podnet graph on a real running lab, and real SVG -> PNG conversion (rsvg-convert).

The lab is brought up through the CLI under a ``gq-`` name and always taken down by the
``make_lab`` fixture. The graph handlers are called in-process on the state the running lab
saved, exactly as ``podnet graph`` calls them.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import struct
import xml.etree.ElementTree as ET

import pytest

from podnet.cli import graph as graph_verbs
from podnet.core.errors import KernelError
from podnet.views import graph
from podnet.views.graph import png
from podnet.kernel import state_file as state_store

from tests.support.processes import podnet

pytestmark = pytest.mark.root


PNG = png.PNG_SIGNATURE


def _graph(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="podnet")
    graph_verbs.add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["graph", *argv])
    return graph_verbs.HANDLERS["graph"](args)


def _png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(PNG) and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.fixture
def rsvg():
    if shutil.which("rsvg-convert") is None:
        pytest.skip("rsvg-convert is not installed (apt package librsvg2-bin, installed by scripts/install.sh)")


def test_svg_to_png_with_rsvg_convert(rsvg):
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" width="120" height="80">'
           '<rect x="0" y="0" width="120" height="80" fill="#ffffff"/><text x="10" y="40">&lt;ok&gt;</text></svg>')
    assert _png_size(graph.to_png(svg)) == (120, 80)


def test_broken_svg_is_a_clear_error(rsvg, monkeypatch):
    monkeypatch.setattr(png, "png_converters", lambda: [["rsvg-convert", "--format", "png"]])
    with pytest.raises(KernelError, match="rsvg-convert exited"):
        graph.to_png("<svg this is not xml")


def test_graph_of_a_running_lab(make_lab, rsvg, tmp_path):
    lab = make_lab("gq-" + secrets.token_hex(3))
    lab.up("--nodes", "2", "--pods-per-node", "2", "--cni", "builtin")
    pods = json.loads(podnet("get", "pods", "-o", "json", "--name", lab.name, check=True).stdout)["items"]
    ips = [p["status"]["podIP"] for p in pods]
    assert len(ips) == 4 and all(ips)

    svg_file, png_file = tmp_path / "lab.svg", tmp_path / "lab.png"
    mermaid_file, dot_file = tmp_path / "lab.mmd", tmp_path / "lab.dot"
    for target in (svg_file, png_file, mermaid_file, dot_file):
        assert _graph("--name", lab.name, "-w", str(target)) == 0

    root = ET.fromstring(svg_file.read_bytes())
    texts = "\n".join("".join(e.itertext()) for e in root.iter())
    state = state_store.load(lab.name)
    for node in state.nodes.values():
        assert node.name in texts and node.internal_ip in texts and node.pod_cidr in texts
    for ip in ips:
        assert ip in texts
        assert ip in mermaid_file.read_text(encoding="utf-8")
        assert ip in dot_file.read_text(encoding="utf-8")
    width, height = _png_size(png_file.read_bytes())
    assert (width, height) == (round(float(root.get("width"))), round(float(root.get("height"))))
    assert png_file.stat().st_mode & 0o777 in (0o644, 0o640, 0o600)
