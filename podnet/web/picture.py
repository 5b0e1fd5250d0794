"""The live page's figure as data: every box, line and label of the topic's picture, placed.

Mirrors what ``kubectl get nodes,pods,svc,netpol -o wide`` and the topic's figure show together:
nodes as boxes (name, INTERNAL-IP, podCIDR, routes or the VXLAN tunnel), the Pods inside
them with IP and status (and the reason when not Running), the underlay (one L2 bridge, or
segments joined by a router), the emulated Internet and external client, Services with
ClusterIP, ports and NodePorts and the Pods behind them, and the NetworkPolicies in force.
Coordinates are computed here, so the browser only draws, and every traced hop has an anchor
to be drawn at (``anchors``: a Pod, a node, ``internet``, ``external``, ``router``). The
facts are :mod:`podnet.views.graph.facts`', the ones ``podnet graph`` draws. Text is data:
the page sets it as text, never as markup. Pure.
"""

from __future__ import annotations

from typing import Any

from podnet.core.model import RUNNING, LabState, NodeState, PodState
from podnet.views.graph import facts
from podnet.views.policies import selected_pods

POD_W, POD_H, GAP, PAD, HEAD = 176, 46, 8, 12, 74
NODES_PER_ROW = 5
MAX_PODS_DRAWN = 40  # per node; the rest are counted ("+k more")
BAR_GAP = 46  # between a row of nodes and the underlay bar
OUTSIDE_W, OUTSIDE_H = 230, 92
SERVICE_W, SERVICE_H = 250, 62
SERVICES_PER_ROW = 6


def picture(state: LabState, version: int = 0) -> dict[str, Any]:
    """The whole figure of ``state``; ``version`` is what the page compares to skip redraws."""
    placed, unplaced = facts.pods_by_node(state)
    nodes = list(state.nodes.values())
    rows = [nodes[i:i + NODES_PER_ROW] for i in range(0, len(nodes), NODES_PER_ROW)] or [[]]
    anchors: dict[str, dict[str, float]] = {}
    out_nodes, out_pods = [], []
    y = PAD
    bar_y = 0.0
    width = PAD
    for row_index, row in enumerate(rows):
        x = PAD
        height = max((_node_height(len(placed[n.name])) for n in row), default=HEAD)
        for node in row:
            box = _node_box(x, y, len(placed[node.name]), height)
            out_nodes.append(_node(state, node, box, below=row_index == 0, hidden=max(0, len(placed[node.name]) - MAX_PODS_DRAWN)))
            anchors[node.name] = {"x": box["x"] + box["w"] / 2, "y": box["y"] + (box["h"] if row_index == 0 else 0)}
            for i, pod in enumerate(placed[node.name][:MAX_PODS_DRAWN]):
                tile = _pod_box(box, i)
                out_pods.append(_pod(pod, tile))
                anchors[pod.name] = {"x": tile["x"] + tile["w"] / 2, "y": tile["y"] + tile["h"] / 2}
            x += box["w"] + GAP * 3
        width = max(width, x)
        y += height
        if row_index == 0:
            bar_y = y + BAR_GAP
            y = bar_y + BAR_GAP
        else:
            y += GAP * 3
    if len(rows) == 1:
        y = bar_y + BAR_GAP / 2
    underlay, outside = _underlay_and_outside(state, out_nodes, bar_y, width, anchors)
    width = max(width, *(o["box"]["x"] + o["box"]["w"] + PAD for o in outside)) if outside else width
    pending = _unscheduled(unplaced, y, anchors)
    if pending["pods"]:
        y = pending["box"]["y"] + pending["box"]["h"] + GAP * 3
    services, y = _services(state, y, anchors)
    width = max(width, *(s["box"]["x"] + s["box"]["w"] + PAD for s in services)) if services else width
    y = max(y, *(o["box"]["y"] + o["box"]["h"] for o in outside)) if outside else y  # may be lowest
    return {
        "lab": state.name, "version": version, "status": state.status,
        "title": facts.title_lines(state), "caption": facts.caption(state),
        "model": state.spec.model, "cni": state.spec.cni, "routing": state.spec.routing,
        "size": {"width": round(width), "height": round(y + PAD)},
        "nodes": out_nodes, "pods": out_pods, "pending": pending,
        "underlay": underlay, "overlay": _overlay(state), "outside": outside,
        "services": services, "policies": _policies(state), "anchors": anchors,
    }


