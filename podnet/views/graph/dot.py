"""The lab as Graphviz DOT: a cluster per node with its Pods, the underlay, Services, routes.

Mirrors containerlab's ``graph --dot``: every node and Pod, Services as hexagons with dashed
lines to their endpoints, the VXLAN overlay as a dashed ellipse. Pure.
"""

from __future__ import annotations

from podnet.core.model import RUNNING, LabState
from podnet.k8s.routing import vxlan
from podnet.views.graph.facts import (
    SERVICE_COLOURS, Ids, caption, dot_escape, endpoints, has_overlay, node_address_lines, outside_hosts, pod_address,
    pod_label_lines, pods_by_node, route_lines, router_addresses, segment_networks, service_lines, title_lines,
)


def label(*lines: object) -> str:
    return '"' + "\\n".join(dot_escape(line) for line in lines) + '"'


def to_dot(state: LabState) -> str:
    ids = Ids(state)
    out = [
        "digraph podnet {",
        f"  graph [label={label(*title_lines(state), caption(state))}, labelloc=t, fontname=\"Helvetica\", "
        "compound=true, newrank=true];",
        '  node [fontname="Helvetica", fontsize=10, shape=box];',
        '  edge [fontname="Helvetica", fontsize=9, dir=none];',
    ]
    out += _underlay(state, ids) + _nodes(state, ids) + _overlay(state, ids) + _services(state, ids)
    for hid, title, lines in outside_hosts(state):
        out.append(f'  {hid} [label={label(title, *lines)}, shape={"cloud" if hid == "internet" else "box"}];')
    if state.external:
        out += ["  client -> internet;", f"  internet -> {ids.segment(0)};"]
    out.append("}")
    return "\n".join(out) + "\n"


def _underlay(state: LabState, ids: Ids) -> list[str]:
    out = []
    segments = segment_networks(state)
    for index, net in enumerate(segments):
        what = "underlay" if len(segments) == 1 else f"underlay segment {index + 1}"
        out.append(f'  {ids.segment(index)} [label={label(f"{what} {net}")}, shape=box, style="filled", '
                   'fillcolor="#dddddd", width=6];')
    if len(segments) > 1:
        out.append(f'  router [label={label("router", *router_addresses(state))}, shape=box3d];')
        out += [f"  router -> {ids.segment(index)};" for index in range(len(segments))]
    return out


def _nodes(state: LabState, ids: Ids) -> list[str]:
    out = []
    placed, unplaced = pods_by_node(state)
    for node in state.nodes.values():
        nid = ids.node(node.name)
        routes = route_lines(state, node)
        head = [f"{node.name} ({node.role}, {node.status_text})", *node_address_lines(state, node)]
        out += [f"  subgraph cluster_{nid} {{", f'    label={label(*head)}; style="rounded"; color="#3b6ea5";']
        lines = [f"{node.name} eth0 {node.internal_ip}"] + (["routes:", *routes] if routes else [])
        out.append(f'    {nid} [label={label(*lines)}, style="filled", fillcolor="#eef4fb"];')
        for pod in placed[node.name]:
            style = 'style="rounded"' if pod.phase == RUNNING else 'style="rounded,filled", fillcolor="#eeeeee"'
            out += [f"    {ids.pod(pod.name)} [label={label(*pod_label_lines(pod))}, {style}];",
                    f"    {nid} -> {ids.pod(pod.name)} [label=\"veth\"];"]
        out += ["  }", f"  {nid} -> {ids.segment(node.segment)} [label=\"eth0\"];"]
    if unplaced:
        out += ["  subgraph cluster_unscheduled {", '    label="not scheduled"; style="dashed";']
        out += [f'    {ids.pod(pod.name)} [label={label(pod.name, pod_address(pod))}, style="rounded,filled", '
                'fillcolor="#eeeeee"];' for pod in unplaced]
        out.append("  }")
    return out


def _overlay(state: LabState, ids: Ids) -> list[str]:
    if not has_overlay(state):
        return []
    out = [f'  vxlan [label={label("VXLAN overlay", f"{vxlan.DEVICE} VNI {vxlan.VNI} UDP {vxlan.PORT}")}, '
           'shape=ellipse, style="dashed", color="#d9822b"];']
    return out + [f'  {ids.node(node.name)} -> vxlan [style="dashed", color="#d9822b", label="tunnel"];'
                  for node in state.nodes.values() if node.pod_cidr]


def _services(state: LabState, ids: Ids) -> list[str]:
    out = []
    for number, (key, service) in enumerate(state.services.items()):
        sid = ids.service(key)
        colour = SERVICE_COLOURS[number % len(SERVICE_COLOURS)]
        out.append(f'  {sid} [label={label(*service_lines(service))}, shape=hexagon, color="{colour}"];')
        backends = endpoints(state, service)
        out += [f'  {sid} -> {ids.pod(pod.name)} [style="dashed", color="{colour}", dir=forward];' for pod in backends]
        if not backends:
            out += [f'  {sid}_none [label="no endpoints: connections refused", shape=plaintext];',
                    f"  {sid} -> {sid}_none [style=\"dotted\"];"]
    return out
