// A packet's way drawn on the figure: a trace's or probe's hops (or a connect's answers) as a
// coloured line with arrows through the anchors, numbered markers, and badges where an address
// was rewritten (DNAT/SNAT, naming who did it); plus the hop table shown under the figure.

import { s, h, tip, clear } from "./dom.js";

export const KINDS = {
  "Pod-to-Pod": "#0072b2",
  "Pod-to-Service": "#e69f00",
  "External-to-Service": "#cc3d8f",
  "Pod-to-external": "#009e73",
};
const OTHER = "#555555";

export function colourOf(kind) {
  return KINDS[kind] || OTHER;
}

function withPort(ip, port) {
  return ip && port ? `${ip}:${port}` : ip || "";
}

// The rewrites a probe does not name: where its src or dst differs from the hop before.
function probeRewrites(path, i) {
  if (i === 0) return [];
  const [a, b] = [path[i - 1], path[i]];
  const out = [];
  const before = (x, p) => withPort(x, p);
  if (a.dst !== b.dst || a.dport !== b.dport) out.push(`DNAT ${before(a.dst, a.dport)} -> ${before(b.dst, b.dport)} (seen here)`);
  if (a.src !== b.src || a.sport !== b.sport) out.push(`SNAT ${before(a.src, a.sport)} -> ${before(b.src, b.sport)} (seen here)`);
  return out;
}

function probeKind(data, picture) {
  const outside = new Set(["internet", "external"]);
  const dest = data.probe?.target || data.destination;
  if (outside.has(dest) || outside.has(data.receiver)) return "Pod-to-external";
  if (outside.has(data.source)) return "External-to-Service";
  if (data.destination_nat) return "Pod-to-Service";
  return picture.pods.some((p) => p.name === data.source) ? "Pod-to-Pod" : "other";
}

function connectKind(data, picture) {
  const host = String(data.target || "").split(":")[0];
  if (data.source === "external" || data.source === "internet") return "External-to-Service";
  if (host === "internet" || data.lookup?.how === "internet") return "Pod-to-external";
  if (picture.services.some((x) => x.name === host || x.clusterIP === host)) return "Pod-to-Service";
  return "Pod-to-Pod";
}

// Where a connect's requests went in: the node of NODE:PORT, or the Service of NAME:PORT.
function connectVia(d, picture) {
  const host = String(d.target || "").split(":")[0];
  if (picture.nodes.some((n) => n.name === host)) return host;
  const svc = picture.services.find((x) => x.name === host || x.clusterIP === host || x.key === host);
  return svc ? "svc:" + svc.key : null;
}

// One shape for the three kinds of item: {kind, status, summary, hops: [{index, where, …}]}.
export function normalise(item, picture) {
  const d = item.data || {};
  if (item.kind === "trace") {
    return { kind: d.kind, status: d.status, summary: d.summary, explanation: d.explanation, policy: d.policy,
      hops: (d.hops || []).map((x) => ({ ...x, rewrite: x.rewrite || [] })) };
  }
  if (item.kind === "probe") {
    const path = d.path || [];
    const hops = path.map((x, i) => ({ index: i + 1, where: x.name, kind: x.kind, iface: x.iface, direction: x.direction,
      src: withPort(x.src, x.sport), dst: withPort(x.dst, x.dport), ttl: x.ttl, rewrite: probeRewrites(path, i) }));
    const nat = [d.source_nat ? "source NAT" : "", d.destination_nat ? "destination NAT" : ""].filter(Boolean).join(", ");
    const summary = `probe ${d.source} → ${d.destination}${d.port ? ":" + d.port : ""}/${d.protocol}: ${d.status}` +
      (d.receiver ? ` at ${d.receiver}` : "") + (nat ? ` (${nat})` : "") + (d.reason ? ` — ${d.reason}` : "");
    return { kind: probeKind(d, picture), status: d.status, summary, hops };
  }
  const answers = d.answers || [];
  const hops = [{ index: 1, where: d.source, kind: "source", iface: "", direction: "out", src: "", dst: `${d.target}:${d.port}`, ttl: null, rewrite: [] }];
  const via = connectVia(d, picture);
  if (via) hops.push({ index: 2, where: via, kind: "via", iface: "", direction: "", src: "", dst: `${d.target}:${d.port}`, ttl: null, rewrite: [] });
  answers.forEach((a) => hops.push({ index: hops.length + 1, where: a.pod || "", kind: "answer", iface: a.status, direction: "in",
    src: a.client || "", dst: withPort(a.pod_ip, a.port), ttl: null, rewrite: [], ms: a.ms }));
  const ok = answers.filter((a) => a.status === "ok").length;
  const summary = `connect ${d.source} → ${d.target}:${d.port}/${d.protocol}: ${ok}/${answers.length} ok, answered by ${(d.backends || []).join(", ") || "nobody"}`;
  return { kind: connectKind(d, picture), status: d.ok ? "ok" : "failed", summary, hops, connect: true };
}