def _node_height(pods: int) -> float:
    rows = -(-min(pods, MAX_PODS_DRAWN) // 2) if pods else 0
    return HEAD + rows * (POD_H + GAP) + PAD + (18 if pods > MAX_PODS_DRAWN else 0)


def _node_box(x: float, y: float, pods: int, height: float) -> dict[str, float]:
    return {"x": x, "y": y, "w": 2 * POD_W + GAP + 2 * PAD, "h": height}


def _pod_box(node_box: dict[str, float], index: int) -> dict[str, float]:
    col, row = index % 2, index // 2
    return {"x": node_box["x"] + PAD + col * (POD_W + GAP), "y": node_box["y"] + HEAD + row * (POD_H + GAP),
            "w": POD_W, "h": POD_H}


def _node(state: LabState, node: NodeState, box: dict, below: bool, hidden: int) -> dict[str, Any]:
    return {
        "name": node.name, "role": node.role, "internalIP": node.internal_ip, "podCIDR": node.pod_cidr,
        "ready": node.ready, "reason": node.ready_reason if not node.ready else "",
        "message": node.ready_message, "segment": node.segment,
        "lines": facts.node_address_lines(state, node), "routes": facts.route_lines(state, node),
        "box": box, "link": "down" if below else "up", "hiddenPods": hidden,
    }


def _pod(pod: PodState, box: dict) -> dict[str, Any]:
    return {
        "name": pod.name, "namespace": pod.namespace, "node": pod.node, "ip": pod.ip if pod.phase == RUNNING else None,
        "status": pod.phase, "reason": _reason(pod), "labels": dict(pod.labels), "owner": pod.owner,
        "published": list(pod.published), "system": pod.namespace == "kube-system", "box": box,
    }


def _reason(pod: PodState) -> str:
    """Why a Pod is not Running: its message, else its last Warning event."""
    if pod.phase == RUNNING:
        return ""
    warnings = [e for e in pod.events if e.type == "Warning"]
    return pod.message or (f"{warnings[-1].reason}: {warnings[-1].message}" if warnings else pod.phase)


def _underlay_and_outside(state: LabState, nodes: list[dict], bar_y: float, width: float,
                          anchors: dict) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    networks = facts.segment_networks(state)
    routed = state.spec.underlay == "routed" and len(networks) > 1
    segments = []
    for index, network in enumerate(networks):
        xs = [n["box"]["x"] for n in nodes if n["segment"] == index] or [PAD]
        ends = [n["box"]["x"] + n["box"]["w"] for n in nodes if n["segment"] == index] or [PAD + 100]
        segments.append({"cidr": str(network), "x1": min(xs), "x2": max(ends), "y": bar_y})
    right = max((s["x2"] for s in segments), default=width)
    router = None
    if routed:
        router = {"box": {"x": right + 40, "y": bar_y - 30, "w": 170, "h": 60},
                  "addresses": facts.router_addresses(state), "note": "routes the underlay only, no Pod CIDR"}
        anchors["router"] = {"x": right + 40, "y": bar_y}
        right += 40 + 170
    underlay = {"kind": "routed" if routed else "l2", "segments": segments, "router": router,
                "label": ("underlay: " + ", ".join(str(n) for n in networks)
                          + (" (segments joined by a router)" if routed else " (one L2 bridge)"))}
    anchors["underlay"] = {"x": (segments[0]["x1"] + segments[0]["x2"]) / 2 if segments else PAD, "y": bar_y}
    outside = []
    x = right + 50
    for key, title, lines in reversed(facts.outside_hosts(state)):  # the Internet first, the client beyond it
        name = "internet" if key == "internet" else "external"
        box = {"x": x, "y": bar_y - OUTSIDE_H / 2, "w": OUTSIDE_W, "h": OUTSIDE_H}
        outside.append({"name": name, "title": title, "lines": lines, "box": box})
        anchors[name] = {"x": box["x"], "y": bar_y} if name == "internet" else {"x": box["x"], "y": bar_y}
        x += OUTSIDE_W + 50
    return underlay, outside


def _overlay(state: LabState) -> dict[str, Any] | None:
    if not facts.has_overlay(state):
        return None
    return {"device": "flannel.1", "vni": 1, "port": 8472, "mtu": 1450,
            "label": "VXLAN overlay: flannel.1, VNI 1, UDP 8472, Pod MTU 1450"}


def _unscheduled(pods: list[PodState], y: float, anchors: dict) -> dict[str, Any]:
    box = {"x": PAD, "y": y, "w": 2 * POD_W + GAP + 2 * PAD, "h": HEAD / 2 + len(pods) * (POD_H + GAP) + PAD}
    out = []
    for i, pod in enumerate(pods):
        tile = {"x": box["x"] + PAD, "y": box["y"] + HEAD / 2 + i * (POD_H + GAP), "w": POD_W * 2 + GAP, "h": POD_H}
        out.append(_pod(pod, tile))
        anchors[pod.name] = {"x": tile["x"] + tile["w"] / 2, "y": tile["y"] + tile["h"] / 2}
    return {"box": box, "pods": out, "label": "not scheduled (Pending)"}


def _services(state: LabState, y: float, anchors: dict) -> tuple[list[dict[str, Any]], float]:
    services = sorted(state.services.values(), key=lambda s: (s.namespace != "default", s.namespace, s.name))
    out = []
    top = y + (28 if services else 0)
    for i, service in enumerate(services):
        col, row = i % SERVICES_PER_ROW, i // SERVICES_PER_ROW
        box = {"x": PAD + col * (SERVICE_W + GAP * 2), "y": top + row * (SERVICE_H + GAP * 2),
               "w": SERVICE_W, "h": SERVICE_H}
        key = f"{service.namespace}/{service.name}"
        out.append({
            "key": key, "name": service.name, "namespace": service.namespace, "type": service.type,
            "clusterIP": service.cluster_ip, "ports": facts.service_ports(service),
            "nodePorts": [p.node_port for p in service.ports if p.node_port],
            "endpoints": [p.name for p in facts.endpoints(state, service)],
            "colour": facts.SERVICE_COLOURS[i % len(facts.SERVICE_COLOURS)], "box": box,
        })
        anchors["svc:" + key] = {"x": box["x"] + box["w"] / 2, "y": box["y"]}
    rows = -(-len(services) // SERVICES_PER_ROW)
    return out, top + rows * (SERVICE_H + GAP * 2)


def _policies(state: LabState) -> list[dict[str, Any]]:
    out = []
    for policy in sorted(state.policies.values(), key=lambda p: (p.namespace, p.name)):
        spec = policy.spec
        out.append({"key": f"{policy.namespace}/{policy.name}", "types": spec.get("policyTypes", []),
                    "selects": selected_pods(state, policy)})
    return out
