// Small DOM helpers. Text always goes in as text nodes (never innerHTML), so incident data cannot inject markup.

import { t } from "./i18n.js";

const SVG_NS = "http://www.w3.org/2000/svg";

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "class") el.setAttribute("class", Array.isArray(v) ? v.filter(Boolean).join(" ") : v);
    else if (k in el && !(el instanceof SVGElement)) el[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function h(tag, attrs, ...children) { return build(document.createElement(tag), attrs, children); }
export function s(tag, attrs, ...children) { return build(document.createElementNS(SVG_NS, tag), attrs, children); }

export function replace(el, ...children) { el.replaceChildren(); build(el, {}, children); return el; }

// The server's clock: ages and count-downs use it, so a wrong PC clock does not fake an overdue incident.
let offsetMs = 0;
export function setServerTime(serverSeconds) { offsetMs = serverSeconds * 1000 - Date.now(); }
export function nowMs() { return Date.now() + offsetMs; }
export function tsMs(iso) { return iso ? Date.parse(iso) : null; }

export function duration(seconds) {
  const s = Math.max(0, Math.round(Math.abs(seconds)));
  // In the reader's language: 7分33秒, 7m 33s.
  if (s < 60) return t("dur.s", { s });
  if (s < 3600) return t("dur.ms", { m: Math.floor(s / 60), s: s % 60 });
  if (s < 86400) return t("dur.hm", { h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60) });
  return t("dur.dh", { d: Math.floor(s / 86400), h: Math.floor((s % 86400) / 3600) });
}

export function ago(iso) {
  if (!iso) return t("never");
  return t("ago", { d: duration((nowMs() - tsMs(iso)) / 1000) });
}

// One time zone for people (config locale.timezone, from /auth/me): every time on the page is shown in it,
// whatever zone the browser's machine is set to.
let clockFormat = null;
export function setTimeZone(zone) {
  clockFormat = new Intl.DateTimeFormat("en-CA", { timeZone: zone || "Asia/Shanghai", hourCycle: "h23",
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}
setTimeZone("Asia/Shanghai");

export function clock(iso) {
  if (!iso) return "—";
  const p = Object.fromEntries(clockFormat.formatToParts(new Date(typeof iso === "number" ? iso * 1000 : iso)).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
}

export function pct(x) { return x === null || x === undefined ? "—" : `${(x * 100).toFixed(1)}%`; }
export function secs(x) { return x === null || x === undefined ? "—" : x < 10 ? t("dur.s", { s: x.toFixed(1) }) : duration(x); }
