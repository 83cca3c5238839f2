// 查询 / Search (issue 16, items 1-2): every incident ever stored, by id, keyword, category, state, street,
// grid, worker and date (dates in the configured zone: the server reads them), a page at a time by cursor;
// a row opens the incident's detail; the filtered list exports to CSV / XLSX, and KPI reports by street,
// grid and worker for a day, week or month to XLSX or a print-friendly page.

import { t, tv, known, getLang, onLangChange } from "./i18n.js";
import { h, replace, clock } from "./dom.js";
import { api } from "./api.js";
import { store, subscribe, upsert, select, emit, gridName } from "./store.js";

// The names in the form and the rows are the server's, the very ones its exports write (dashboard/labels.py).
const CATEGORIES = known("cat");
const STATES = known("state");

let root = null;
let query = null;      // URLSearchParams of the last search
let rows = [];         // incidents shown
let next = null;       // cursor of the next page
let error = "";
let busy = false;

function streets() {
  const seen = new Map();
  for (const g of store.grids) seen.set(g.street, g.street_name || g.street);
  return [...seen];
}

function choice(name, values) {
  return h("select", { name, "data-testid": `search-${name}` },
    h("option", { value: "" }, t("search.any")),
    ...values.map(([v, text]) => h("option", { value: v }, text)));
}

function field(labelKey, control) {
  return h("label", { class: "search-field" }, h("span", {}, t(labelKey)), control);
}

function params(form) {
  const data = new FormData(form);
  const p = new URLSearchParams();
  for (const key of ["q", "id", "category", "state", "street", "grid", "assignee", "date_from", "date_to"]) {
    const v = String(data.get(key) || "").trim();
    if (v) p.set(key, v);
  }
  return p;
}

async function run(more = false) {
  if (busy || !query) return;
  busy = true;
  const p = new URLSearchParams(query);
  p.set("limit", "50");
  if (more && next) p.set("cursor", next);
  try {
    const page = await api(`/api/search?${p}`);
    rows = more ? [...rows, ...page.items] : page.items;
    next = page.next_cursor;
    error = "";
  } catch (e) {
    error = e.message;
    if (!more) rows = [];
    next = null;
  } finally {
    busy = false;
    renderResults();
  }
}

function open(inc) {
  upsert(inc);          // an old, closed incident is not in the live list: put it there for the panel
  emit("incident", inc);
  emit("navigate", "queue");
  select(inc.id);
}

function placeText(inc) {
  const p = inc.place || {};
  return [p.street_name, p.grid_name || gridName(inc.grid_id), p.address].filter(Boolean).join(" · ");
}

function renderResults() {
  const out = root.querySelector(".search-results");
  if (!out) return;
  const head = ["search.col.id", "search.col.time", "search.col.category", "search.col.state", "search.col.place", "search.col.assignee"];
  const table = h("table", { class: "search-table" },
    h("thead", {}, h("tr", {}, ...head.map((k) => h("th", {}, t(k))))),
    h("tbody", {}, ...rows.map((inc) => {
      const tr = h("tr", { tabindex: "0", "data-id": String(inc.id), class: "search-row" },
        h("td", {}, `#${inc.id}`), h("td", {}, clock(inc.created_at)), h("td", {}, tv("cat", inc.category)),
        h("td", {}, tv("state", inc.state)), h("td", {}, placeText(inc)), h("td", {}, inc.assignee || "—"));
      tr.onclick = () => open(inc);
      tr.onkeydown = (e) => { if (e.key === "Enter") open(inc); };
      return tr;
    })));
  const status = error ? h("p", { class: "error", role: "alert" }, error)
    : query ? h("p", { class: "search-count", "data-testid": "search-count" }, t(next ? "search.shown_more" : "search.shown", { n: rows.length }))
    : h("p", {}, t("search.hint"));
  const more = next ? h("button", { type: "button", class: "search-more" }, t("search.more")) : null;
  if (more) more.onclick = () => run(true);
  replace(out, status, rows.length ? table : null, more);
}

function download(path, p) {
  const q = new URLSearchParams(p);
  q.set("lang", getLang());
  const a = h("a", { href: `${path}?${q}`, download: "" });
  document.body.append(a);
  a.click();
  a.remove();
}

function reportPanel() {
  const today = new Date().toISOString().slice(0, 10);
  const period = h("select", { name: "period", "data-testid": "report-period" },
    ...["day", "week", "month"].map((p) => h("option", { value: p, selected: p === "month" }, t(`report.${p}`))));
  const day = h("input", { type: "date", name: "report_date", value: today, "data-testid": "report-date" });
  const xlsx = h("button", { type: "button", "data-testid": "report-xlsx" }, t("report.xlsx"));
  const print = h("button", { type: "button", "data-testid": "report-print" }, t("report.print"));
  const p = () => new URLSearchParams({ period: period.value, date: day.value || today });
  xlsx.onclick = () => download("/api/reports/kpis.xlsx", p());
  print.onclick = () => { const q = p(); q.set("lang", getLang()); window.open(`/api/reports/kpis.html?${q}`, "_blank", "noopener"); };
  return h("fieldset", { class: "search-report" }, h("legend", {}, t("report.title")),
    field("report.period", period), field("report.date", day), xlsx, print);
}

function render() {
  const form = h("form", { class: "search-form", role: "search" },
    field("search.q", h("input", { name: "q", type: "search", maxlength: "100", placeholder: t("search.q_hint"), "data-testid": "search-q" })),
    field("search.id", h("input", { name: "id", type: "number", min: "1", "data-testid": "search-id" })),
    field("search.category", choice("category", CATEGORIES.map((c) => [c, tv("cat", c)]))),
    field("search.state", choice("state", STATES.map((s) => [s, tv("state", s)]))),
    field("search.street", choice("street", streets())),
    field("search.grid", choice("grid", store.grids.map((g) => [g.id, g.name || g.id]))),
    field("search.assignee", h("input", { name: "assignee", maxlength: "128", "data-testid": "search-assignee" })),
    field("search.from", h("input", { name: "date_from", type: "date", "data-testid": "search-from" })),
    field("search.to", h("input", { name: "date_to", type: "date", "data-testid": "search-to" })),
    h("div", { class: "search-buttons" },
      h("button", { type: "submit", "data-testid": "search-go" }, t("search.go")),
      h("button", { type: "reset" }, t("search.reset")),
      h("button", { type: "button", "data-testid": "export-csv", "data-export": "csv" }, t("search.export_csv")),
      h("button", { type: "button", "data-testid": "export-xlsx", "data-export": "xlsx" }, t("search.export_xlsx"))));
  form.onsubmit = (e) => { e.preventDefault(); query = params(form); rows = []; next = null; run(); };
  for (const b of form.querySelectorAll("[data-export]")) {
    b.onclick = () => download(`/api/search/export.${b.dataset.export}`, params(form));
  }
  replace(root, form, h("div", { class: "search-results", "aria-live": "polite" }), reportPanel());
  renderResults();
}

export function initSearch(el) {
  root = el;
  render();
  subscribe((reason) => { if (reason === "grids") render(); });
  onLangChange(render);
}
