"""Diagrams of a lab: the topic's flat-network figure, drawn from the lab's own state.

Mirrors containerlab's ``graph`` verb and the figure of the topic (nodes on one network,
each with its Pods and their IPs): an underlay bar with every node's INTERNAL-IP, each node's
podCIDR and Pods, the host-gw routes of each node or the VXLAN tunnel between them, the
Services with their ClusterIP and the Pods behind it, and the emulated Internet host and
external client when the lab has them. Four outputs: SVG (our own layout, no library),
PNG (the SVG through ``rsvg-convert`` or ImageMagick), Mermaid and Graphviz DOT text.
Deviations: the routes and endpoints drawn are the ones the controller *wants* (computed
from the state with the same functions it and the endpoints controller use), not read back
from the kernel or from kube-proxy's rules; a big lab is summarised (the first Pods of a
node and "+k more"), except in Mermaid and DOT, which list everything. Pure: reads a :class:`~podnet.model.LabState`, touches no kernel;
only :func:`to_png` runs an external program.

Every name in a diagram may come from a user, so every piece of text is escaped for the
format it lands in, and no user text is ever used as an identifier (SVG ids, DOT and
Mermaid node ids are generated).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from ipaddress import IPv4Network

from podnet import plan
from podnet.errors import KernelError
from podnet.model import RUNNING, LabState, NodeState, PodState, ServiceState
from podnet.routing import hostgw, vxlan
from podnet.workloads.endpoints import selects

# The hosts outside the cluster (see podnet.external): "the Internet" is also the nodes' uplink.
INTERNET_IP = "8.8.8.8"
INTERNET_NAMES = {"8.8.8.8": "dns.google", "93.184.215.14": "example.com"}
EXTERNAL_CLIENT_IP = "203.0.113.10"
DOCKER_SUBNET = "172.17.0.0/16"  # the same on every host (see podnet.dockerbridge)
DOCKER_GATEWAY = "172.17.0.1"

# Summaries in the SVG: beyond these, a node box shows the first ones and "+k more".
MAX_PODS_SHOWN = 10
MAX_ROUTES_SHOWN = 4
MAX_ENDPOINT_LINES = 40  # above this many Service -> Pod lines, only coloured markers
MAX_NAME_CHARS = 20  # longer names are cut (with an ellipsis) in the SVG; the title keeps them

SERVICE_COLOURS = ("#8e44ad", "#c0392b", "#16a085", "#d35400", "#2c3e50", "#7f8c8d", "#b7950b", "#1f618d")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_TIMEOUT = 60

# -- the facts every format draws -------------------------------------------------------------


def endpoints(state: LabState, service: ServiceState) -> list[PodState]:
    """The Pods behind a Service, as the endpoints controller picks them: Running, with an IP,
    in the Service's namespace, carrying every label of its selector. A Service without a
    selector gets no endpoints this way (in Kubernetes someone writes them by hand)."""
    return [p for p in state.pods.values() if p.phase == RUNNING and p.ip and selects(service, p)]


def node_routes(state: LabState, node: NodeState) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The node's routes to other nodes' Pods as (podCIDR, next hop), and the podCIDRs it
    cannot route as (podCIDR, owning node): host-gw's next hop must share its L2 segment."""
    spec = state.spec
    if spec.model == "docker" or spec.cni == "vpc":
        return [], []
    if spec.routing == "vxlan":
        return [(str(r.dst), str(r.gateway)) for r in sorted(vxlan.desired_routes(state, node.name))], []
    routes = [(str(r.dst), str(r.gateway)) for r in sorted(hostgw.desired_routes(state, node.name))]
    missing = [
        (str(other.pod_cidr), other.name)
        for other in state.nodes.values()
        if other.name != node.name and other.pod_cidr and other.segment != node.segment
    ]
    return routes, missing


def route_lines(state: LabState, node: NodeState) -> list[str]:
    """The node's routes in ``ip route`` words, then what it cannot route and why."""
    routes, missing = node_routes(state, node)
    dev = f" dev {vxlan.DEVICE} onlink" if state.spec.routing == "vxlan" else f" dev {hostgw.UNDERLAY_IFNAME}"
    lines = [f"{dst} via {via}{dev}" for dst, via in routes]
    lines += [f"no route to {cidr} ({owner}): the next hop is off this L2 segment" for cidr, owner in missing]
    return lines


