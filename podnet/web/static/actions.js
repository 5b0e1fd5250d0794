// The Actions tab: forms that run a probe, a trace, requests or a capture on the lab (POST
// /api/actions/KIND, only with --allow-actions); sources and targets are picked from the figure.

import { h, clear, postJSON } from "./dom.js";
import { packetTable } from "./activity.js";

function field(label, input) {
  return h("label", { class: "field" }, h("span", { text: label }), input);
}

function input(name, attrs = {}) {
  return h("input", { name, autocomplete: "off", spellcheck: "false", ...attrs });
}

function select(name, options, value) {
  const el = h("select", { name });
  for (const [v, text] of options) el.append(h("option", { value: v, text, selected: v === value }));
  return el;
}

const FORMS = {
  probe: {
    title: "Probe: one packet, where it arrived and how",
    fields: () => [
      field("source", input("source", { list: "pick-sources", required: true, placeholder: "client" })),
      field("destination", input("destination", { list: "pick-dests", required: true, placeholder: "pod-3-2 or an IP" })),
      field("protocol", select("protocol", [["icmp", "icmp"], ["udp", "udp"], ["tcp", "tcp"]], "icmp")),
      field("port", input("port", { type: "number", min: 1, max: 65535, placeholder: "(default)" })),
    ],
    body: (f) => ({ source: f.source, destination: f.destination, protocol: f.protocol, ...(f.port ? { port: Number(f.port) } : {}) }),
  },
  trace: {
    title: "Trace: the kind of traffic, hop by hop, with every rewrite",
    fields: () => [
      field("source", input("source", { list: "pick-sources", required: true, placeholder: "client" })),
      field("destination (HOST[:PORT])", input("destination", { list: "pick-dests", required: true, placeholder: "web:80" })),
      field("protocol", select("protocol", [["", "(automatic)"], ["icmp", "icmp"], ["udp", "udp"], ["tcp", "tcp"]], "")),
    ],
    body: (f) => ({ source: f.source, destination: f.destination, ...(f.protocol ? { protocol: f.protocol } : {}) }),
  },
  connect: {
    title: "Connect: real requests, which Pod answered and what it saw",
    fields: () => [
      field("source", input("source", { list: "pick-sources", required: true, placeholder: "client" })),
      field("target (HOST:PORT)", input("target", { list: "pick-dests", required: true, placeholder: "web:80" })),
      field("protocol", select("protocol", [["tcp", "tcp"], ["udp", "udp"]], "tcp")),
      field("count", input("count", { type: "number", min: 1, max: 20, value: 3 })),
    ],
    body: (f) => ({ source: f.source, target: f.target, protocol: f.protocol, count: Number(f.count || 3) }),
  },
  capture: {
    title: "Capture: packets in a Pod's or node's namespace (pcap)",
    fields: () => [
      field("target", input("target", { list: "pick-sources", required: true, placeholder: "pod-3-2" })),
      field("filter (BPF)", input("filter", { placeholder: "icmp or tcp port 8080" })),
      field("count", input("count", { type: "number", min: 1, max: 500, value: 20 })),
      field("duration (s)", input("duration", { type: "number", min: 1, max: 60, value: 5 })),
    ],
    body: (f) => ({ target: f.target, filter: f.filter || "", count: Number(f.count || 20), duration: Number(f.duration || 5) }),
  },
};

function values(form) {
  const out = {};
  for (const el of form.elements) if (el.name) out[el.name] = el.value.trim();
  return out;
}

export class ActionsView {
  constructor(root, allowActions, { onDrawable }) {
    this.root = root;
    this.onDrawable = onDrawable;
    this.lists = { sources: h("datalist", { id: "pick-sources" }), dests: h("datalist", { id: "pick-dests" }) };
    root.append(this.lists.sources, this.lists.dests);
    if (!allowActions) {
      root.append(h("p", { class: "readonly-note big", id: "readonly", text: "read-only: start podnet web with --allow-actions to run probes, traces, requests and captures from this page." }),
        h("p", { class: "muted", text: "Whatever is run from a terminal (podnet trace, probe, connect, capture) still shows up here live." }));
      return;
    }
    const grid = h("div", { class: "forms" });
    for (const [kind, spec] of Object.entries(FORMS)) grid.append(this.form(kind, spec));
    root.append(grid);
  }

  form(kind, spec) {
    const status = h("div", { class: "form-status", dataset: { state: "idle" } });
    const result = h("div", { class: "form-result" });
    const button = h("button", { type: "submit", text: `Run ${kind}` });
    const form = h("form", { id: `${kind}-form`, class: "action-form", novalidate: true },
      h("h3", { text: spec.title }), h("div", { class: "fields" }, ...spec.fields(), button), status, result);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit(kind, spec, form, button, status, result);
    });
    return form;
  }

  async submit(kind, spec, form, button, status, result) {
    const payload = spec.body(values(form));
    button.disabled = true;
    status.dataset.state = "running";
    status.textContent = `running ${kind}…`;
    clear(result);
    try {
      const { status: code, body } = await postJSON(`/api/actions/${kind}`, payload);
      if (code === 400 || code === 403 || code === 415) {
        status.dataset.state = "error";
        status.textContent = `refused (${code}): ${body.error}`;
        return;
      }
      status.dataset.state = body.ok ? "done" : "failed";
      status.textContent = this.outcome(kind, body);
      if (kind === "capture") this.capture(result, body);
      else if (body.result) this.onDrawable(kind);
    } catch (err) {
      status.dataset.state = "error";
      status.textContent = `failed: ${err.message}`;
    } finally {
      button.disabled = false;
    }
  }

  outcome(kind, body) {
    const r = body.result || {};
    if (body.error && !body.result) return `error: ${body.error}`;
    if (kind === "trace") return r.summary || (body.ok ? "done" : "failed");
    if (kind === "probe") return `${r.status || "?"}${r.receiver ? " at " + r.receiver : ""}${r.reason ? ": " + r.reason : ""}`;
    if (kind === "connect") return `${(r.answers || []).filter((a) => a.status === "ok").length}/${(r.answers || []).length} answers ok` + (r.backends ? `; answered by ${r.backends.join(", ")}` : "");
    if (kind === "capture") return `${(r.packets || []).length} packets captured` + (body.error ? ` (${body.error})` : "");
    return body.ok ? "done" : `failed${body.error ? ": " + body.error : ""}`;
  }

  capture(box, body) {
    if (body.download) box.append(h("p", {}, h("a", { href: body.download, download: "", class: "download", text: "download the pcap" })));
    const packets = body.result?.packets || [];
    box.append(packets.length ? packetTable(packets) : h("p", { class: "muted", text: "no packets" }));
  }

  // Refresh the pickers from the figure: Pods, nodes, the outside hosts, Services as NAME:PORT.
  update(picture) {
    const names = [...picture.pods.map((p) => p.name), ...picture.pending.pods.map((p) => p.name), ...picture.nodes.map((n) => n.name), "external", "internet"];
    const dests = [...names];
    for (const svc of picture.services) {
      const port = /^(\d+)\//.exec(svc.ports || "");
      dests.push(port ? `${svc.name}:${port[1]}` : svc.name);
      for (const np of svc.nodePorts) if (picture.nodes[0]) dests.push(`${picture.nodes[0].name}:${np}`);
    }
    const key = names.join() + "|" + dests.join();
    if (key === this.key) return;
    this.key = key;
    clear(this.lists.sources).append(...names.map((n) => h("option", { value: n })));
    clear(this.lists.dests).append(...[...new Set(dests)].map((n) => h("option", { value: n })));
  }
}
