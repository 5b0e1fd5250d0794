// The page's wiring: loads /api/info, the figure and the activity, follows the live feed
// (/api/events), switches tabs and projector mode, and keeps selection and the drawn path
// across redraws. The views themselves live in figure.js, paths.js, matrix.js, actions.js, …

import { h, clear, getJSON } from "./dom.js";
import { drawFigure, highlight, focusService, setWide } from "./figure.js";
import { drawPath, renderHops, KINDS } from "./paths.js";
import { renderActivity, DRAWABLE, packetTable, describe } from "./activity.js";
import { renderDetails, renderPolicies } from "./details.js";
import { MatrixView } from "./matrix.js";
import { ActionsView } from "./actions.js";
import { LabView } from "./labview.js";

const $ = (sel) => document.querySelector(sel);
const state = { info: null, picture: null, items: [], selection: null, shown: null, newest: null, layers: null, hover: null, views: {} };

function setLive(live) {
  const el = $("#live");
  el.dataset.state = live ? "live" : "reconnecting";
  el.textContent = live ? "● live" : "○ reconnecting…";
}

function switchTab(name) {
  if (name === "lab" && !state.views.lab) name = "figure";
  const wasHidden = $("#view-figure").hidden;
  for (const button of document.querySelectorAll("#tabs button")) {
    button.classList.toggle("active", button.dataset.tab === name);
    button.setAttribute("aria-selected", String(button.dataset.tab === name));
  }
  for (const view of document.querySelectorAll(".view")) view.hidden = view.id !== `view-${name}`;
  document.body.dataset.tab = name;
  if (name === "figure" && wasHidden && state.shown && state.picture) drawPath($("#figure"), state.picture, state.shown); // text is measured only when shown
}

function setProjector(on) {
  document.body.classList.toggle("projector", on);
  const button = $("#projector");
  button.setAttribute("aria-pressed", String(on));
  button.textContent = on ? "Projector: on" : "Projector";
  const url = new URL(window.location.href);
  if (on) url.searchParams.set("projector", "1");
  else url.searchParams.delete("projector");
  window.history.replaceState(null, "", url);
  setWide(on);
  if (state.picture) onPicture(state.picture, true); // labels are fitted, badges measured, in the new type
}

function legend() {
  const box = $("#legend");
  clear(box);
  for (const [label, cls] of [["Running", "running"], ["Pending", "pending"], ["ContainerCreating", "creating"], ["failed", "failed"]]) {
    box.append(h("span", { class: "legend-item" }, h("span", { class: `swatch pod-${cls}` }), label));
  }
  box.append(h("span", { class: "legend-sep" }));
  for (const [kind, colour] of Object.entries(KINDS)) {
    const sw = h("span", { class: "swatch line" });
    sw.style.background = colour;
    box.append(h("span", { class: "legend-item", dataset: { kind } }, sw, kind));
  }
  box.append(h("span", { class: "legend-item" }, h("span", { class: "swatch badge" }, "NAT"), "address rewritten here (by whom)"));
}

function select(selection) {
  state.selection = selection;
  const svg = $("#figure");
  if (state.picture && !highlight(svg, selection)) state.selection = null;
  if (!renderDetails($("#details"), state.picture, state.selection, select)) {
    state.selection = null;
    renderDetails($("#details"), state.picture, null, select);
  }
  $("#details-panel").hidden = !state.selection;
  document.body.dataset.selected = state.selection ? `${state.selection.type}:${state.selection.key}` : "";
  for (const li of document.querySelectorAll("#policies li.policy")) li.classList.toggle("picked", selection?.type === "policy" && li.dataset.key === selection.key);
  refocus();
}

function refocus() {
  if (!state.layers || !state.picture) return;
  const keys = [state.hover, state.selection?.type === "service" ? state.selection.key : null].filter(Boolean);
  focusService(state.picture, state.layers, [...new Set(keys)]);
}

function showItem(item) {
  if (!item) return;
  if (DRAWABLE.has(item.kind)) {
    state.shown = item;
    const path = drawPath($("#figure"), state.picture, item);
    renderHops($("#hops"), path, item, state.picture);
    switchTab("figure");
  } else if (item.kind === "matrix") {
    switchTab("matrix");
  } else if (item.kind === "check") {
    switchTab(state.views.lab ? "lab" : "figure");
  } else if (item.kind === "capture") {
    state.shown = null;
    drawPath($("#figure"), null, null);
    const box = clear($("#hops"));
    box.append(h("div", { class: "path-head" }, h("span", { class: "path-summary", text: describe(item, state.picture) })), packetTable(item.data.packets));
    switchTab("figure");
  }
  markShown();
}

function markShown() {
  for (const li of document.querySelectorAll("#activity li")) li.classList.toggle("shown", li.dataset.id === state.shown?.id);
}