// Who rewrote: "DNAT a -> b by kube-proxy (…)" gives {type: "DNAT", change: "a -> b", who: "kube-proxy"}.
export function parseRewrite(text) {
  const m = /^(\S+)\s+(.*?)(?:\s+by\s+(.+?))?(?:\s+\((.*)\))?$/.exec(text) || [];
  return { type: m[1] || text, change: m[2] || "", who: m[3] || "", detail: m[4] || "" };
}

function barY(picture) {
  const seg = picture.underlay.segments[0];
  return seg ? seg.y : picture.size.height / 2;
}

function onUnderlay(name, picture) {
  return name === "internet" || name === "external" || name === "router" || picture.nodes.some((n) => n.name === name);
}

// An outside host (or the router) is entered from the side the line comes from, not crossed.
function edgeToward(p, other, picture) {
  const out = picture.outside.find((o) => o.name === p.name);
  const b = out ? out.box : p.name === "router" && picture.underlay.router ? picture.underlay.router.box : null;
  return b && other.x > b.x + b.w ? { ...p, x: b.x + b.w } : p;
}

// Between two places on the underlay, the line runs along it (along the overlay when tunnelled).
function legPoints(a0, b0, picture, tunnel) {
  const a = edgeToward(a0, b0, picture), b = edgeToward(b0, a0, picture);
  if (onUnderlay(a.name, picture) && onUnderlay(b.name, picture) && Math.abs(a.x - b.x) > 1) {
    const y = barY(picture) - (tunnel && picture.overlay ? 16 : 8);
    return [[a.x, a.y], [a.x, y], [b.x, y], [b.x, b.y]];
  }
  return [[a.x, a.y], [b.x, b.y]];
}

function arrowAt(points, colour) {
  let best = 0, len = -1;
  for (let i = 1; i < points.length; i++) {
    const d = Math.hypot(points[i][0] - points[i - 1][0], points[i][1] - points[i - 1][1]);
    if (d > len) { len = d; best = i; }
  }
  if (len < 24) return null;
  const [p, q] = [points[best - 1], points[best]];
  const deg = (Math.atan2(q[1] - p[1], q[0] - p[0]) * 180) / Math.PI;
  return s("path", { d: "M -9 -6 L 7 0 L -9 6 z", class: "arrow", fill: colour,
    transform: `translate(${(p[0] + q[0]) / 2} ${(p[1] + q[1]) / 2}) rotate(${deg})` });
}

// Where a hop is drawn: the anchor; for a Pod, just under its tile (so its text stays readable).
function anchorOf(picture, name, pods) {
  const a = picture.anchors[name];
  if (!a) return null;
  const pod = pods.get(name);
  return pod ? { name, x: a.x, y: pod.box.y + pod.box.h + 2 } : { name, x: a.x, y: a.y };
}

