// Trend charts on the KPI page (GET /api/trends): incidents per day by category, closure and on-time rates
// per week, time to acknowledge per day. Apache ECharts is vendored under /static/vendor (no CDN) and drawn
// with its SVG renderer, so legends and axis labels are real text in the page (readable, testable).
// Days are the server's days in locale.timezone; labels, legends and tooltips follow the page's language.

import * as echarts from "../vendor/echarts/echarts.esm.min.js";
import { t, tv, getLang } from "./i18n.js";
import { h, duration, pct } from "./dom.js";
import { api } from "./api.js";

const RANGES = [14, 30, 90];
const CHARTS = ["daily", "rates", "ack"];
let days = 30;
let data = null;
let box = null;
const charts = new Map();

const TEXT = "#cfd8dc";
const LINE = "#37474f";
const base = () => ({
  animation: false,
  textStyle: { color: TEXT, fontFamily: "inherit" },
  grid: { left: 8, right: 16, top: 48, bottom: 8, containLabel: true },
  legend: { top: 0, type: "scroll", textStyle: { color: TEXT }, pageTextStyle: { color: TEXT } },
  tooltip: { trigger: "axis", confine: true },
});
const axisStyle = { axisLine: { lineStyle: { color: LINE } }, splitLine: { lineStyle: { color: LINE } } };
const short = (iso) => iso.slice(5);  // 2024-05-06 → 05-06: the same in both languages

function dailyOption() {
  const cats = Object.keys(data.categories);
  return {
    ...base(),
    xAxis: { type: "category", data: data.days.map(short), ...axisStyle },
    yAxis: { type: "value", minInterval: 1, name: t("trend.incidents"), ...axisStyle },
    series: cats.map((c) => ({ type: "bar", stack: "all", name: tv("cat", c), data: data.categories[c] })),
    tooltip: { ...base().tooltip, valueFormatter: (v) => t("trend.n_incidents", { n: v ?? 0 }) },
  };
}

function ratesOption() {
  const weeks = data.weeks;
  const series = [["closure_rate", "kpi.closure_rate"], ["closed_within_deadline_rate", "kpi.within"]];
  return {
    ...base(),
    xAxis: { type: "category", data: weeks.map((w) => t("trend.week_of", { d: short(w.week) })), ...axisStyle },
    yAxis: { type: "value", min: 0, max: 1, axisLabel: { formatter: (v) => `${Math.round(v * 100)}%` }, ...axisStyle },
    series: series.map(([k, label]) => ({ type: "line", name: t(label), connectNulls: false, data: weeks.map((w) => w[k]) })),
    tooltip: { ...base().tooltip, valueFormatter: (v) => pct(v) },
  };
}

function ackOption() {
  const series = [["p50_s", "kpi.tta50"], ["p90_s", "kpi.tta90"]];
  return {
    ...base(),
    xAxis: { type: "category", data: data.days.map(short), ...axisStyle },
    yAxis: { type: "value", axisLabel: { formatter: (v) => duration(v) }, ...axisStyle },
    series: series.map(([k, label]) => ({ type: "line", name: t(label), data: data.acknowledge.map((a) => a[k]) })),
    tooltip: { ...base().tooltip, valueFormatter: (v) => (v === null || v === undefined ? "—" : duration(v)) },
  };
}

const OPTIONS = { daily: dailyOption, rates: ratesOption, ack: ackOption };

function draw() {
  for (const c of charts.values()) c.dispose();
  charts.clear();
  if (!box || !data) return;
  const empty = Object.values(data.categories).every((xs) => xs.every((n) => n === 0));
  for (const name of CHARTS) {
    const el = box.querySelector(`[data-chart='${name}']`);
    if (!el || empty) continue;
    const chart = echarts.init(el, null, { renderer: "svg", locale: getLang() === "en" ? "EN" : "ZH" });
    chart.setOption(OPTIONS[name]());
    charts.set(name, chart);
  }
  window.__sharpeyes.charts = Object.fromEntries(charts);  // for the browser tests
}

async function load() {
  data = await api(`/api/trends?days=${days}`);
  render();
}

/** The trends section of the KPI page, drawn from the last data; `refresh()` loads anew. */
export function trendsSection() {
  const picker = h("label", { class: "period" }, t("trend.range"), " ", h("select", {
    id: "trend-days", onchange: (e) => { days = Number(e.target.value); load(); },
  }, RANGES.map((n) => h("option", { value: n, selected: n === days }, t("trend.days", { n })))));
  const empty = data && Object.values(data.categories).every((xs) => xs.every((n) => n === 0));
  box = h("section", { class: "trends", id: "kpi-trends" },
    h("h3", {}, t("trend.title")), picker,
    data === null ? h("p", { class: "muted" }, "…") : empty ? h("p", { class: "muted" }, t("trend.none")) : null,
    CHARTS.map((name) => h("figure", { class: "trend" },
      h("figcaption", {}, t(`trend.${name}`)), h("div", { class: "chart", dataset: { chart: name } }))));
  if (data !== null) queueMicrotask(draw);  // once the section is in the document and has a width
  return box;
}

export function refresh() { if (box) load(); }

function render() {
  if (!box || !box.isConnected) return;
  box.replaceWith(trendsSection());
}

window.addEventListener("resize", () => { for (const c of charts.values()) c.resize(); });
