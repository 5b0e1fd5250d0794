// The Lab tab (course labs only): the lab's title and goal, its checks with the last result
// (PASS / FAIL / ERROR and the evidence), a "Run checks" button, and the lab's README steps.

import { h, clear, getJSON, postJSON, timeOf } from "./dom.js";

export class LabView {
  constructor(root, allowActions) {
    this.root = root;
    this.allowActions = allowActions;
    this.lastCheckId = null;
    this.status = h("span", { class: "run-status", id: "check-status" });
    this.button = h("button", { id: "run-checks", type: "button", text: "Run checks" });
    this.button.addEventListener("click", () => this.run());
    this.head = h("div", { class: "lab-head" });
    this.checks = h("div", { class: "lab-checks", id: "lab-checks" });
    this.readme = h("article", { class: "lab-readme", id: "lab-readme" });
    root.append(this.head, this.checks, this.readme);
  }

  async load() {
    try {
      this.render(await getJSON("/api/lab"));
    } catch (err) {
      clear(this.head).append(h("p", { class: "error", text: `could not load the lab: ${err.message}` }));
    }
  }

  // Refetch when a new check record arrives (from a terminal or the button).
  update(items) {
    const last = [...items].reverse().find((x) => x.kind === "check");
    const id = last ? last.id : null;
    if (id !== this.lastCheckId) {
      this.lastCheckId = id;
      this.load();
    }
  }

  render(lab) {
    clear(this.head);
    if (!lab.course) {
      this.head.append(h("p", { class: "muted", text: `${lab.lab} is not a course lab.` }));
      return;
    }
    this.head.append(h("h2", { text: `Lab ${lab.id}: ${lab.title}` }), h("p", { class: "goal", text: lab.goal }));
    const controls = h("div", { class: "tab-controls" });
    if (this.allowActions) controls.append(this.button, this.status);
    else controls.append(h("span", { class: "muted readonly-note", text: "read-only: start podnet web with --allow-actions to run the checks from here (or run podnet lab check)" }));
    this.head.append(controls);
    this.renderChecks(lab);
    // The README is repository Markdown rendered by the server; the one place HTML is inserted.
    this.readme.innerHTML = lab.readme || "";
  }

  renderChecks(lab) {
    clear(this.checks);
    const last = lab.lastCheck;
    const results = new Map((last?.checks || []).map((c) => [c.name, c]));
    if (last) {
      const c = last.counts || {};
      this.checks.append(h("p", { class: "check-summary " + (last.passed ? "pass" : "fail"),
        text: `${last.passed ? "PASS" : "NOT YET"}: ${c.PASS || 0} passed, ${c.FAIL || 0} failed, ${c.ERROR || 0} errors · ${timeOf(last.at)} · ${last.origin}` }));
    } else {
      this.checks.append(h("p", { class: "muted", text: "Not checked yet: run podnet lab check " + lab.id + " (or the button)." }));
    }
    const table = h("table", { class: "checks" }, h("thead", {}, h("tr", {}, ...["check", "type", "result", "evidence"].map((x) => h("th", { text: x })))));
    const body = h("tbody");
    for (const check of lab.checks) {
      const r = results.get(check.name);
      const status = r ? r.status : "—";
      body.append(h("tr", { dataset: { check: check.name, status } },
        h("td", { text: check.name }), h("td", { class: "muted", text: check.type }),
        h("td", { class: `status status-${status.toLowerCase()}`, text: status }),
        h("td", { class: "evidence", text: r ? r.evidence : "" })));
    }
    table.append(body);
    this.checks.append(table);
  }

  async run() {
    this.button.disabled = true;
    this.status.textContent = "checking…";
    try {
      const { status, body } = await postJSON("/api/actions/check", {});
      if (status === 400 || status === 403 || status === 415) this.status.textContent = `refused: ${body.error}`;
      else this.status.textContent = body.error ? `error: ${body.error}` : body.result?.passed ? "all checks pass" : "done: some checks do not pass yet";
    } catch (err) {
      this.status.textContent = `failed: ${err.message}`;
    } finally {
      this.button.disabled = false;
      this.load();
    }
  }
}