function onPicture(picture, force = false) {
  if (!force && state.picture && picture.version === state.picture.version) return;
  const start = performance.now();
  state.picture = picture;
  document.body.dataset.gone = "";
  $("#gone").hidden = true;
  const svg = $("#figure");
  state.layers = drawFigure(svg, picture);
  $("#lab-name").textContent = `lab ${picture.lab}`;
  const title = clear($("#title"));
  for (const line of picture.title) title.append(h("div", { text: line }));
  $("#caption").textContent = picture.caption || "";
  renderPolicies($("#policies"), picture, select);
  state.views.actions.update(picture);
  if (state.shown) renderHops($("#hops"), drawPath(svg, picture, state.shown), state.shown, picture);
  select(state.selection);
  renderActivity($("#activity"), state.items, picture, state.shown?.id, showItem);
  document.body.dataset.version = String(picture.version);
  document.body.dataset.rendered = "1";
  document.body.dataset.drawMs = String(Math.round(performance.now() - start));
  if (!document.body.dataset.firstDrawAt) document.body.dataset.firstDrawAt = String(Math.round(performance.now()));
  // For podnet bench --web: when each figure was on the page (ms since navigation, and wall clock).
  window.podnetDraws = (window.podnetDraws || []).concat([{ version: picture.version, t: performance.now(), at: Date.now() }]);
}

function onActivity(items) {
  state.items = items || [];
  const newest = [...state.items].reverse().find((x) => DRAWABLE.has(x.kind)) || null;
  if (newest && newest.id !== state.newest && state.picture) {
    state.newest = newest.id;
    state.shown = newest;
    const path = drawPath($("#figure"), state.picture, newest);
    renderHops($("#hops"), path, newest, state.picture);
  }
  renderActivity($("#activity"), state.items, state.picture, state.shown?.id, showItem);
  state.views.matrix.update(state.items);
  if (state.views.lab) state.views.lab.update(state.items);
  document.body.dataset.activity = String(state.items.length);
}

function onGone(message) {
  const banner = $("#gone");
  banner.textContent = `lab ${message.lab || state.info?.lab || ""} is down: the figure shows its last state (podnet up brings it back).`;
  banner.hidden = false;
  document.body.dataset.gone = "1";
}

function listen() {
  const source = new EventSource("/api/events");
  source.addEventListener("open", () => setLive(true));
  source.addEventListener("error", () => setLive(false));
  source.addEventListener("picture", (e) => { setLive(true); onPicture(JSON.parse(e.data).picture); });
  source.addEventListener("activity", (e) => { setLive(true); onActivity(JSON.parse(e.data).items); });
  source.addEventListener("gone", (e) => { setLive(true); onGone(JSON.parse(e.data)); });
  state.source = source;
}

function wireFigure() {
  const svg = $("#figure");
  svg.addEventListener("click", (event) => {
    const el = event.target.closest("g.pod, g.node, g.service, g.outside, g.router, g.hop");
    if (!el) return select(null);
    if (el.classList.contains("hop")) {
      const row = document.querySelector(`#hops tr[data-index="${CSS.escape(el.dataset.index)}"]`);
      if (row) { row.scrollIntoView({ block: "nearest" }); row.classList.add("flash"); setTimeout(() => row.classList.remove("flash"), 900); }
      return;
    }
    const type = el.classList.contains("pod") ? "pod" : el.classList.contains("node") ? "node" : el.classList.contains("service") ? "service" : "outside";
    select({ type, key: type === "service" ? el.dataset.key : el.dataset.name });
  });
  svg.addEventListener("mouseover", (event) => {
    const el = event.target.closest("g.service");
    const key = el ? el.dataset.key : null;
    if (key !== state.hover) { state.hover = key; refocus(); }
  });
  svg.addEventListener("mouseleave", () => { state.hover = null; refocus(); });
  $("#details-close").addEventListener("click", () => select(null));
  $("#zoom").addEventListener("click", () => {
    const wrap = $("#figure-wrap");
    const actual = wrap.classList.toggle("actual");
    svg.style.width = actual && state.picture ? `${state.picture.size.width}px` : "";
    $("#zoom").textContent = actual ? "fit to width" : "actual size";
  });
}

async function main() {
  state.info = await getJSON("/api/info");
  const info = state.info;
  document.body.dataset.actions = info.allowActions ? "1" : "0";
  $("#mode").textContent = info.allowActions ? "actions allowed" : "read-only";
  $("#mode").dataset.mode = info.allowActions ? "actions" : "read-only";
  state.views.matrix = new MatrixView($("#matrix"), info.allowActions);
  state.views.actions = new ActionsView($("#actions"), info.allowActions, { onDrawable: () => switchTab("figure") });
  if (info.course) {
    state.views.lab = new LabView($("#lab"), info.allowActions);
    $('#tabs button[data-tab="lab"]').hidden = false;
  }
  for (const button of document.querySelectorAll("#tabs button")) button.addEventListener("click", () => switchTab(button.dataset.tab));
  $("#projector").addEventListener("click", () => setProjector(!document.body.classList.contains("projector")));
  setProjector(new URLSearchParams(window.location.search).get("projector") === "1");
  switchTab(window.location.pathname === "/lab" && info.course ? "lab" : "figure");
  legend();
  wireFigure();
  renderHops($("#hops"), null, null, null);
  renderDetails($("#details"), null, null, select);
  const first = await getJSON("/api/picture");
  if (first.type === "picture") onPicture(first.picture);
  else onGone(first);
  onActivity((await getJSON("/api/activity")).items);
  if (state.views.lab) state.views.lab.load();
  listen();
}

main().catch((err) => {
  const banner = $("#gone");
  banner.textContent = `the page could not start: ${err.message}`;
  banner.hidden = false;
});

