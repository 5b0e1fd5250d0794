"""The lab as an SVG picture, in the spirit of the topic's figure.

Mirrors the figure of the topic (nodes on one network, each with its Pods and their IPs) and
containerlab's ``graph``: Services in a row at the top with lines to the Pods behind them,
node boxes grouped by underlay segment (a routed underlay draws its router between the
segments' bars), the VXLAN overlay as a dashed band when it is on, and the emulated Internet
and external client on the left. Our own layout, no library. Pure.
"""

from __future__ import annotations

from podnet.core.model import LabState
from podnet.k8s.routing import vxlan
from podnet.views.graph.facts import (
    MAX_ENDPOINT_LINES, SERVICE_COLOURS, caption, endpoints, has_overlay, outside_hosts, pods_by_node,
    router_addresses, segment_networks, service_ports, short, title_lines, xml_escape,
)
from podnet.views.graph.svg_parts import (
    BAR_H, EXTERNAL_W, LINE, MARGIN, NODE_GAP, NODE_W, ROUTER_W, ROW_GAP, SERVICE_GAP, SERVICE_W, STYLE, TEXT_CHARS,
    Canvas, NodeBox, draw_node, node_box,
)


def to_svg(state: LabState) -> str:
    figure = Figure(state)
    y = figure.draw_title()
    y = figure.draw_services(y)
    bottom = figure.draw_nodes(y)
    bar_y = figure.draw_overlay_and_place_bars(y, bottom)
    figure.draw_bars(bar_y)
    figure.draw_routers(bar_y)
    figure.draw_outside(bar_y)
    figure.draw_endpoint_lines()
    return figure.finish(bar_y)