function drawLegs(g, hops, picture, colour, fan) {
  const pods = new Map([...picture.pods, ...picture.pending.pods].map((p) => [p.name, p]));
  const placed = hops.map((hop) => anchorOf(picture, hop.where, pods));
  const legs = [];
  if (fan) {
    const from = placed[0];
    const via = hops[1] && hops[1].kind === "via" ? placed[1] : null;
    if (from && via) legs.push([from, via]);
    const seen = new Set();
    placed.slice(via ? 2 : 1).forEach((to) => {
      const start = via || from;
      if (start && to && !seen.has(to.name)) { seen.add(to.name); legs.push([start, to]); }
    });
  } else {
    let last = null, lastHop = null;
    placed.forEach((at, i) => {
      if (!at) return;
      const tunnel = /flannel|vxlan/.test(`${lastHop?.iface} ${hops[i].iface}`);
      if (last && last.name !== at.name) legs.push([last, at, tunnel]);
      last = at;
      lastHop = hops[i];
    });
  }
  for (const [a, b, tunnel] of legs) {
    const points = legPoints(a, b, picture, tunnel);
    const text = points.map((p) => p.join(",")).join(" ");
    g.append(s("polyline", { points: text, class: "path-casing" }));
    g.append(s("polyline", { points: text, class: "path-line", stroke: colour }));
    const arrow = arrowAt(points, colour);
    if (arrow) g.append(arrow);
  }
  return placed;
}

function hopTitle(hop) {
  const parts = [`#${hop.index} ${hop.where} ${hop.iface || ""} ${hop.direction || ""}`.trim(), `src ${hop.src || "-"}  dst ${hop.dst || "-"}`];
  if (hop.ttl !== null && hop.ttl !== undefined) parts.push(`TTL ${hop.ttl}`);
  if (hop.ms !== undefined) parts.push(`${hop.ms} ms`);
  return parts.concat(hop.rewrite).join("\n");
}

function drawMarkers(g, hops, placed, colour) {
  const groups = new Map();
  hops.forEach((hop, i) => {
    const at = placed[i];
    if (!at) return;
    if (!groups.has(at.name)) groups.set(at.name, { at, hops: [] });
    groups.get(at.name).hops.push(hop);
  });
  const spots = [];
  for (const { at, hops: here } of groups.values()) {
    const perRow = 6;
    const rows = Math.ceil(here.length / perRow);
    here.forEach((hop, k) => {
      const inRow = Math.min(perRow, here.length - Math.floor(k / perRow) * perRow);
      const outside = at.name === "internet" || at.name === "external" || at.name === "router";
      const x = outside ? at.x - 13 - (inRow - 1 - (k % perRow)) * 23 : at.x + ((k % perRow) - (inRow - 1) / 2) * 23; // beside a box, not on its text
      const y = at.y + (Math.floor(k / perRow) - (rows - 1) / 2) * 23;
      const marker = s("g", { class: "hop" + (hop.rewrite.length ? " rewritten" : ""), dataset: { index: hop.index, where: hop.where } },
        s("circle", { cx: x, cy: y, r: 10.5, fill: colour, class: "hop-dot" }),
        s("text", { x, y: y + 4, "text-anchor": "middle", class: "hop-num", text: String(hop.index) }),
        tip(hopTitle(hop)));
      g.append(marker);
    });
    spots.push({ at, bottom: at.y + (rows * 23) / 2, hops: here });
  }
  return spots;
}