def node_address_lines(state: LabState, node: NodeState) -> list[str]:
    """What a node box says under its name: INTERNAL-IP, the Pods' range, the VTEP."""
    spec = state.spec
    lines = [f"INTERNAL-IP {node.internal_ip}"]
    if spec.model == "docker":
        lines.append(f"docker0 {DOCKER_GATEWAY}/16")
        lines.append(f"SNAT {DOCKER_SUBNET} to host IP")
    elif spec.cni == "vpc":
        lines.append(f"Pods: /32s of {spec.underlay_cidr}")
    elif node.pod_cidr:
        lines.append(f"podCIDR {node.pod_cidr}")
    else:
        lines.append(f"podCIDR none ({node.network_unavailable or 'not allocated'})")
    if spec.model != "docker" and spec.routing == "vxlan" and node.pod_cidr:
        lines.append(f"{vxlan.DEVICE} VTEP {IPv4Network(node.pod_cidr).network_address}")
    return lines


def pods_by_node(state: LabState) -> tuple[dict[str, list[PodState]], list[PodState]]:
    """Pods of each node in state order, and the Pods bound to no known node."""
    placed: dict[str, list[PodState]] = {name: [] for name in state.nodes}
    unplaced = []
    for pod in state.pods.values():
        if pod.node in placed:
            placed[pod.node].append(pod)  # type: ignore[index]
        else:
            unplaced.append(pod)
    return placed, unplaced


def pod_address(pod: PodState) -> str:
    """The Pod's IP when Running, else its phase (Pending, ContainerCreating)."""
    return pod.ip if pod.phase == RUNNING and pod.ip else pod.phase


def pod_label_lines(pod: PodState) -> list[str]:
    """Name, address and (Docker model) published ports, for DOT and Mermaid."""
    lines = [pod.name, pod_address(pod)]
    if pod.published:
        lines.append("published " + ", ".join(pod.published))
    return lines


def _published_short(pod: PodState) -> str:
    """The host port others must use, e.g. ' :8080' for a container published as 8080:80/tcp."""
    if not pod.published:
        return ""
    return " :" + str(pod.published[0]).split(":", 1)[0] + ("+" if len(pod.published) > 1 else "")


def service_ports(service: ServiceState) -> str:
    parts = []
    for port in service.ports:
        text = f"{port.port}/{port.protocol}"
        if str(port.target_port) != str(port.port):
            text += f"->{port.target_port}"
        if port.node_port:
            text += f" NodePort {port.node_port}"
        parts.append(text)
    return ", ".join(parts) or "no ports"


def service_lines(service: ServiceState) -> list[str]:
    """Name, type and ClusterIP, ports: how DOT and Mermaid label a Service."""
    return [f"Service {service.namespace}/{service.name}", f"{service.type} {service.cluster_ip}",
            service_ports(service)]


def title_lines(state: LabState) -> list[str]:
    spec = state.spec
    if spec.model == "docker":
        first = f"lab {state.name}: Docker bridge on each of {len(state.nodes)} hosts"
        second = f"containers in {DOCKER_SUBNET} on every host, egress NAT to the host IP, published ports"
    else:
        routing = "VPC-native" if spec.cni == "vpc" else spec.routing
        first = (f"lab {state.name}: {len(state.nodes)} nodes, CNI {spec.cni}, routing {routing}, "
                 f"underlay {spec.underlay}")
        second = (f"cluster CIDR {spec.cluster_cidr} (/{spec.node_cidr_mask_size} per node), "
                  f"Service CIDR {spec.service_cidr}, underlay {spec.underlay_cidr}")
    return [first, second]


def caption(state: LabState) -> str:
    """The figure's one-line moral, for this lab."""
    if state.spec.model == "docker":
        return "Containers share their host's IP: other hosts reach them only through published ports and NAT."
    if state.spec.cni in ("none", "missing"):
        return "No working CNI plugin: the network model is defined, but nothing implements it yet."
    if any(node_routes(state, node)[1] for node in state.nodes.values()):
        return ("host-gw cannot route across the router: Pods on different segments are cut off "
                "(an overlay, podnet routing vxlan, is not).")
    return "Any Pod reaches any other Pod directly by its IP, across nodes: no NAT, no port mapping."


def uplink_address(state: LabState) -> str:
    """Where the emulated Internet meets the underlay: .1 of the first segment (the nodes'
    gateway), or .2 on a routed underlay, where .1 is the router (as podnet.external does)."""
    first = segment_networks(state)[0]
    return str(first.network_address + (2 if state.spec.underlay == "routed" else 1))


