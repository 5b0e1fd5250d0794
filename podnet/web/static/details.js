// The details panel (what was clicked on the figure: a node and its routes, a Pod and why it is
// not Running, a Service and its endpoints, an outside host) and the NetworkPolicies list.

import { h, clear } from "./dom.js";
import { podClass } from "./figure.js";

function row(label, value, cls = "") {
  return h("tr", {}, h("th", { text: label }), h("td", { class: cls, text: value === null || value === undefined || value === "" ? "-" : String(value) }));
}

function table(...rows) {
  return h("table", { class: "kv" }, h("tbody", {}, ...rows));
}

function links(names, type, onSelect) {
  const list = h("ul", { class: "links" });
  for (const name of names) {
    list.append(h("li", {}, h("button", { type: "button", class: "link", text: name, onclick: () => onSelect({ type, key: name }) })));
  }
  return list;
}

function allPods(picture) {
  return [...picture.pods, ...picture.pending.pods];
}

function nodeDetails(box, picture, node, onSelect) {
  box.append(h("h3", { text: `node ${node.name}` }), table(
    row("role", node.role), row("ready", node.ready ? "Ready" : `NotReady: ${node.reason}`, node.ready ? "" : "bad"),
    row("condition", node.message), row("INTERNAL-IP", node.internalIP), row("podCIDR", node.podCIDR),
    ...node.lines.slice(2).map((line) => row("", line))));
  box.append(h("h4", { text: "routes (Pod CIDRs of the other nodes)" }));
  const pre = h("pre", { class: "routes", id: "routes" });
  pre.textContent = node.routes.length ? node.routes.join("\n") : "(none)";
  box.append(pre);
  const pods = picture.pods.filter((p) => p.node === node.name).map((p) => p.name);
  box.append(h("h4", { text: `Pods (${pods.length}${node.hiddenPods ? `, ${node.hiddenPods} not drawn` : ""})` }), links(pods, "pod", onSelect));
}

function podDetails(box, picture, pod) {
  const labels = Object.entries(pod.labels || {}).map(([k, v]) => `${k}=${v}`).join(", ");
  box.append(h("h3", { text: `Pod ${pod.name}` }), table(
    row("namespace", pod.namespace), row("node", pod.node || "(not scheduled)"), row("IP", pod.ip || "none"),
    row("status", pod.status, `status-${podClass(pod.status)}`), row("reason", pod.reason, pod.reason ? "bad" : ""),
    row("labels", labels || "(none)"), row("owner", pod.owner || "(none: a bare Pod)"),
    ...(pod.published.length ? [row("published", pod.published.join(", "))] : [])));
  const svcs = picture.services.filter((x) => x.endpoints.includes(pod.name)).map((x) => x.key);
  if (svcs.length) box.append(h("p", { class: "muted", text: `endpoint of ${svcs.join(", ")}` }));
}

function serviceDetails(box, svc, onSelect) {
  box.append(h("h3", { text: `Service ${svc.key}` }), table(
    row("type", svc.type), row("ClusterIP", svc.clusterIP), row("ports", svc.ports),
    row("NodePorts", svc.nodePorts.join(", ") || "(none)")));
  box.append(h("h4", { text: `endpoints (${svc.endpoints.length})` }), links(svc.endpoints, "pod", onSelect));
}

// Render what `selection` points at; returns false when it is gone from the picture.
export function renderDetails(box, picture, selection, onSelect) {
  clear(box);
  if (!selection || !picture) {
    box.append(h("p", { class: "muted", text: "Click a node, a Pod or a Service on the figure for its details." }));
    return true;
  }
  const key = selection.key;
  if (selection.type === "node") {
    const node = picture.nodes.find((n) => n.name === key);
    if (!node) return false;
    nodeDetails(box, picture, node, onSelect);
  } else if (selection.type === "pod") {
    const pod = allPods(picture).find((p) => p.name === key);
    if (!pod) return false;
    podDetails(box, picture, pod);
  } else if (selection.type === "service") {
    const svc = picture.services.find((x) => x.key === key);
    if (!svc) return false;
    serviceDetails(box, svc, onSelect);
  } else if (selection.type === "outside") {
    if (key === "router" && picture.underlay.router) {
      const r = picture.underlay.router;
      box.append(h("h3", { text: "router" }), table(row("addresses", r.addresses.join(", ")), row("note", r.note)));
    } else {
      const out = picture.outside.find((o) => o.name === key);
      if (!out) return false;
      box.append(h("h3", { text: out.title }), table(...out.lines.map((line) => row("", line))));
    }
  } else if (selection.type === "policy") {
    const pol = picture.policies.find((p) => p.key === key);
    if (!pol) return false;
    box.append(h("h3", { text: `NetworkPolicy ${pol.key}` }), table(row("policyTypes", pol.types.join(", ") || "(Ingress)")),
      h("h4", { text: `selects (${pol.selects.length})` }), links(pol.selects, "pod", onSelect));
  }
  return true;
}

export function renderPolicies(box, picture, onSelect) {
  clear(box);
  if (!picture.policies.length) {
    box.append(h("li", { class: "muted", text: "none: every Pod accepts traffic from anywhere" }));
    return;
  }
  for (const pol of picture.policies) {
    const li = h("li", { class: "policy", dataset: { key: pol.key } },
      h("b", { text: pol.key }), " ", h("span", { class: "muted", text: (pol.types.join("+") || "Ingress") }),
      h("div", { class: "selects", text: pol.selects.length ? `selects ${pol.selects.join(", ")}` : "selects no Pod" }));
    li.addEventListener("click", () => onSelect({ type: "policy", key: pol.key, pods: pol.selects }));
    box.append(li);
  }
}
