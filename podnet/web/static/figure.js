// The topic's figure, drawn from /api/picture: node boxes with their Pods, the underlay bar(s)
// and router, the VXLAN overlay, the Internet and external client, unscheduled Pods, and the
// Services with lines to their endpoint Pods. Coordinates come from the server; this only draws.

import { s, tip, clear } from "./dom.js";

const MANY_LINES = 40; // above this, a Service's lines are drawn only while it is hovered or selected

let WIDE = 1; // projector type is larger: labels are fitted for it (the figure is redrawn on a toggle)
export function setWide(on) {
  WIDE = on ? 1.14 : 1;
}

// A text that fits `width`: as it is, squeezed up to a fifth (textLength), or cut with "…".
function label(attrs, text, width, charWidth) {
  const value = String(text ?? "");
  const cw = charWidth * WIDE;
  const el = s("text", attrs);
  if (value.length * cw <= width) {
    el.textContent = value;
    return el;
  }
  const max = Math.max(3, Math.floor((width * 1.2) / cw));
  const shown = value.length <= max ? value : value.slice(0, max - 1) + "…";
  el.textContent = shown;
  if (shown.length * cw > width) {
    el.setAttribute("textLength", width);
    el.setAttribute("lengthAdjust", "spacingAndGlyphs");
  }
  return el;
}

export function podClass(status) {
  if (status === "Running") return "running";
  if (status === "Pending") return "pending";
  if (status === "ContainerCreating") return "creating";
  return "failed";
}