def outside_hosts(state: LabState) -> list[tuple[str, str, list[str]]]:
    """(id, title, lines) of the external client and the Internet host, client first: the
    client reaches the cluster through the Internet host, which is the underlay's uplink."""
    if not state.external:
        return []
    nodeports = [str(p.node_port) for s in state.services.values() for p in s.ports if p.node_port]
    client_note = f"-> NodeIP:{nodeports[0]} -> a Pod" if nodeports else "outside the cluster"
    return [
        ("client", "external client", [EXTERNAL_CLIENT_IP, client_note]),
        ("internet", "Internet (emulated)", [*(f"{ip} {name}" for ip, name in INTERNET_NAMES.items()),
                                             f"uplink {uplink_address(state)}, Pods SNATed"]),
    ]


def segment_networks(state: LabState) -> list[IPv4Network]:
    return plan.segments(state.spec)


def router_addresses(state: LabState) -> list[str]:
    return [str(plan.router_ip(state.spec, i)) for i in range(len(segment_networks(state)))]


# -- text escaping ------------------------------------------------------------------------------

# Characters XML 1.0 does not allow at all (even escaped): C0 controls but tab/newline/CR,
# surrogates, U+FFFE/U+FFFF.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _clean(text: object) -> str:
    """One line of text: control characters become U+FFFD, line breaks a space."""
    return _XML_INVALID.sub("\ufffd", str(text)).replace("\r", " ").replace("\n", " ").replace("\t", " ")


