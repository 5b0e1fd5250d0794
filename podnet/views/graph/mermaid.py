"""The lab as a Mermaid flowchart: a subgraph per node with its Pods, the underlay, Services.

Mirrors containerlab's ``graph --mermaid``: text a README or a wiki renders, listing every
node and Pod (no summarising), with generated identifiers and escaped labels. Pure.
"""

from __future__ import annotations

from podnet.core.model import RUNNING, LabState
from podnet.k8s.routing import vxlan
from podnet.views.graph.facts import (
    Ids, endpoints, has_overlay, mermaid_escape, node_address_lines, outside_hosts, pod_address, pod_label_lines,
    pods_by_node, route_lines, router_addresses, segment_networks, service_lines, title_lines,
)


def label(*lines: object) -> str:
    return '"' + "<br/>".join(mermaid_escape(line) for line in lines) + '"'


def to_mermaid(state: LabState) -> str:
    ids = Ids(state)
    out = ["flowchart TB"] + [f"  %% {mermaid_escape(line)}" for line in title_lines(state)]
    out += _underlay(state, ids) + _nodes(state, ids) + _overlay(state, ids) + _services(state, ids)
    for hid, title, lines in outside_hosts(state):
        out.append(f"  {hid}[{label(title, *lines)}]")
    if state.external:
        out += ["  client --- internet", f"  internet --- {ids.segment(0)}"]
    out.append("  classDef pending fill:#eeeeee,stroke:#999999,color:#555555")
    pending = [ids.pod(p.name) for p in state.pods.values() if p.phase != RUNNING]
    if pending:
        out.append(f"  class {','.join(pending)} pending")
    return "\n".join(out) + "\n"


def _underlay(state: LabState, ids: Ids) -> list[str]:
    out = []
    segments = segment_networks(state)
    for index, net in enumerate(segments):
        what = "underlay" if len(segments) == 1 else f"underlay segment {index + 1}"
        out.append(f"  {ids.segment(index)}[({label(f'{what} {net}')})]")
    if len(segments) > 1:
        out.append(f"  router{{{{{label('router', ' / '.join(router_addresses(state)))}}}}}")
        out += [f"  router --- {ids.segment(index)}" for index in range(len(segments))]
    return out


def _nodes(state: LabState, ids: Ids) -> list[str]:
    out = []
    placed, unplaced = pods_by_node(state)
    for node in state.nodes.values():
        nid = ids.node(node.name)
        head = [f"{node.name} ({node.role}, {node.status_text})", *node_address_lines(state, node)]
        out += [f"  subgraph {nid}_box[{label(*head)}]", "    direction TB",
                f"    {nid}[{label(node.name + ' eth0', node.internal_ip)}]"]
        for pod in placed[node.name]:
            pid = ids.pod(pod.name)
            out += [f"    {pid}[{label(*pod_label_lines(pod))}]", f"    {nid} --- {pid}"]
        routes = route_lines(state, node)
        if routes:
            out += [f"    {nid}_routes[{label('routes', *routes)}]", f"    {nid} -.- {nid}_routes"]
        out += ["  end", f"  {nid} --- {ids.segment(node.segment)}"]
    if unplaced:
        out.append(f"  subgraph unscheduled[{label('not scheduled')}]")
        out += [f"    {ids.pod(pod.name)}[{label(pod.name, pod_address(pod))}]" for pod in unplaced]
        out.append("  end")
    return out


def _overlay(state: LabState, ids: Ids) -> list[str]:
    if not has_overlay(state):
        return []
    out = [f"  vxlan(({label('VXLAN overlay', f'{vxlan.DEVICE} VNI {vxlan.VNI} UDP {vxlan.PORT}')}))"]
    return out + [f"  {ids.node(node.name)} -. tunnel .- vxlan" for node in state.nodes.values() if node.pod_cidr]


def _services(state: LabState, ids: Ids) -> list[str]:
    out = []
    for key, service in state.services.items():
        sid = ids.service(key)
        out.append(f"  {sid}{{{{{label(*service_lines(service))}}}}}")
        backends = endpoints(state, service)
        out += [f"  {sid} -.-> {ids.pod(pod.name)}" for pod in backends]
        if not backends:
            out += [f"  {sid}_none[{label('no endpoints: connections refused')}]", f"  {sid} -.- {sid}_none"]
    return out
