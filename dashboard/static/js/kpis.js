// KPI panel: open, overdue, closure rate, closed-within-deadline rate, time to acknowledge — overall, per
// street and per grid over a chosen period — and per-rule precision from operators' false-alarm verdicts.
// Refreshed when incidents change (server push), not on a timer.

import { t } from "./i18n.js";
import { h, replace, pct, secs, nowMs } from "./dom.js";
import { api } from "./api.js";
import { subscribe, gridName, streetName } from "./store.js";
import { ruleName } from "./timeline_text.js";
import { trendsSection, refresh as refreshTrends } from "./trends.js";

const PERIODS = ["today", "24h", "7d", "30d", "all"];
let period = "today";
let root = null;
let data = null;
let field = null;  // GET /api/field/kpis: 满意率, time to accept/arrive, each worker's load
let timer = null;

function since() {
  const hours = { "24h": 24, "7d": 168, "30d": 720 }[period];
  return hours ? nowMs() / 1000 - hours * 3600 : null;
}

// "Today" starts at midnight in the configured zone (locale.timezone), which the server knows; the
// browser's own zone may be another.
async function load() {
  const q = since();
  const query = period === "today" ? "?period=today" : q === null ? "" : `?since=${q.toFixed(3)}`;
  data = await api(`/api/kpis${query}`);
  // The field loop's figures (issue 15) over the same period: the server resolved "today" to a since.
  const from = data.since ? `?since=${(Date.parse(data.since) / 1000).toFixed(3)}` : "";
  field = await api(`/api/field/kpis${from}`).catch(() => null);
  render();
  refreshTrends();
}

function card(key, value, cls = "") {
  return h("div", { class: `kpi ${cls}`, dataset: { kpi: key } }, h("div", { class: "kpi-value" }, value), h("div", { class: "kpi-label" }, t(`kpi.${key}`)));
}

function table(title, rows, name) {
  return h("section", {}, h("h3", {}, title), h("table", { class: "kpi-table" },
    h("thead", {}, h("tr", {}, [t("kpi.name"), t("kpi.total"), t("kpi.open"), t("kpi.overdue"), t("kpi.closure_rate"), t("kpi.within"), t("kpi.tta50"), t("kpi.tta90")].map((c) => h("th", {}, c)))),
    h("tbody", {}, Object.entries(rows).map(([k, v]) => h("tr", { dataset: { key: k } },
      h("td", {}, name(k)), h("td", {}, v.total), h("td", {}, v.open), h("td", { class: v.overdue ? "bad" : "" }, v.overdue),
      h("td", {}, pct(v.closure_rate)), h("td", {}, pct(v.closed_within_deadline_rate)),
      h("td", {}, secs(v.time_to_acknowledge_p50_s)), h("td", {}, secs(v.time_to_acknowledge_p90_s)))))));
}

function workers() {
  const rows = Object.entries(field?.workers || {});
  if (!rows.length) return null;
  const cols = ["kpi.name", "kpi.workload", "kpi.closure_rate", "kpi.within", "kpi.satisfaction_rate", "kpi.tt_accept", "kpi.tt_arrive"];
  return h("section", {}, h("h3", {}, t("kpi.by_worker")), h("table", { class: "kpi-table", id: "kpi-workers" },
    h("thead", {}, h("tr", {}, cols.map((c) => h("th", {}, t(c))))),
    h("tbody", {}, rows.map(([k, v]) => h("tr", { dataset: { worker: k } }, h("td", {}, v.name || k), h("td", {}, v.workload ?? v.total),
      h("td", {}, pct(v.closure_rate)), h("td", {}, pct(v.closed_within_deadline_rate)), h("td", {}, pct(v.satisfaction_rate)),
      h("td", {}, secs(v.time_to_accept_mean_s)), h("td", {}, secs(v.time_to_arrive_mean_s)))))));
}

export function render() {
  if (!root) return;
  const picker = h("label", { class: "period" }, t("kpi.period"), " ", h("select", {
    id: "kpi-period", onchange: (e) => { period = e.target.value; load(); },
  }, PERIODS.map((p) => h("option", { value: p, selected: p === period }, t(`kpi.${p}`)))));
  if (!data) { replace(root, picker, h("p", { class: "muted" }, "…")); return; }
  const o = data.overall;
  replace(root, picker,
    h("div", { class: "kpi-cards", id: "kpi-overall" },
      card("open", o.open), card("overdue", o.overdue, o.overdue ? "bad" : ""), card("total", o.total), card("closed", o.closed),
      card("closure_rate", pct(o.closure_rate)), card("within", pct(o.closed_within_deadline_rate)),
      card("satisfaction_rate", pct(field?.overall.satisfaction_rate)),
      card("tta50", secs(o.time_to_acknowledge_p50_s)), card("tta90", secs(o.time_to_acknowledge_p90_s))),
    workers(),
    table(t("kpi.by_street"), data.streets, (k) => streetName(k)),
    table(t("kpi.by_grid"), data.grids, (k) => gridName(k)),
    h("section", {}, h("h3", {}, t("kpi.by_rule")), h("table", { class: "kpi-table", id: "kpi-rules" },
      h("thead", {}, h("tr", {}, [t("kpi.rule"), t("kpi.confirmed"), t("kpi.false_alarms"), t("kpi.undecided"), t("kpi.precision")].map((c) => h("th", {}, c)))),
      h("tbody", {}, Object.entries(data.rules || {}).map(([k, v]) => h("tr", { dataset: { rule: k } },
        h("td", {}, ruleName(k)), h("td", {}, v.confirmed), h("td", {}, v.false_alarms), h("td", {}, v.undecided), h("td", {}, pct(v.precision))))))),
    trendsSection());
}

export function initKpis(el) {
  root = el;
  subscribe((reason, data) => {
    if (reason === "lang") render();
    if (reason === "show" && data === "kpis") load();
    if ((reason === "incident" || reason === "incidents") && !root.closest("[hidden]")) {
      clearTimeout(timer);
      timer = setTimeout(load, 300);  // a burst of changes is one reload
    }
  });
}
