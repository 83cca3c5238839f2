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
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
}

export function ago(iso) {
  if (!iso) return t("never");
  return t("ago", { d: duration((nowMs() - tsMs(iso)) / 1000) });
}

export function clock(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function pct(x) { return x === null || x === undefined ? "—" : `${(x * 100).toFixed(1)}%`; }
export function secs(x) { return x === null || x === undefined ? "—" : x < 10 ? `${x.toFixed(1)}s` : duration(x); }