function defs() {
  return s("defs", {},
    s("pattern", { id: "hatch", width: 8, height: 8, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" },
      s("rect", { width: 8, height: 8, fill: "#fff4d6" }),
      s("line", { x1: 0, y1: 0, x2: 0, y2: 8, stroke: "#f0b63c", "stroke-width": 4 })));
}

function box(b, cls, extra = {}) {
  return s("rect", { x: b.x, y: b.y, width: b.w, height: b.h, rx: 6, class: cls, ...extra });
}

function drawNode(node) {
  const b = node.box;
  const g = s("g", { class: "node" + (node.ready ? "" : " not-ready"), dataset: { name: node.name } });
  g.append(box(b, "node-box"));
  g.append(s("text", { x: b.x + 12, y: b.y + 21, class: "node-name", text: node.name }));
  const role = node.ready ? node.role : `${node.role} · NotReady: ${node.reason}`;
  g.append(label({ x: b.x + b.w - 12, y: b.y + 21, class: "node-role", "text-anchor": "end" }, role, b.w - 110, 6.6));
  node.lines.slice(0, 3).forEach((line, i) => {
    g.append(label({ x: b.x + 12, y: b.y + 38 + i * 14, class: "node-line" }, line, b.w - 24, 7.25));
  });
  if (node.hiddenPods) {
    g.append(s("text", { x: b.x + 12, y: b.y + b.h - 8, class: "node-more", text: `+${node.hiddenPods} more Pods (not drawn)` }));
  }
  const lines = [`node ${node.name} (${node.role})`, ...node.lines];
  if (!node.ready) lines.push(`NotReady: ${node.reason}: ${node.message}`);
  lines.push("click: routes");
  g.append(tip(lines.join("\n")));
  return g;
}

export function drawPod(pod) {
  const b = pod.box;
  const cls = podClass(pod.status);
  const g = s("g", { class: `pod ${cls}`, dataset: { name: pod.name, ip: pod.ip || "", status: pod.status } });
  g.append(box(b, "pod-box", { rx: 5 }));
  g.append(label({ x: b.x + 8, y: b.y + 18, class: "pod-name" }, pod.name, b.w - 16, 7.6));
  const second = pod.ip ? `${pod.ip} · ${pod.status}` : pod.status === "Running" ? "Running, no IP" : `${pod.status}, no IP`;
  g.append(label({ x: b.x + 8, y: b.y + 36, class: "pod-line" }, second, b.w - 16, 7.25));
  const lines = [`Pod ${pod.namespace}/${pod.name}`, `IP ${pod.ip || "none"}`, `status ${pod.status}`];
  if (pod.reason) lines.push(`reason: ${pod.reason}`);
  g.append(tip(lines.join("\n")));
  return g;
}

function drawLinks(picture, frag) {
  const segments = picture.underlay.segments;
  for (const node of picture.nodes) {
    const seg = segments[node.segment] || segments[0];
    if (!seg) continue;
    const x = node.box.x + node.box.w / 2;
    const y = node.link === "down" ? node.box.y + node.box.h : node.box.y;
    frag.append(s("line", { x1: x, y1: y, x2: x, y2: seg.y, class: "node-link" }));
  }
}

function drawUnderlay(picture, frag) {
  const u = picture.underlay;
  const g = s("g", { class: "underlay", dataset: { kind: u.kind } });
  u.segments.forEach((seg, i) => {
    g.append(s("line", { x1: seg.x1, y1: seg.y, x2: seg.x2, y2: seg.y, class: "bar" }, tip(`underlay segment ${seg.cidr}`)));
    const label = u.kind === "routed" ? `segment ${i + 1}: ${seg.cidr}` : u.label;
    g.append(s("text", { x: seg.x1 + 4, y: seg.y + 17, class: "bar-label", text: label }));
  });
  let right = Math.max(...u.segments.map((seg) => seg.x2), 0);
  const y = u.segments.length ? u.segments[0].y : 0;
  if (u.router) {
    const r = u.router.box;
    u.segments.forEach((seg, i) => {
      const last = i === u.segments.length - 1;
      const ly = last ? seg.y : seg.y + 24 + 6 * i;
      const points = last ? `${seg.x2},${seg.y} ${r.x},${seg.y}` : `${seg.x2 - 14},${seg.y} ${seg.x2 - 14},${ly} ${r.x},${ly}`;
      g.append(s("polyline", { points, class: "router-link" }));
    });
    const rg = s("g", { class: "router", dataset: { name: "router" } }, box(r, "router-box"));
    rg.append(s("text", { x: r.x + 10, y: r.y + 19, class: "outside-title", text: "router" }));
    u.router.addresses.slice(0, 2).forEach((address, i) => {
      rg.append(label({ x: r.x + 10, y: r.y + 36 + i * 15, class: "outside-line" }, address, r.w - 20, 7.25));
    });
    rg.append(tip(`router ${u.router.addresses.join(", ")}\n${u.router.note}`));
    g.append(rg);
    right = r.x + r.w;
  }
  let from = right;
  for (const out of picture.outside) {
    g.append(s("line", { x1: from, y1: y, x2: out.box.x, y2: y, class: "outside-link" }));
    from = out.box.x + out.box.w;
  }
  frag.append(g);
}

function drawOverlay(picture, frag) {
  const o = picture.overlay;
  if (!o || !picture.nodes.length || !picture.underlay.segments.length) return;
  const y = picture.underlay.segments[0].y - 16;
  const xs = picture.nodes.map((n) => n.box.x + n.box.w / 2);
  const g = s("g", { class: "overlay" });
  g.append(s("line", { x1: Math.min(...xs), y1: y, x2: Math.max(...xs), y2: y, class: "overlay-line" }));
  for (const x of xs) g.append(s("circle", { cx: x, cy: y, r: 4, class: "vtep" }));
  g.append(s("text", { x: Math.max(...xs) - 10, y: y - 6, "text-anchor": "end", class: "overlay-label", text: o.label }));
  g.append(tip(`${o.label}\nevery Pod packet between nodes is wrapped in UDP ${o.port} between the VTEPs`));
  frag.append(g);
}

function drawOutside(out) {
  const b = out.box;
  const g = s("g", { class: "outside", dataset: { name: out.name } }, box(b, "outside-box"));
  g.append(label({ x: b.x + 10, y: b.y + 20, class: "outside-title" }, out.title, b.w - 20, 8.3));
  out.lines.slice(0, 4).forEach((line, i) => {
    g.append(label({ x: b.x + 10, y: b.y + 38 + i * 15, class: "outside-line" }, line, b.w - 20, 7.25));
  });
  g.append(tip([out.title, ...out.lines].join("\n")));
  return g;
}

function drawPending(pending, frag) {
  if (!pending.pods.length) return;
  const g = s("g", { class: "pending-box" }, box(pending.box, "pending-area"));
  g.append(s("text", { x: pending.box.x + 12, y: pending.box.y + 22, class: "node-name", text: pending.label }));
  frag.append(g);
  for (const pod of pending.pods) frag.append(drawPod(pod));
}

function drawService(svc) {
  const b = svc.box;
  const g = s("g", { class: "service", dataset: { key: svc.key } });
  g.append(box(b, "service-box", { stroke: svc.colour }));
  g.append(s("rect", { x: b.x, y: b.y, width: 6, height: b.h, rx: 3, fill: svc.colour }));
  const head = `${svc.name} · ${svc.type}`;
  g.append(label({ x: b.x + 14, y: b.y + 18, class: "svc-name" }, head, b.w - 22, 7.6));
  g.append(label({ x: b.x + 14, y: b.y + 35, class: "svc-line" }, `ClusterIP ${svc.clusterIP || "None"}`, b.w - 22, 7.25));
  g.append(label({ x: b.x + 14, y: b.y + 51, class: "svc-line" }, svc.ports, b.w - 22, 7.25));
  const lines = [`Service ${svc.key} (${svc.type})`, `ClusterIP ${svc.clusterIP}`, `ports ${svc.ports}`];
  if (svc.nodePorts.length) lines.push(`NodePorts ${svc.nodePorts.join(", ")}`);
  lines.push(`endpoints: ${svc.endpoints.join(", ") || "none"}`);
  g.append(tip(lines.join("\n")));
  return g;
}

export function serviceLines(picture, svc, cls = "svc-line-path") {
  const from = picture.anchors["svc:" + svc.key];
  const out = [];
  if (!from) return out;
  for (const name of svc.endpoints) {
    const to = picture.anchors[name];
    if (!to) continue;
    out.push(s("line", { x1: from.x, y1: from.y, x2: to.x, y2: to.y, class: cls, stroke: svc.colour, dataset: { service: svc.key, pod: name } }));
  }
  return out;
}

function lineCount(picture) {
  return picture.services.reduce((n, svc) => n + svc.endpoints.filter((p) => picture.anchors[p]).length, 0);
}

// Everything but the path, in one pass into a fragment; returns the layers the app needs later.
export function drawFigure(svg, picture) {
  clear(svg);
  svg.setAttribute("viewBox", `0 0 ${picture.size.width} ${picture.size.height}`);
  svg.dataset.width = picture.size.width;
  const frag = document.createDocumentFragment();
  frag.append(defs());
  frag.append(s("rect", { x: 0, y: 0, width: picture.size.width, height: picture.size.height, class: "backdrop" }));
  drawUnderlay(picture, frag);
  drawOverlay(picture, frag);
  const nodes = s("g", { class: "nodes" });
  for (const node of picture.nodes) nodes.append(drawNode(node));
  frag.append(nodes);
  drawLinks(picture, frag);
  const many = lineCount(picture) > MANY_LINES;
  const lines = s("g", { class: "svc-lines" + (many ? " on-demand" : ""), dataset: { many: many ? "1" : "0" } });
  if (!many) for (const svc of picture.services) lines.append(...serviceLines(picture, svc));
  frag.append(lines);
  const pods = s("g", { class: "pods" });
  for (const pod of picture.pods) pods.append(drawPod(pod));
  frag.append(pods);
  drawPending(picture.pending, frag);
  for (const out of picture.outside) frag.append(drawOutside(out));
  if (picture.services.length) {
    const top = picture.services[0].box.y;
    frag.append(s("text", { x: picture.services[0].box.x, y: top - 9, class: "section-label", text: `Services (${picture.services.length})` }));
  }
  const services = s("g", { class: "services" });
  for (const svc of picture.services) services.append(drawService(svc));
  frag.append(services);
  const focus = s("g", { class: "svc-focus" });
  frag.append(focus);
  svg.append(frag);
  return { lines, focus, many };
}

// Mark the selected object; returns false when it is no longer in the figure.
export function highlight(svg, selection) {
  for (const el of svg.querySelectorAll(".selected")) el.classList.remove("selected");
  for (const el of svg.querySelectorAll(".policy-member")) el.classList.remove("policy-member");
  if (!selection) return true;
  if (selection.type === "policy") {
    for (const name of selection.pods || []) {
      const el = svg.querySelector(`g.pod[data-name="${CSS.escape(name)}"]`);
      if (el) el.classList.add("policy-member");
    }
    return true;
  }
  const attr = selection.type === "service" ? "key" : "name";
  const cls = selection.type === "outside" ? "g.outside, g.router" : `g.${selection.type}`;
  const el = [...svg.querySelectorAll(cls)].find((e) => e.dataset[attr] === selection.key);
  if (el) el.classList.add("selected");
  return Boolean(el);
}

// The lines of one Service (hovered or selected), on top; with few lines, just emphasise them.
export function focusService(picture, layers, keys) {
  clear(layers.focus);
  for (const el of layers.lines.querySelectorAll(".hot")) el.classList.remove("hot");
  for (const key of keys) {
    const svc = picture.services.find((x) => x.key === key);
    if (!svc) continue;
    if (layers.many) layers.focus.append(...serviceLines(picture, svc, "svc-line-path hot"));
    else for (const el of layers.lines.querySelectorAll(`line[data-service="${CSS.escape(key)}"]`)) el.classList.add("hot");
  }
}