def xml_escape(text: object) -> str:
    """Text for an SVG text node or attribute value."""
    return (_clean(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#39;"))


def dot_escape(text: object) -> str:
    """Text for inside a double-quoted DOT string (backslash starts DOT's own escapes)."""
    return _clean(text).replace("\\", "\\\\").replace('"', '\\"')


_MERMAID_SAFE = re.compile(r"[A-Za-z0-9 .,:/()+=_\-]")


def mermaid_escape(text: object) -> str:
    """Text for inside a quoted Mermaid label: anything but plain letters, digits and a few
    punctuation marks becomes an entity code (#60; for <), so no label can close its quotes,
    start HTML or Markdown, or end the diagram."""
    return "".join(ch if _MERMAID_SAFE.fullmatch(ch) else f"#{ord(ch)};" for ch in _clean(text))


def _short(text: object, limit: int = MAX_NAME_CHARS) -> str:
    text = _clean(text)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


# -- Mermaid ------------------------------------------------------------------------------------


def to_mermaid(state: LabState) -> str:
    """A Mermaid flowchart: a subgraph per node with its Pods, the underlay, Services."""

    def label(*lines: object) -> str:
        return '"' + "<br/>".join(mermaid_escape(line) for line in lines) + '"'

    out = ["flowchart TB"]
    for line in title_lines(state):
        out.append(f"  %% {mermaid_escape(line)}")
    ids = _Ids(state)
    placed, unplaced = pods_by_node(state)
    segments = segment_networks(state)
    for index, net in enumerate(segments):
        what = "underlay" if len(segments) == 1 else f"underlay segment {index + 1}"
        out.append(f"  {ids.segment(index)}[({label(f'{what} {net}')})]")
    if len(segments) > 1:
        routers = router_addresses(state)
        out.append(f"  router{{{{{label('router', ' / '.join(routers))}}}}}")
        for index in range(len(segments)):
            out.append(f"  router --- {ids.segment(index)}")
    for node in state.nodes.values():
        nid = ids.node(node.name)
        routes = route_lines(state, node)
        head = [f"{node.name} ({node.role}, {node.status_text})", *node_address_lines(state, node)]
        out.append(f"  subgraph {nid}_box[{label(*head)}]")
        out.append("    direction TB")
        out.append(f"    {nid}[{label(node.name + ' eth0', node.internal_ip)}]")
        for pod in placed[node.name]:
            pid = ids.pod(pod.name)
            out.append(f"    {pid}[{label(*pod_label_lines(pod))}]")
            out.append(f"    {nid} --- {pid}")
        if routes:
            out.append(f"    {nid}_routes[{label('routes', *routes)}]")
            out.append(f"    {nid} -.- {nid}_routes")
        out.append("  end")
        out.append(f"  {nid} --- {ids.segment(node.segment)}")
    if unplaced:
        out.append(f"  subgraph unscheduled[{label('not scheduled')}]")
        for pod in unplaced:
            out.append(f"    {ids.pod(pod.name)}[{label(pod.name, pod_address(pod))}]")
        out.append("  end")
    if _has_overlay(state):
        out.append(f"  vxlan(({label('VXLAN overlay', f'{vxlan.DEVICE} VNI {vxlan.VNI} UDP {vxlan.PORT}')}))")
        for node in state.nodes.values():
            if node.pod_cidr:
                out.append(f"  {ids.node(node.name)} -. tunnel .- vxlan")
    for key, service in state.services.items():
        sid = ids.service(key)
        out.append(f"  {sid}{{{{{label(*service_lines(service))}}}}}")
        backends = endpoints(state, service)
        for pod in backends:
            out.append(f"  {sid} -.-> {ids.pod(pod.name)}")
        if not backends:
            out.append(f"  {sid}_none[{label('no endpoints: connections refused')}]")
            out.append(f"  {sid} -.- {sid}_none")
    for hid, title, lines in outside_hosts(state):
        out.append(f"  {hid}[{label(title, *lines)}]")
    if state.external:
        out.append("  client --- internet")
        out.append(f"  internet --- {ids.segment(0)}")
    out.append("  classDef pending fill:#eeeeee,stroke:#999999,color:#555555")
    pending = [ids.pod(p.name) for p in state.pods.values() if p.phase != RUNNING]
    if pending:
        out.append(f"  class {','.join(pending)} pending")
    return "\n".join(out) + "\n"


class _Ids:
    """Generated identifiers for nodes, Pods and Services: never user text."""

    def __init__(self, state: LabState):
        self._nodes = {name: f"node_{i}" for i, name in enumerate(state.nodes)}
        self._pods = {name: f"pod_{i}" for i, name in enumerate(state.pods)}
        self._services = {key: f"svc_{i}" for i, key in enumerate(state.services)}

    def node(self, name: str) -> str:
        return self._nodes[name]

    def pod(self, name: str) -> str:
        return self._pods[name]

    def service(self, key: str) -> str:
        return self._services[key]

    @staticmethod
    def segment(index: int) -> str:
        return f"underlay_{index}"


def _has_overlay(state: LabState) -> bool:
    return state.spec.model != "docker" and state.spec.cni != "vpc" and state.spec.routing == "vxlan"


# -- DOT ----------------------------------------------------------------------------------------


def to_dot(state: LabState) -> str:
    """Graphviz DOT: a cluster per node with its Pods, the underlay, Services, routes."""

    def label(*lines: object) -> str:
        return '"' + "\\n".join(dot_escape(line) for line in lines) + '"'

    ids = _Ids(state)
    placed, unplaced = pods_by_node(state)
    segments = segment_networks(state)
    out = [
        "digraph podnet {",
        f"  graph [label={label(*title_lines(state), caption(state))}, labelloc=t, fontname=\"Helvetica\", "
        "compound=true, newrank=true];",
        '  node [fontname="Helvetica", fontsize=10, shape=box];',
        '  edge [fontname="Helvetica", fontsize=9, dir=none];',
    ]
    for index, net in enumerate(segments):
        what = "underlay" if len(segments) == 1 else f"underlay segment {index + 1}"
        out.append(f'  {ids.segment(index)} [label={label(f"{what} {net}")}, shape=box, style="filled", '
                   'fillcolor="#dddddd", width=6];')
    if len(segments) > 1:
        out.append(f'  router [label={label("router", *router_addresses(state))}, shape=box3d];')
        for index in range(len(segments)):
            out.append(f"  router -> {ids.segment(index)};")
    for node in state.nodes.values():
        nid = ids.node(node.name)
        routes = route_lines(state, node)
        head = [f"{node.name} ({node.role}, {node.status_text})", *node_address_lines(state, node)]
        out.append(f"  subgraph cluster_{nid} {{")
        out.append(f'    label={label(*head)}; style="rounded"; color="#3b6ea5";')
        lines = [f"{node.name} eth0 {node.internal_ip}"]
        if routes:
            lines += ["routes:", *routes]
        out.append(f'    {nid} [label={label(*lines)}, style="filled", fillcolor="#eef4fb"];')
        for pod in placed[node.name]:
            style = 'style="rounded"' if pod.phase == RUNNING else 'style="rounded,filled", fillcolor="#eeeeee"'
            out.append(f"    {ids.pod(pod.name)} [label={label(*pod_label_lines(pod))}, {style}];")
            out.append(f"    {nid} -> {ids.pod(pod.name)} [label=\"veth\"];")
        out.append("  }")
        out.append(f"  {nid} -> {ids.segment(node.segment)} [label=\"eth0\"];")
    if unplaced:
        out.append("  subgraph cluster_unscheduled {")
        out.append('    label="not scheduled"; style="dashed";')
        for pod in unplaced:
            out.append(f'    {ids.pod(pod.name)} [label={label(pod.name, pod_address(pod))}, style="rounded,filled", '
                       'fillcolor="#eeeeee"];')
        out.append("  }")
    if _has_overlay(state):
        out.append(f'  vxlan [label={label("VXLAN overlay", f"{vxlan.DEVICE} VNI {vxlan.VNI} UDP {vxlan.PORT}")}, '
                   'shape=ellipse, style="dashed", color="#d9822b"];')
        for node in state.nodes.values():
            if node.pod_cidr:
                out.append(f'  {ids.node(node.name)} -> vxlan [style="dashed", color="#d9822b", label="tunnel"];')
    for number, (key, service) in enumerate(state.services.items()):
        sid = ids.service(key)
        colour = SERVICE_COLOURS[number % len(SERVICE_COLOURS)]
        out.append(f'  {sid} [label={label(*service_lines(service))}, shape=hexagon, color="{colour}"];')
        backends = endpoints(state, service)
        for pod in backends:
            out.append(f'  {sid} -> {ids.pod(pod.name)} [style="dashed", color="{colour}", dir=forward];')
        if not backends:
            out.append(f'  {sid}_none [label="no endpoints: connections refused", shape=plaintext];')
            out.append(f"  {sid} -> {sid}_none [style=\"dotted\"];")
    for hid, title, lines in outside_hosts(state):
        out.append(f'  {hid} [label={label(title, *lines)}, shape={"cloud" if hid == "internet" else "box"}];')
    if state.external:
        out.append("  client -> internet;")
        out.append(f"  internet -> {ids.segment(0)};")
    out.append("}")
    return "\n".join(out) + "\n"


# -- SVG ----------------------------------------------------------------------------------------

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
class _Svg:
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
class _NodeBox:
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


def _node_box(state: LabState, node: NodeState, pods: list[PodState]) -> _NodeBox:
    shown = pods if len(pods) <= MAX_PODS_SHOWN else pods[: MAX_PODS_SHOWN - 1]
    routes, missing = node_routes(state, node)
    route_text = [f"{dst} via {via}" for dst, via in routes]
    missing_text = [f"{cidr}: no route" for cidr, _owner in missing]
    if len(route_text) + len(missing_text) > MAX_ROUTES_SHOWN:
        room = MAX_ROUTES_SHOWN - 1  # one line says "+k more routes"
        keep_missing = min(len(missing_text), max(1, room - len(route_text)))  # what is broken stays visible
        route_text, missing_text = route_text[: room - keep_missing], missing_text[:keep_missing]
    box = _NodeBox(node, node_address_lines(state, node), shown, len(pods) - len(shown), route_text, missing_text,
                   len(routes) + len(missing) - len(route_text) - len(missing_text))
    rows = len(box.pods) + (1 if box.hidden else 0)
    route_rows = len(box.routes) + len(box.missing) + (1 if box.routes_hidden else 0)
    box.h = (8 + LINE * (1 + len(box.head)) + 6 + POD_H * max(rows, 1) + 6
             + (LINE * (route_rows + 1) if route_rows or _routing_note(state) else 0) + 6)
    return box


def _routing_note(state: LabState) -> str:
    spec = state.spec
    if spec.model == "docker":
        return "no routes to other hosts' containers"
    if spec.cni == "vpc":
        return "a /32 route per local Pod (no podCIDR)"
    return ""


def to_svg(state: LabState) -> str:
    """The lab as an SVG picture, in the spirit of the topic's figure."""
    svg = _Svg()
    placed, unplaced = pods_by_node(state)
    segments = segment_networks(state)
    routed = len(segments) > 1

    # Node boxes, grouped by underlay segment: one block per segment, side by side.
    blocks: list[list[_NodeBox]] = [[] for _ in segments]
    for node in state.nodes.values():
        blocks[min(node.segment, len(segments) - 1)].append(_node_box(state, node, placed[node.name]))
    max_cols = 3 if routed else 5
    block_cols = []
    for block in blocks:
        rows = max(1, -(-len(block) // max_cols))
        block_cols.append(max(1, -(-len(block) // rows)))
    block_w = [cols * NODE_W + (cols - 1) * NODE_GAP for cols in block_cols]
    nodes_w = sum(block_w) + (ROUTER_W + 2 * NODE_GAP) * (len(blocks) - 1)

    # Services: a row of boxes above the nodes.
    service_boxes = []
    for number, (key, service) in enumerate(state.services.items()):
        backends = endpoints(state, service)
        lines = [f"{service.type} {service.cluster_ip}", service_ports(service)]
        if backends:
            ips = [str(p.ip) for p in backends]
            lines.append("-> " + ", ".join(ips[:2]) + (f" +{len(ips) - 2}" if len(ips) > 2 else ""))
        else:
            lines.append("no endpoints: connections refused")
        service_boxes.append((key, service, backends, lines, SERVICE_COLOURS[number % len(SERVICE_COLOURS)]))

    outside = outside_hosts(state)
    # The hosts outside the cluster stand on the left; 14 more pixels for the trunk lines of multi-row blocks.
    left = MARGIN + (EXTERNAL_W + NODE_GAP if outside else 0) + 14
    width = max(left + nodes_w + MARGIN, 760)
    per_row = max(1, int((width - 2 * MARGIN + SERVICE_GAP) // (SERVICE_W + SERVICE_GAP)))

    y = MARGIN + 16
    svg.text(MARGIN, y, title_lines(state)[0], "title")
    y += 20
    svg.text(MARGIN, y, title_lines(state)[1], "sub")
    y += 14
    if unplaced:
        y += 6
        names = ", ".join(f"{p.name} ({p.phase})" for p in unplaced[:6])
        more = f" +{len(unplaced) - 6} more" if len(unplaced) > 6 else ""
        svg.text(MARGIN, y, f"not scheduled: {names}{more}", "small bad")
        y += 6

    service_pos: dict[str, tuple[float, float]] = {}
    if service_boxes:
        y += 16
        svc_h = 10 + LINE * 4
        for index, (key, service, _backends, lines, colour) in enumerate(service_boxes):
            col, row = index % per_row, index // per_row
            sx = MARGIN + col * (SERVICE_W + SERVICE_GAP)
            sy = y + row * (svc_h + SERVICE_GAP)
            svg.rect(sx, sy, SERVICE_W, svc_h, "service", 10, f' style="stroke: {colour}"')
            svg.text(sx + 10, sy + 17, _short(f"Service {service.namespace}/{service.name}", 28), "head",
                     tooltip=f"Service {service.namespace}/{service.name}")
            for i, text in enumerate(lines):
                svg.text(sx + 10, sy + 17 + LINE * (i + 1), _short(text, TEXT_CHARS), "mono")
            service_pos[key] = (sx + SERVICE_W / 2, sy + svc_h)
        rows = -(-len(service_boxes) // per_row)
        y += rows * svc_h + (rows - 1) * SERVICE_GAP + 40

    # Nodes, block by block; the Service -> endpoint lines go under them (inserted here once
    # the Pods' places are known), so a line ends at the node and a marker names the Pod.
    top = y
    lines_at = len(svg.parts)
    pod_pos: dict[str, tuple[float, float]] = {}
    markers: dict[str, list[str]] = {}
    draw_lines = sum(len(b[2]) for b in service_boxes) <= MAX_ENDPOINT_LINES
    for _key, _service, backends, _lines, colour in service_boxes:
        for pod in backends:
            markers.setdefault(pod.name, []).append(colour)
    bx = left
    block_spans = []
    bottom = top
    row_buses: list[tuple[int, float, list[_NodeBox]]] = []  # (block, bus y, boxes)
    for b, block in enumerate(blocks):
        cols = block_cols[b]
        rows_of = [block[i:i + cols] for i in range(0, len(block), cols)]
        ry = top
        for r, row in enumerate(rows_of):
            row_h = max(box.h for box in row)
            for c, box in enumerate(row):
                box.x, box.y, box.h = bx + c * (NODE_W + NODE_GAP), ry, row_h
                _draw_node(svg, state, box, pod_pos, markers)
            if r < len(rows_of) - 1:
                row_buses.append((b, ry + row_h + ROW_GAP / 2, row))
            ry += row_h + ROW_GAP
        bottom = max(bottom, ry - ROW_GAP)
        block_spans.append((bx, bx + block_w[b], rows_of))
        bx += block_w[b] + ROUTER_W + 2 * NODE_GAP

    overlay = _has_overlay(state)
    bar_y = bottom + (78 if overlay else 44)
    outside_h = [12 + LINE * (1 + len(lines)) for _hid, _title, lines in outside]
    if outside:  # the client and the uplink stacked above the first bar, 20 apart
        bar_y = max(bar_y, top + sum(outside_h) + 20 * len(outside))
    if overlay:
        oy = bottom + 22
        ow = block_spans[-1][1] - left + 20
        svg.rect(left - 10, oy, ow, 22, "overlay", 11)
        words = f"VXLAN overlay: {vxlan.DEVICE}, VNI {vxlan.VNI}, UDP {vxlan.PORT}, Pod MTU {vxlan.POD_MTU}"
        if ow > 700:
            words += "; Pod packets travel inside UDP between the nodes' INTERNAL-IPs"
        svg.text(left, oy + 15, words, "small")

    # Underlay bars, links from every node's eth0, router, external hosts.
    bar_ends = []
    for b, (x0, x1, rows_of) in enumerate(block_spans):
        start = MARGIN if outside and b == 0 else x0 - 14
        svg.rect(start, bar_y, x1 - start, BAR_H, "bar", 4)
        what = "underlay (one L2 segment)" if not routed else f"underlay segment {b + 1}"
        svg.text(x0 - 4, bar_y + 18, f"{what} {segments[b]}", "head")
        bar_ends.append((start, x1))
        for r, row in enumerate(rows_of):
            last_row = r == len(rows_of) - 1
            bus_y = bar_y if last_row else row[0].y + row[0].h + ROW_GAP / 2
            for box in row:
                cx = box.x + NODE_W / 2
                svg.line(cx, box.y + box.h, cx, bus_y, "link")
                svg.text(cx + 4, box.y + box.h + 12, "eth0", "small")
            if not last_row:
                trunk = x0 - 8
                svg.line(trunk, bus_y, row[-1].x + NODE_W / 2, bus_y, "link")
                svg.line(trunk, bus_y, trunk, bar_y, "link")
    if routed:
        routers = router_addresses(state)
        for b in range(len(bar_ends) - 1):
            rx = bar_ends[b][1] + NODE_GAP
            ry = bar_y - 14
            svg.rect(rx, ry, ROUTER_W, BAR_H + 28, "router", 8)
            svg.text(rx + ROUTER_W / 2, ry + 17, "router", "head", "middle")
            svg.text(rx + ROUTER_W / 2, ry + 32, routers[b], "mono", "middle")
            svg.text(rx + ROUTER_W / 2, ry + 46, routers[b + 1], "mono", "middle")
            svg.line(bar_ends[b][1], bar_y + BAR_H / 2, rx, bar_y + BAR_H / 2, "link")
            svg.line(rx + ROUTER_W, bar_y + BAR_H / 2, bar_ends[b + 1][0], bar_y + BAR_H / 2, "link")
    if outside:
        hy = bar_y - sum(outside_h) - 20 * len(outside)
        lx = MARGIN + EXTERNAL_W / 2
        for (_hid, title, lines), h in zip(outside, outside_h):
            svg.rect(MARGIN, hy, EXTERNAL_W, h, "external", 8)
            svg.text(MARGIN + 10, hy + 17, title, "head")
            for i, line in enumerate(lines):
                last = i == len(lines) - 1
                svg.text(MARGIN + 10, hy + 17 + LINE * (i + 1), line, "small" if last else "mono")
            svg.line(lx, hy + h, lx, hy + h + 20, "link")
            hy += h + 20

    if draw_lines:
        paths = _Svg()
        for key, _service, backends, _lines, colour in service_boxes:
            sx, sy = service_pos[key]
            for pod in backends:
                if pod.name in pod_pos:
                    px, py = pod_pos[pod.name]
                    mid = (sy + py) / 2
                    paths.path(f"M {sx:.1f} {sy:.1f} C {sx:.1f} {mid:.1f} {px:.1f} {mid:.1f} {px:.1f} {py:.1f}",
                               "endpoint", f' style="stroke: {colour}"')
        svg.parts[lines_at:lines_at] = paths.parts

    y = bar_y + BAR_H + (46 if routed else 26)
    svg.text(MARGIN, y, caption(state), "caption")
    height = y + MARGIN
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" role="img">')
    body = "\n".join(svg.parts)
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n{head}\n<title>{xml_escape(title_lines(state)[0])}</title>\n'
            f"<style>\n{STYLE}\n</style>\n"
            f'<rect x="0" y="0" width="{width:.0f}" height="{height:.0f}" fill="#ffffff"/>\n{body}\n</svg>\n')


def _draw_node(svg: _Svg, state: LabState, box: _NodeBox, pod_pos: dict, markers: dict) -> None:
    node = box.node
    svg.rect(box.x, box.y, NODE_W, box.h, "node", 8)
    y = box.y + 8 + 12
    svg.text(box.x + 10, y, _short(f"{node.name} ({node.role})", 26), "head",
             tooltip=f"node {node.name} ({node.role})")
    svg.text(box.x + NODE_W - 10, y, node.status_text, "small" if node.ready else "small bad", "end")
    for line in box.head:
        y += LINE
        svg.text(box.x + 10, y, _short(line, TEXT_CHARS), "mono")
    y += 8
    inner_w = NODE_W - 20
    for pod in box.pods:
        running = pod.phase == RUNNING
        address = pod_address(pod) + _published_short(pod)
        colours = markers.get(pod.name, [])[:4]
        svg.rect(box.x + 10, y, inner_w, POD_H - 2, "pod" if running else "pending", 4)
        for i, colour in enumerate(colours):
            svg.rect(box.x + inner_w - i * 9, y + 4, 7, 7, "service", 1, f' style="fill: {colour}; stroke: {colour}"')
        ip_end = box.x + 10 + inner_w - 6 - len(colours) * 9
        room = int((ip_end - (box.x + 16)) / CHAR_W) - len(address) - 1
        svg.text(box.x + 16, y + 11.5, _short(pod.name, max(room, 4)), "mono",
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
    note = _routing_note(state)
    if not (box.routes or box.missing or box.routes_hidden or note):
        return
    y += 6 + 10
    if not note:
        dev = vxlan.DEVICE if state.spec.routing == "vxlan" else hostgw.UNDERLAY_IFNAME
        note = f"routes to other nodes' Pods (dev {dev}):"
    svg.text(box.x + 10, y, note, "small")
    for route in box.routes:
        y += LINE
        svg.text(box.x + 10, y, _short(route, TEXT_CHARS), "mono")
    for missing in box.missing:
        y += LINE
        svg.text(box.x + 10, y, _short(missing, TEXT_CHARS), "mono bad",
                 tooltip="host-gw needs the next hop on a connected network: this node is on another L2 segment")
    if box.routes_hidden:
        y += LINE
        svg.text(box.x + 10, y, f"+{box.routes_hidden} more routes", "small")


# -- PNG ----------------------------------------------------------------------------------------


def png_converters() -> list[list[str]]:
    """Commands on PATH that turn SVG on stdin into PNG on stdout, best first."""
    commands = []
    if shutil.which("rsvg-convert"):
        commands.append(["rsvg-convert", "--format", "png", "--background-color", "white"])
    if shutil.which("magick"):
        commands.append(["magick", "svg:-", "png:-"])
    if shutil.which("convert"):
        commands.append(["convert", "svg:-", "png:-"])
    return commands


def to_png(svg_text: str, timeout: float = PNG_TIMEOUT) -> bytes:
    """Render SVG text as PNG with rsvg-convert (librsvg2-bin), else ImageMagick.

    Raises KernelError when no converter is installed or none produced a PNG."""
    commands = png_converters()
    if not commands:
        raise KernelError("cannot make a PNG: neither rsvg-convert (Debian/Ubuntu package librsvg2-bin) nor "
                          "ImageMagick's convert is on PATH; install librsvg2-bin, or use -f svg")
    failures = []
    data = svg_text.encode("utf-8")
    for argv in commands:
        try:
            proc = subprocess.run(argv, input=data, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            failures.append(f"{argv[0]} timed out after {timeout:g}s")
            continue
        except OSError as exc:
            failures.append(f"{argv[0]} could not run: {exc.strerror}")
            continue
        if proc.returncode == 0 and proc.stdout.startswith(PNG_SIGNATURE):
            return proc.stdout
        reason = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        failures.append(f"{argv[0]} exited {proc.returncode}" + (f": {reason[-1][:200]}" if reason else "")
                        + ("" if proc.returncode else " without writing a PNG"))
    raise KernelError("could not convert the diagram to PNG (" + "; ".join(failures)
                      + "); install librsvg2-bin for rsvg-convert, or use -f svg")
