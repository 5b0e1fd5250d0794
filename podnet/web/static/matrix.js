// The Matrix tab: the latest `podnet probe --all` as a grid (sources × target Pods), each cell
// coloured by its word; a failing cell shows its evidence; "Run matrix" when actions are allowed.

import { h, clear, timeOf, postJSON } from "./dom.js";

const WORDS = { "ok": "ok", "x": "x", "--": "none", "ERR": "err", "NAT": "nat", "other": "other", "LEAK": "leak", "ok/x": "mixed", ".": "self" };

function wordClass(word) {
  return "w-" + (WORDS[word] || "other");
}

function evidence(box, data, source, target) {
  clear(box);
  const rows = (data.failures || []).filter((f) => f.source === source && f.target === target);
  box.append(h("h3", { text: `${source} → ${target}` }));
  if (!rows.length) {
    const word = (data.cells[data.sources.indexOf(source)] || [])[data.targets.indexOf(target)];
    const denied = word === "x" && (data.policies || []).length;
    box.append(h("p", { class: "muted", text: denied
      ? `Denied, as the NetworkPolicies in force say (${data.policies.join(", ")}): not a failure.`
      : "No failure recorded for this pair." }));
    return;
  }
  const list = h("ul", { class: "evidence" });
  for (const f of rows) list.append(h("li", {}, h("b", { text: f.protocol }), " ", h("span", { text: f.why })));
  box.append(list);
}

function grid(data, onCell) {
  const policies = (data.policies || []).length > 0;
  const table = h("table", { class: "matrix-grid" });
  const head = h("tr", {}, h("th", { class: "corner", text: "from \\ to" }));
  for (const t of data.targets) head.append(h("th", { class: "col" }, h("span", { text: t })));
  table.append(h("thead", {}, head));
  const body = h("tbody");
  data.sources.forEach((source, i) => {
    const tr = h("tr", {}, h("th", { class: "row", text: source }));
    (data.cells[i] || []).forEach((word, j) => {
      const target = data.targets[j];
      const expected = policies && (word === "x" || word === "ok/x"); // denied as the NetworkPolicies say
      const bad = word !== "ok" && word !== "." && !expected;
      const cls = expected ? "w-denied" : wordClass(word) + (bad ? " bad" : "");
      const td = h("td", { class: cls, text: word, title: `${source} → ${target}: ${word}${expected ? " (as the NetworkPolicies say)" : ""}`,
        dataset: { source, target, word } });
      if (bad || expected) td.addEventListener("click", () => onCell(source, target, td));
      tr.append(td);
    });
    body.append(tr);
  });
  table.append(body);
  return table;
}

export class MatrixView {
  constructor(root, allowActions) {
    this.root = root;
    this.item = null;
    this.running = false;
    this.status = h("span", { class: "run-status", id: "matrix-status" });
    this.button = h("button", { id: "run-matrix", type: "button", text: "Run matrix" });
    this.button.addEventListener("click", () => this.run());
    this.controls = h("div", { class: "tab-controls" });
    if (allowActions) this.controls.append(this.button, this.status);
    else this.controls.append(h("span", { class: "muted readonly-note", text: "read-only: start podnet web with --allow-actions to run the matrix from here" }));
    this.body = h("div", { class: "matrix-body" });
    root.append(this.controls, this.body);
    this.render();
  }

  update(items) {
    const latest = [...items].reverse().find((x) => x.kind === "matrix") || null;
    if (latest && this.item && latest.id === this.item.id) return;
    this.item = latest;
    this.render();
  }

  render() {
    clear(this.body);
    if (!this.item) {
      this.body.append(h("p", { class: "muted", text: "No matrix yet: run podnet probe --all (or the button above)." }));
      return;
    }
    const d = this.item.data;
    this.body.append(h("p", { class: "matrix-summary " + (d.ok ? "pass" : "fail") },
      h("span", { text: d.summary }), h("span", { class: "muted", text: ` · ${timeOf(this.item.at)} · ${this.item.origin}` })));
    const wrap = h("div", { class: "matrix-wrap" });
    const side = h("div", { class: "matrix-evidence" }, h("p", { class: "muted", text: "Click a failing cell to see why." }));
    wrap.append(grid(d, (source, target, td) => {
      for (const el of this.body.querySelectorAll("td.picked")) el.classList.remove("picked");
      td.classList.add("picked");
      evidence(side, d, source, target);
    }), side);
    this.body.append(wrap, h("p", { class: "legend-text", text: d.legend || "" }));
    window.podnetMatrixAt = Date.now(); // for podnet bench --web: when the newest grid was on the page
    if ((d.policies || []).length) {
      this.body.append(h("p", { class: "muted", text: "NetworkPolicies in force: " + d.policies.map((p) => (typeof p === "string" ? p : p.key || JSON.stringify(p))).join(", ") }));
    }
  }

  async run() {
    if (this.running) return;
    this.running = true;
    this.button.disabled = true;
    this.root.dataset.running = "1";
    this.status.textContent = "running the matrix… (every source to every Pod, udp and tcp)";
    try {
      const { status, body } = await postJSON("/api/actions/matrix", { protocols: "udp,tcp", nodes: true });
      if (status === 400 || status === 403 || status === 415) this.status.textContent = `refused: ${body.error}`;
      else if (body.error) this.status.textContent = `error: ${body.error}`;
      else this.status.textContent = `done: ${body.result?.summary || (body.ok ? "passed" : "failed")}`;
    } catch (err) {
      this.status.textContent = `failed: ${err.message}`;
    } finally {
      this.running = false;
      this.button.disabled = false;
      delete this.root.dataset.running;
    }
  }
}