function overlaps(a, b) {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

// A badge per rewrite, under the markers where it happened; placed once measured (layoutBadges).
function drawBadges(g, spots) {
  const badges = [];
  for (const spot of spots) {
    for (const hop of spot.hops) {
      for (const text of hop.rewrite) {
        const r = parseRewrite(text);
        const label = `#${hop.index} ${r.type} ${r.change.replace(" -> ", " → ")}${r.who ? " · " + r.who : ""}`;
        const rect = s("rect", { rx: 10, class: "rewrite-box" });
        const words = s("text", { class: "rewrite-text", text: label });
        const badge = s("g", { class: `rewrite ${r.type.toLowerCase()}`, dataset: { hop: hop.index, type: r.type, who: r.who } }, rect, words, tip(text));
        g.append(badge);
        badges.push({ spot, rect, words });
      }
    }
  }
  return badges;
}

function layoutBadges(badges, picture) {
  const taken = [];
  for (const { spot, rect, words } of badges) {
    const size = parseFloat(getComputedStyle(words).fontSize) || 11;
    const w = (words.getComputedTextLength() || words.textContent.length * 6.5) + 16;
    const hgt = size + 9;
    const box = { x: Math.max(2, Math.min(spot.at.x - 20, picture.size.width - w - 4)), y: spot.bottom + 4, w, h: hgt };
    while (taken.some((t) => overlaps(t, box))) box.y += hgt + 2;
    taken.push(box);
    rect.setAttribute("x", box.x); rect.setAttribute("y", box.y);
    rect.setAttribute("width", box.w); rect.setAttribute("height", box.h);
    words.setAttribute("x", box.x + 8); words.setAttribute("y", box.y + size + 2);
  }
}

// Draw `item` (an activity record) on the figure; returns the normalised path (for the table).
export function drawPath(svg, picture, item) {
  const old = svg.querySelector("#path");
  if (old) old.remove();
  if (!item || !picture) return null;
  const path = normalise(item, picture);
  const colour = colourOf(path.kind);
  const g = s("g", { id: "path", class: "path", dataset: { kind: path.kind, activity: item.id, status: path.status || "", colour } });
  const placed = drawLegs(g, path.hops, picture, colour, path.connect);
  const spots = drawMarkers(g, path.hops, placed, colour);
  const badges = drawBadges(g, spots);
  svg.append(g);
  layoutBadges(badges, picture);
  return path;
}

function cell(text, cls) {
  return h("td", { class: cls, text: text === null || text === undefined || text === "" ? "-" : String(text) });
}

// The hop table (and summary) of the drawn path into `box`.
export function renderHops(box, path, item, picture) {
  clear(box);
  if (!path) {
    box.append(h("p", { class: "muted", text: "Nothing drawn yet: run podnet trace, probe or connect (or click an item in Activity)." }));
    return;
  }
  const colour = colourOf(path.kind);
  const chip = h("span", { class: "kind-chip", text: path.kind });
  chip.style.background = colour;
  box.append(h("div", { class: "path-head" }, chip, h("span", { class: "path-summary", text: path.summary || "" }),
    h("span", { class: `origin origin-${item.origin}`, text: item.origin })));
  if (path.explanation) box.append(h("p", { class: "muted", text: path.explanation }));
  if (path.policy) box.append(h("p", { class: "policy-line", text: `NetworkPolicy: ${typeof path.policy === "string" ? path.policy : JSON.stringify(path.policy)}` }));
  const head = path.connect ? ["#", "where", "status", "", "client seen", "answered by", "ms", ""] : ["#", "where", "iface", "dir", "src", "dst", "TTL", "rewrite"];
  const table = h("table", { class: "hops" }, h("thead", {}, h("tr", {}, ...head.map((x) => h("th", { text: x })))));
  const body = h("tbody");
  for (const hop of path.hops) {
    const missing = !picture.anchors[hop.where];
    const tr = h("tr", { class: (hop.rewrite.length ? "rewritten" : "") + (missing ? " off-figure" : ""), dataset: { index: hop.index } },
      cell(hop.index), cell(hop.where + (missing ? " (not on the figure)" : "")), cell(hop.iface), cell(hop.direction),
      cell(hop.src, "mono"), cell(hop.dst, "mono"), cell(hop.ms !== undefined ? hop.ms : hop.ttl));
    const rw = h("td", { class: "rw" });
    for (const text of hop.rewrite) {
      const r = parseRewrite(text);
      rw.append(h("div", {}, h("b", { text: r.type }), ` ${r.change} `, r.who ? h("span", { class: "who", text: `by ${r.who}` }) : "",
        r.detail ? h("span", { class: "muted", text: ` (${r.detail})` }) : ""));
    }
    tr.append(rw);
    body.append(tr);
  }
  table.append(body);
  box.append(table);
}