class Figure:
    def __init__(self, state: LabState):
        self.state = state
        self.svg = Canvas()
        placed, self.unplaced = pods_by_node(state)
        self.segments = segment_networks(state)
        self.routed = len(self.segments) > 1
        self.blocks: list[list[NodeBox]] = [[] for _ in self.segments]
        for node in state.nodes.values():
            self.blocks[min(node.segment, len(self.segments) - 1)].append(node_box(state, node, placed[node.name]))
        max_cols = 3 if self.routed else 5
        self.block_cols = []
        for block in self.blocks:
            rows = max(1, -(-len(block) // max_cols))
            self.block_cols.append(max(1, -(-len(block) // rows)))
        self.block_w = [cols * NODE_W + (cols - 1) * NODE_GAP for cols in self.block_cols]
        nodes_w = sum(self.block_w) + (ROUTER_W + 2 * NODE_GAP) * (len(self.blocks) - 1)
        self.services = self._service_boxes()
        self.outside = outside_hosts(state)
        # The hosts outside the cluster stand on the left; 14 more pixels for the trunk lines of multi-row blocks.
        self.left = MARGIN + (EXTERNAL_W + NODE_GAP if self.outside else 0) + 14
        self.width = max(self.left + nodes_w + MARGIN, 760)
        self.service_pos: dict[str, tuple[float, float]] = {}
        self.pod_pos: dict[str, tuple[float, float]] = {}
        self.block_spans: list[tuple[float, float, list[list[NodeBox]]]] = []
        self.bar_ends: list[tuple[float, float]] = []
        self.lines_at = 0

    def _service_boxes(self) -> list[tuple]:
        boxes = []
        for number, (key, service) in enumerate(self.state.services.items()):
            backends = endpoints(self.state, service)
            lines = [f"{service.type} {service.cluster_ip}", service_ports(service)]
            if backends:
                ips = [str(p.ip) for p in backends]
                lines.append("-> " + ", ".join(ips[:2]) + (f" +{len(ips) - 2}" if len(ips) > 2 else ""))
            else:
                lines.append("no endpoints: connections refused")
            boxes.append((key, service, backends, lines, SERVICE_COLOURS[number % len(SERVICE_COLOURS)]))
        return boxes

    def draw_title(self) -> float:
        titles = title_lines(self.state)
        y = MARGIN + 16
        self.svg.text(MARGIN, y, titles[0], "title")
        y += 20
        self.svg.text(MARGIN, y, titles[1], "sub")
        y += 14
        if self.unplaced:
            y += 6
            names = ", ".join(f"{p.name} ({p.phase})" for p in self.unplaced[:6])
            more = f" +{len(self.unplaced) - 6} more" if len(self.unplaced) > 6 else ""
            self.svg.text(MARGIN, y, f"not scheduled: {names}{more}", "small bad")
            y += 6
        return y

    def draw_services(self, y: float) -> float:
        if not self.services:
            return y
        y += 16
        svc_h = 10 + LINE * 4
        per_row = max(1, int((self.width - 2 * MARGIN + SERVICE_GAP) // (SERVICE_W + SERVICE_GAP)))
        for index, (key, service, _backends, lines, colour) in enumerate(self.services):
            sx = MARGIN + (index % per_row) * (SERVICE_W + SERVICE_GAP)
            sy = y + (index // per_row) * (svc_h + SERVICE_GAP)
            self.svg.rect(sx, sy, SERVICE_W, svc_h, "service", 10, f' style="stroke: {colour}"')
            self.svg.text(sx + 10, sy + 17, short(f"Service {service.namespace}/{service.name}", 28), "head",
                          tooltip=f"Service {service.namespace}/{service.name}")
            for i, text in enumerate(lines):
                self.svg.text(sx + 10, sy + 17 + LINE * (i + 1), short(text, TEXT_CHARS), "mono")
            self.service_pos[key] = (sx + SERVICE_W / 2, sy + svc_h)
        rows = -(-len(self.services) // per_row)
        return y + rows * svc_h + (rows - 1) * SERVICE_GAP + 40

    def draw_nodes(self, top: float) -> float:
        """Nodes, block by block; the Service -> endpoint lines go under them (inserted once the
        Pods' places are known), so a line ends at the node and a marker names the Pod."""
        self.lines_at = len(self.svg.parts)
        markers: dict[str, list[str]] = {}
        for _key, _service, backends, _lines, colour in self.services:
            for pod in backends:
                markers.setdefault(pod.name, []).append(colour)
        bx, bottom = self.left, top
        for b, block in enumerate(self.blocks):
            cols = self.block_cols[b]
            rows_of = [block[i:i + cols] for i in range(0, len(block), cols)]
            ry = top
            for row in rows_of:
                row_h = max(box.h for box in row)
                for c, box in enumerate(row):
                    box.x, box.y, box.h = bx + c * (NODE_W + NODE_GAP), ry, row_h
                    draw_node(self.svg, self.state, box, self.pod_pos, markers)
                ry += row_h + ROW_GAP
            bottom = max(bottom, ry - ROW_GAP)
            self.block_spans.append((bx, bx + self.block_w[b], rows_of))
            bx += self.block_w[b] + ROUTER_W + 2 * NODE_GAP
        return bottom

    def draw_overlay_and_place_bars(self, top: float, bottom: float) -> float:
        """The VXLAN band under the nodes (when on); returns where the underlay bars go."""
        overlay = has_overlay(self.state)
        bar_y = bottom + (78 if overlay else 44)
        heights = self._outside_heights()
        if self.outside:  # the client and the uplink stacked above the first bar, 20 apart
            bar_y = max(bar_y, top + sum(heights) + 20 * len(self.outside))
        if overlay:
            oy = bottom + 22
            ow = self.block_spans[-1][1] - self.left + 20
            self.svg.rect(self.left - 10, oy, ow, 22, "overlay", 11)
            words = f"VXLAN overlay: {vxlan.DEVICE}, VNI {vxlan.VNI}, UDP {vxlan.PORT}, Pod MTU {vxlan.POD_MTU}"
            if ow > 700:
                words += "; Pod packets travel inside UDP between the nodes' INTERNAL-IPs"
            self.svg.text(self.left, oy + 15, words, "small")
        return bar_y

    def _outside_heights(self) -> list[float]:
        return [12 + LINE * (1 + len(lines)) for _hid, _title, lines in self.outside]

    def draw_bars(self, bar_y: float) -> None:
        """Underlay bars, and the links from every node's eth0 (rows above the last share a trunk)."""
        svg = self.svg
        for b, (x0, x1, rows_of) in enumerate(self.block_spans):
            start = MARGIN if self.outside and b == 0 else x0 - 14
            svg.rect(start, bar_y, x1 - start, BAR_H, "bar", 4)
            what = "underlay (one L2 segment)" if not self.routed else f"underlay segment {b + 1}"
            svg.text(x0 - 4, bar_y + 18, f"{what} {self.segments[b]}", "head")
            self.bar_ends.append((start, x1))
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

    def draw_routers(self, bar_y: float) -> None:
        if not self.routed:
            return
        routers = router_addresses(self.state)
        for b in range(len(self.bar_ends) - 1):
            rx, ry = self.bar_ends[b][1] + NODE_GAP, bar_y - 14
            self.svg.rect(rx, ry, ROUTER_W, BAR_H + 28, "router", 8)
            self.svg.text(rx + ROUTER_W / 2, ry + 17, "router", "head", "middle")
            self.svg.text(rx + ROUTER_W / 2, ry + 32, routers[b], "mono", "middle")
            self.svg.text(rx + ROUTER_W / 2, ry + 46, routers[b + 1], "mono", "middle")
            self.svg.line(self.bar_ends[b][1], bar_y + BAR_H / 2, rx, bar_y + BAR_H / 2, "link")
            self.svg.line(rx + ROUTER_W, bar_y + BAR_H / 2, self.bar_ends[b + 1][0], bar_y + BAR_H / 2, "link")

    def draw_outside(self, bar_y: float) -> None:
        if not self.outside:
            return
        heights = self._outside_heights()
        hy = bar_y - sum(heights) - 20 * len(self.outside)
        lx = MARGIN + EXTERNAL_W / 2
        for (_hid, title, lines), h in zip(self.outside, heights):
            self.svg.rect(MARGIN, hy, EXTERNAL_W, h, "external", 8)
            self.svg.text(MARGIN + 10, hy + 17, title, "head")
            for i, line in enumerate(lines):
                self.svg.text(MARGIN + 10, hy + 17 + LINE * (i + 1), line, "small" if i == len(lines) - 1 else "mono")
            self.svg.line(lx, hy + h, lx, hy + h + 20, "link")
            hy += h + 20

    def draw_endpoint_lines(self) -> None:
        if sum(len(box[2]) for box in self.services) > MAX_ENDPOINT_LINES:
            return  # too many to read: the coloured markers on the Pods say it
        paths = Canvas()
        for key, _service, backends, _lines, colour in self.services:
            sx, sy = self.service_pos[key]
            for pod in backends:
                if pod.name in self.pod_pos:
                    px, py = self.pod_pos[pod.name]
                    mid = (sy + py) / 2
                    paths.path(f"M {sx:.1f} {sy:.1f} C {sx:.1f} {mid:.1f} {px:.1f} {mid:.1f} {px:.1f} {py:.1f}",
                               "endpoint", f' style="stroke: {colour}"')
        self.svg.parts[self.lines_at:self.lines_at] = paths.parts

    def finish(self, bar_y: float) -> str:
        y = bar_y + BAR_H + (46 if self.routed else 26)
        self.svg.text(MARGIN, y, caption(self.state), "caption")
        width, height = self.width, y + MARGIN
        head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
                f'viewBox="0 0 {width:.0f} {height:.0f}" role="img">')
        body = "\n".join(self.svg.parts)
        return (f'<?xml version="1.0" encoding="UTF-8"?>\n{head}\n<title>{xml_escape(title_lines(self.state)[0])}</title>\n'
                f"<style>\n{STYLE}\n</style>\n"
                f'<rect x="0" y="0" width="{width:.0f}" height="{height:.0f}" fill="#ffffff"/>\n{body}\n</svg>\n')
