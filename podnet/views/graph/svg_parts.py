"""The pieces an SVG diagram is drawn with: sizes, style, primitives, and a node's box.

Mirrors nothing in Kubernetes; podnet's own drawing, in the spirit of the topic's figure: a
node is a box with its name, role, readiness, INTERNAL-IP and podCIDR, its Pods (Pending and
ContainerCreating ones dashed and grey, IPs in red where missing), small coloured markers for
the Services a Pod backs, and the routes (host-gw) or the tunnel note (VXLAN) at its foot. A
big node shows its first Pods and "+k more". Every text is escaped; tooltips carry the full
names. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from podnet.core.model import RUNNING, LabState, NodeState, PodState
from podnet.core.netobjects import UNDERLAY_IFNAME
from podnet.k8s.routing import vxlan
from podnet.views.graph.facts import (
    MAX_PODS_SHOWN, MAX_ROUTES_SHOWN, node_address_lines, node_routes, pod_address, pod_label_lines, published_short,
    short, xml_escape,
)

MARGIN = 24
NODE_W = 260
NODE_GAP = 36
ROW_GAP = 56
LINE = 15  # text line height
POD_H = 17
SERVICE_W = 260
SERVICE_GAP = 20
EXTERNAL_W = 200
ROUTER_W = 120
BAR_H = 28
CHAR_W = 6.7  # width of one 11px monospace character, for layout only
TEXT_CHARS = 35  # monospace characters that fit on one line of a node or Service box

STYLE = """
text { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; font-size: 12px; fill: #1b1b1b; }
.title { font-size: 16px; font-weight: bold; }
.sub { font-size: 12px; fill: #444444; }
.caption { font-size: 13px; font-style: italic; fill: #333333; }
.mono { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 11px; }
.small { font-size: 10px; fill: #444444; }
.head { font-weight: bold; font-size: 13px; }
.bad { fill: #b03a2e; }
.node { fill: #eef4fb; stroke: #3b6ea5; stroke-width: 1.5; }
.pod { fill: #ffffff; stroke: #5d9b3a; stroke-width: 1; }
.pending { fill: #eeeeee; stroke: #999999; stroke-width: 1; stroke-dasharray: 3 2; }
.bar { fill: #d9d9d9; stroke: #555555; stroke-width: 1; }
.link { stroke: #555555; stroke-width: 2; fill: none; }
.overlay { fill: #fdf0e3; stroke: #d9822b; stroke-width: 2; stroke-dasharray: 8 4; }
.service { fill: #ffffff; stroke-width: 2; }
.external { fill: #fffbe6; stroke: #b7950b; stroke-width: 1.5; }
.router { fill: #f4ecf7; stroke: #6c3483; stroke-width: 1.5; }
.endpoint { fill: none; stroke-width: 1.2; stroke-dasharray: 5 3; opacity: 0.7; }
""".strip()


@dataclass
class Canvas:
    parts: list[str] = field(default_factory=list)

    def rect(self, x: float, y: float, w: float, h: float, cls: str, rx: float = 6, extra: str = "") -> None:
        self.parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="{rx}" '
                          f'class="{cls}"{extra}/>')

    def text(self, x: float, y: float, content: object, cls: str = "", anchor: str = "start",
             tooltip: object | None = None, extra: str = "") -> None:
        attrs = f' class="{cls}"' if cls else ""
        if anchor != "start":
            attrs += f' text-anchor="{anchor}"'
        inner = xml_escape(content)
        if tooltip is not None:
            inner = f"<title>{xml_escape(tooltip)}</title>{inner}"
        self.parts.append(f'<text x="{x:.1f}" y="{y:.1f}"{attrs}{extra}>{inner}</text>')

    def line(self, x1: float, y1: float, x2: float, y2: float, cls: str, extra: str = "") -> None:
        self.parts.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" class="{cls}"{extra}/>')

    def path(self, d: str, cls: str, extra: str = "") -> None:
        self.parts.append(f'<path d="{d}" class="{cls}"{extra}/>')


@dataclass
class NodeBox:
    node: NodeState
    head: list[str]
    pods: list[PodState]
    hidden: int
    routes: list[str]
    missing: list[str]
    routes_hidden: int
    x: float = 0
    y: float = 0
    h: float = 0


def node_box(state: LabState, node: NodeState, pods: list[PodState]) -> NodeBox:
    shown = pods if len(pods) <= MAX_PODS_SHOWN else pods[: MAX_PODS_SHOWN - 1]
    routes, missing = node_routes(state, node)
    route_text = [f"{dst} via {via}" for dst, via in routes]
    missing_text = [f"{cidr}: no route" for cidr, _owner in missing]
    if len(route_text) + len(missing_text) > MAX_ROUTES_SHOWN:
        room = MAX_ROUTES_SHOWN - 1  # one line says "+k more routes"
        keep_missing = min(len(missing_text), max(1, room - len(route_text)))  # what is broken stays visible
        route_text, missing_text = route_text[: room - keep_missing], missing_text[:keep_missing]
    box = NodeBox(node, node_address_lines(state, node), shown, len(pods) - len(shown), route_text, missing_text,
                   len(routes) + len(missing) - len(route_text) - len(missing_text))
    rows = len(box.pods) + (1 if box.hidden else 0)
    route_rows = len(box.routes) + len(box.missing) + (1 if box.routes_hidden else 0)
    box.h = (8 + LINE * (1 + len(box.head)) + 6 + POD_H * max(rows, 1) + 6
             + (LINE * (route_rows + 1) if route_rows or routing_note(state) else 0) + 6)
    return box


def routing_note(state: LabState) -> str:
    spec = state.spec
    if spec.model == "docker":
        return "no routes to other hosts' containers"
    if spec.cni == "vpc":
        return "a /32 route per local Pod (no podCIDR)"
    return ""


def draw_node(svg: Canvas, state: LabState, box: NodeBox, pod_pos: dict, markers: dict) -> None:
    node = box.node
    svg.rect(box.x, box.y, NODE_W, box.h, "node", 8)
    y = box.y + 8 + 12
    svg.text(box.x + 10, y, short(f"{node.name} ({node.role})", 26), "head",
             tooltip=f"node {node.name} ({node.role})")
    svg.text(box.x + NODE_W - 10, y, node.status_text, "small" if node.ready else "small bad", "end")
    for line in box.head:
        y += LINE
        svg.text(box.x + 10, y, short(line, TEXT_CHARS), "mono")
    y += 8
    inner_w = NODE_W - 20
    for pod in box.pods:
        running = pod.phase == RUNNING
        address = pod_address(pod) + published_short(pod)
        colours = markers.get(pod.name, [])[:4]
        svg.rect(box.x + 10, y, inner_w, POD_H - 2, "pod" if running else "pending", 4)
        for i, colour in enumerate(colours):
            svg.rect(box.x + inner_w - i * 9, y + 4, 7, 7, "service", 1, f' style="fill: {colour}; stroke: {colour}"')
        ip_end = box.x + 10 + inner_w - 6 - len(colours) * 9
        room = int((ip_end - (box.x + 16)) / CHAR_W) - len(address) - 1
        svg.text(box.x + 16, y + 11.5, short(pod.name, max(room, 4)), "mono",
                 tooltip=" ".join([f"Pod {pod.namespace}/{pod.name}", *pod_label_lines(pod)[1:]]))
        svg.text(ip_end, y + 11.5, address, "mono" if running else "mono bad", "end")
        pod_pos[pod.name] = (box.x + 10 + inner_w / 2, y)
        y += POD_H
    if box.hidden:
        svg.text(box.x + 16, y + 11.5, f"+{box.hidden} more Pods", "small")
        y += POD_H
    if not box.pods and not box.hidden:
        svg.text(box.x + 16, y + 11.5, "no Pods", "small")
        y += POD_H
    note = routing_note(state)
    if not (box.routes or box.missing or box.routes_hidden or note):
        return
    y += 6 + 10
    if not note:
        dev = vxlan.DEVICE if state.spec.routing == "vxlan" else UNDERLAY_IFNAME
        note = f"routes to other nodes' Pods (dev {dev}):"
    svg.text(box.x + 10, y, note, "small")
    for route in box.routes:
        y += LINE
        svg.text(box.x + 10, y, short(route, TEXT_CHARS), "mono")
    for missing in box.missing:
        y += LINE
        svg.text(box.x + 10, y, short(missing, TEXT_CHARS), "mono bad",
                 tooltip="host-gw needs the next hop on a connected network: this node is on another L2 segment")
    if box.routes_hidden:
        y += LINE
        svg.text(box.x + 10, y, f"+{box.routes_hidden} more routes", "small")


