// The activity list: what was last run against the lab from a terminal or this page (probes,
// traces, requests, matrices, checks, captures), newest first, one line each; click to draw.

import { h, clear, timeOf } from "./dom.js";
import { colourOf, normalise } from "./paths.js";

export const DRAWABLE = new Set(["probe", "trace", "connect"]);

function nameOfAddress(picture, address, port) {
  if (!address) return "?";
  const pod = picture?.pods.find((p) => p.ip === address);
  const node = picture?.nodes.find((n) => n.internalIP === address);
  const name = pod ? pod.name : node ? node.name : address;
  return port ? `${name}:${port}` : name;
}

function traceTarget(d, picture) {
  const t = d.target || {};
  if (t.service) {
    const svcName = String(t.service).split("/").pop();
    return t.via === "nodePort" ? nameOfAddress(picture, t.address, t.port) : `${svcName}:${t.port}`;
  }
  if (d.receiver === "internet" || d.receiver === "external") return t.port ? `${d.receiver}:${t.port}` : d.receiver;
  return nameOfAddress(picture, t.address, t.port);
}

// One line that says what the item was, e.g. "trace client → web:80 · Pod-to-Service · reached".
export function describe(item, picture) {
  const d = item.data || {};
  switch (item.kind) {
    case "trace":
      return `trace ${d.source} → ${traceTarget(d, picture)} · ${d.kind} · ${d.status}`;
    case "probe":
      return `probe ${d.source} → ${d.destination}${d.port ? ":" + d.port : ""}/${d.protocol} · ${d.status}` +
        (d.receiver && d.receiver !== d.destination ? ` at ${d.receiver}` : "");
    case "connect": {
      const answers = d.answers || [];
      const ok = answers.filter((a) => a.status === "ok").length;
      return `connect ${d.source} → ${d.target}:${d.port}/${d.protocol} · ${ok}/${answers.length} ok`;
    }
    case "matrix":
      return `matrix · ${d.summary || ""}`;
    case "check": {
      const c = d.counts || {};
      return `check ${d.lab || ""} · ${d.passed ? "PASS" : "FAIL"} (${c.PASS || 0} pass, ${c.FAIL || 0} fail, ${c.ERROR || 0} error)`;
    }
    case "capture":
      return `capture ${d.target} ${d.interface || ""}${d.filter ? " '" + d.filter + "'" : ""} · ${(d.packets || []).length} packets`;
    default:
      return `${item.kind}`;
  }
}

function failed(item) {
  const d = item.data || {};
  if (item.kind === "trace") return d.status !== "reached";
  if (item.kind === "probe") return d.status !== "reached";
  if (item.kind === "connect" || item.kind === "matrix") return d.ok === false;
  if (item.kind === "check") return !d.passed;
  return false;
}

// Render the list into `box`; `shown` is the id drawn now; `onPick(item)` when one is clicked.
export function renderActivity(box, items, picture, shown, onPick) {
  clear(box);
  if (!items.length) {
    box.append(h("li", { class: "muted", text: "No activity yet. Try: podnet trace client web:80" }));
    return;
  }
  const frag = document.createDocumentFragment();
  for (const item of [...items].reverse()) {
    const li = h("li", {
      class: `act act-${item.kind}` + (item.id === shown ? " shown" : "") + (failed(item) ? " failed" : ""),
      dataset: { id: item.id, kind: item.kind, origin: item.origin }, tabindex: 0,
    });
    const dot = h("span", { class: "act-dot" });
    if (DRAWABLE.has(item.kind) && picture) dot.style.background = colourOf(normalise(item, picture).kind);
    li.append(dot, h("span", { class: "act-time", text: timeOf(item.at) }), h("span", { class: "act-text", text: describe(item, picture) }),
      h("span", { class: `origin origin-${item.origin}`, text: item.origin }));
    li.addEventListener("click", () => onPick(item));
    li.addEventListener("keydown", (e) => { if (e.key === "Enter") onPick(item); });
    frag.append(li);
  }
  box.append(frag);
}

// The packets of a capture, as a table.
export function packetTable(packets) {
  const table = h("table", { class: "packets" },
    h("thead", {}, h("tr", {}, ...["#", "proto", "src", "dst", "TTL", "who", "note"].map((x) => h("th", { text: x })))));
  const body = h("tbody");
  for (const p of packets || []) {
    const src = p.sport ? `${p.src}:${p.sport}` : p.src;
    const dst = p.dport ? `${p.dst}:${p.dport}` : p.dst;
    body.append(h("tr", {}, h("td", { text: p.number }), h("td", { text: `${p.proto}${p.flags ? " " + p.flags : ""}` }),
      h("td", { class: "mono", text: src }), h("td", { class: "mono", text: dst }), h("td", { text: p.ttl ?? "-" }),
      h("td", { text: `${p.src_label || ""} → ${p.dst_label || ""}` }), h("td", { text: p.note || "" })));
  }
  table.append(body);
  return table;
}
