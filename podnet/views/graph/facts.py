"""The facts every diagram of a lab draws, and the escaping each format needs.

Mirrors what ``kubectl get nodes,pods,svc -o wide`` and a node's route table tell a person:
each node's INTERNAL-IP and podCIDR, its Pods and their IPs, the routes (host-gw) or the
tunnel (VXLAN) between nodes, Services with their ClusterIPs and the Pods behind them, and
the emulated Internet host and external client. The routes and endpoints are the ones the
components *want* (computed from the state with the same functions they use), not read back
from the kernel. Every name may come from a user, so all text is escaped for the format it
lands in, and identifiers are generated (:class:`Ids`), never user text. Pure.
"""

from __future__ import annotations

import re
from ipaddress import IPv4Network

from podnet.core import layout
from podnet.core.model import RUNNING, LabState, NodeState, PodState, ServiceState
from podnet.docker.bridge_network import DOCKER_SUBNET, gateway
from podnet.k8s.routing import hostgw, vxlan
from podnet.k8s.workloads.endpoints import selects

# The hosts outside the cluster (see podnet.core.layout): "the Internet" is also the nodes' uplink.
INTERNET_IP = layout.DNS_GOOGLE
INTERNET_NAMES = layout.INTERNET_ADDRESSES
EXTERNAL_CLIENT_IP = str(layout.CLIENT_IP)
DOCKER_GATEWAY = str(gateway())  # 172.17.0.1 on every host, as DOCKER_SUBNET is the same everywhere

# Summaries in the SVG: beyond these, a node box shows the first ones and "+k more".
MAX_PODS_SHOWN = 10
MAX_ROUTES_SHOWN = 4
MAX_ENDPOINT_LINES = 40  # above this many Service -> Pod lines, only coloured markers
MAX_NAME_CHARS = 20  # longer names are cut (with an ellipsis) in the SVG; the title keeps them

SERVICE_COLOURS = ("#8e44ad", "#c0392b", "#16a085", "#d35400", "#2c3e50", "#7f8c8d", "#b7950b", "#1f618d")

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


def published_short(pod: PodState) -> str:
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
    return layout.segments(state.spec)


def router_addresses(state: LabState) -> list[str]:
    return [str(layout.router_ip(state.spec, i)) for i in range(len(segment_networks(state)))]


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


def short(text: object, limit: int = MAX_NAME_CHARS) -> str:
    text = _clean(text)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


class Ids:
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


def has_overlay(state: LabState) -> bool:
    return state.spec.model != "docker" and state.spec.cni != "vpc" and state.spec.routing == "vxlan"
