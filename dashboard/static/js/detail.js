// Incident detail: evidence, deadlines with count-down, escalation, delivery to dispatch (loud when it
// failed), linked video, the actions the state machine allows (with the notes they require) and the timeline.

import { t, tv } from "./i18n.js";
import { h, s, replace, nowMs, tsMs, duration, clock } from "./dom.js";
import { api } from "./api.js";
import { store, subscribe, upsert, emit, gridName } from "./store.js";
import { mountLinkedVideo } from "./video.js";

// Mirrors alarms/lifecycle.py (the server enforces it and answers 422 when something is missing).
const NEEDS = {
  acknowledge: {}, start: {}, close: {},
  dispatch: { note: true, assignee: true },
  reject: { note: true }, resolve: { note: true },
  cancel: { note: true, disposition: true },
  evaluate: { score: true },
  merge: { mergedInto: true },
};
const ORDER = ["acknowledge", "dispatch", "start", "resolve", "close", "evaluate", "reject", "cancel", "merge"];
const DISPOSITIONS = ["false_alarm", "test", "duplicate", "other"];

let root = null;
let detail = null;
let form = null;  // the action whose form is open
let error = "";
let teardownVideo = null;
let videoKey = "";
let loading = 0;

async function load(id) {
  const mine = ++loading;
  try {
    const data = await api(`/api/incidents/${id}`);
    if (mine !== loading || store.selected !== id) return;
    detail = data;
    upsert(stripDetail(data));
  } catch (e) {
    if (mine !== loading) return;
    detail = null;
    error = e.message;
  }
  render();
}

function stripDetail(d) {
  const { timeline, deliveries, linked_cameras, ...inc } = d;
  void timeline; void deliveries; void linked_cameras;
  return inc;
}

function countdown(iso, doneIso) {
  if (doneIso) return h("span", { class: "done" }, `${t("detail.done")} ${clock(doneIso)}`);
  return h("span", { class: "countdown", dataset: { deadline: iso } }, countdownText(iso));
}

function countdownText(iso) {
  const left = (tsMs(iso) - nowMs()) / 1000;
  return left < 0 ? t("overdue_by", { d: duration(-left) }) : t("remaining", { d: duration(left) });
}

function evidenceView(ev, incidentId) {
  const rows = Object.entries(ev || {}).filter(([k, v]) => !["snapshot", "snapshot_url", "boxes"].includes(k) && typeof v !== "object");
  // Camera evidence names a snapshot that the API serves with boxes and zones already drawn.
  let snap = ev?.snapshot_url || ev?.snapshot;
  if (typeof snap === "string" && !snap.startsWith("/") && !snap.startsWith("data:image/")) snap = `/api/incidents/${incidentId}/snapshot`;
  const size = ev?.frame_size || ev?.image_size;
  let picture = null;
  if (typeof snap === "string" && (snap.startsWith("/") || snap.startsWith("data:image/"))) {
    const boxes = Array.isArray(ev.boxes) ? ev.boxes : [];
    picture = h("div", { class: "snapshot" }, h("img", { src: snap, alt: "snapshot" }),
      size ? s("svg", { viewBox: `0 0 ${size[0]} ${size[1]}`, class: "boxes", preserveAspectRatio: "none" },
        boxes.map((b) => {
          const [x1, y1, x2, y2] = b.xyxy || b;
          return s("g", {}, s("rect", { x: x1, y: y1, width: x2 - x1, height: y2 - y1 }),
            s("text", { x: x1 + 4, y: y1 + 16 }, `${b.label ?? ""} ${b.score !== undefined ? Math.round(b.score * 100) + "%" : ""}`));
        })) : null);
  }
  return [picture, h("dl", { class: "kv" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))]))];
}

// What the operator typed survives re-renders (a pushed change to this incident, a refused submit).
let draft = {};

function field(tag, name, attrs = {}, ...children) {
  const el = h(tag, { name, oninput: (e) => { draft[name] = e.target.value; }, ...attrs }, ...children);
  if (draft[name] !== undefined) el.value = draft[name];
  return el;
}

function actionForm(action) {
  const need = NEEDS[action] || {};
  const fields = [];
  fields.push(h("label", {}, t("action.note"), field("textarea", "note", { rows: 2, "aria-required": need.note ? "true" : null })));
  if (need.assignee) fields.push(h("label", {}, t("action.assignee"), field("input", "assignee", { "aria-required": "true", maxLength: 128 })));
  if (need.disposition) fields.push(h("label", {}, t("action.disposition"),
    field("select", "disposition", { onchange: (e) => { draft.disposition = e.target.value; } }, DISPOSITIONS.map((d) => h("option", { value: d }, tv("disp", d))))));
  if (need.mergedInto) fields.push(h("label", {}, t("action.merged_into"), field("input", "merged_into", { type: "number", min: 1, "aria-required": "true" })));
  if (need.score) fields.push(h("label", {}, t("action.score"), field("input", "score", { type: "number", min: 1, max: 5, value: 5 })));
  return h("form", { class: "action-form", dataset: { action }, onsubmit: (e) => { e.preventDefault(); submit(action, e.target); } },
    h("strong", {}, tv("act", action)), fields,
    h("div", { class: "row" },
      h("button", { type: "submit", class: "primary", dataset: { submit: action } }, t("action.submit")),
      h("button", { type: "button", onclick: () => { form = null; error = ""; draft = {}; render(); } }, t("action.cancel_form"))));
}

async function submit(action, el) {
  const need = NEEDS[action] || {};
  const data = new FormData(el);
  const note = (data.get("note") || "").trim();
  if (need.note && !note) { error = t("action.note_required"); render(); return; }
  const body = { note: note || null, expected_version: detail.version };
  if (need.assignee) {
    body.assignee = (data.get("assignee") || "").trim();
    if (!body.assignee) { error = t("action.assignee_required"); render(); return; }
  }
  if (need.disposition) body.disposition = data.get("disposition");
  if (need.mergedInto) body.merged_into = Number(data.get("merged_into"));
  if (need.score) body.evaluation = { score: Number(data.get("score")) };
  await act(action, body);
}

async function act(action, body) {
  try {
    const inc = await api(`/api/incidents/${detail.id}/${action}`, { method: "POST", body });
    upsert(inc);
    form = null;
    draft = {};
    error = "";
    emit("incident", inc);
    await load(detail.id);
  } catch (e) {
    error = t("action.failed", { msg: e.message });
    render();
  }
}

function actions(inc) {
  const allowed = ORDER.filter((a) => inc.allowed_actions.includes(a));
  if (store.me?.role === undefined) return null;
  return h("section", { class: "actions" }, h("h3", {}, t("detail.actions")),
    h("div", { class: "buttons" }, allowed.map((a) => h("button", {
      type: "button", class: ["action", a === allowed[0] && "primary"], dataset: { action: a },
      onclick: () => {
        const need = NEEDS[a] || {};
        if (!Object.keys(need).length && a !== "close") { act(a, { expected_version: detail.version }); return; }
        form = a; error = ""; draft = {}; render();
      },
    }, tv("act", a)))),
    form && allowed.includes(form) ? actionForm(form) : null,
    error ? h("p", { class: "error", role: "alert" }, error) : null);
}

function deliveries(d) {
  const rows = d.deliveries.filter((x) => x.channel === "webhook");
  return h("section", { class: "delivery" }, h("h3", {}, t("detail.delivery")),
    d.dispatch_status === "not_reached" ? h("div", { class: "not-reached-banner", role: "alert" }, t("dispatch.not_reached")) : null,
    h("p", {}, t("dispatch.status"), ": ", h("span", { class: `dstat dstat-${d.dispatch_status}` }, tv("dstat", d.dispatch_status))),
    rows.length ? h("table", { class: "small" }, h("tbody", {}, rows.map((x) => h("tr", { class: `del-${x.status}` },
      h("td", {}, x.target), h("td", {}, x.event_type), h("td", {}, tv("del", x.status)),
      h("td", {}, `×${x.attempts}`), h("td", { class: "muted" }, x.last_error ?? ""))))) : h("p", { class: "muted" }, t("detail.no_deliveries")));
}

function timeline(d) {
  return h("section", { class: "timeline" }, h("h3", {}, t("detail.timeline")),
    h("ol", {}, [...d.timeline].reverse().map((e) => h("li", { dataset: { action: e.action } },
      h("time", {}, clock(e.ts)), " ", h("strong", {}, tv("act", e.action)),
      e.to_state && e.from_state !== e.to_state ? ` ${tv("state", e.from_state ?? "")} → ${tv("state", e.to_state)}` : "",
      ` · ${e.actor}`, e.note ? h("div", { class: "note" }, e.note) : null))));
}

let top = null;
let videoSection = null;
let videoEl = null;
let bottom = null;

export function render() {
  if (!root) return;
  if (store.selected === null || !detail || detail.id !== store.selected) {
    const msg = store.selected === null ? t("detail.none") : error || "…";
    replace(top, h("p", { class: error ? "error" : "muted placeholder" }, msg));
    replace(bottom);
    videoSection.hidden = true;
    if (teardownVideo) { teardownVideo(); teardownVideo = null; videoKey = ""; }
    return;
  }
  const d = detail;
  const focused = top.contains(document.activeElement) ? document.activeElement.name : null;
  replace(top,
    h("header", { class: `detail-head state-${d.state}` },
      h("h2", {}, h("span", { class: `prio-badge p${d.priority}` }, d.priority), ` #${d.id} ${tv("cat", d.category)}`),
      h("span", { class: `state-badge state-${d.state}`, id: "detail-state" }, tv("state", d.state))),
    d.dispatch_status === "not_reached" ? h("div", { class: "not-reached-banner big", role: "alert" }, t("dispatch.not_reached")) : null,
    h("dl", { class: "kv" },
      h("dt", {}, t("col.place")), h("dd", {}, `${gridName(d.grid_id)} (${d.grid_id}) · ${d.community_id} · ${d.street_id}`),
      h("dt", {}, t("detail.source")), h("dd", {}, `${d.source_kind} ${d.source_id}`),
      h("dt", {}, t("detail.triggers")), h("dd", {}, d.trigger_count),
      h("dt", {}, t("detail.escalation")), h("dd", { class: d.escalation_level > 0 ? "escalated" : "", id: "detail-escalation" }, `${d.escalation_level} · ${tv("esc", d.escalation_to)}`),
      d.assignee ? [h("dt", {}, t("detail.assignee")), h("dd", {}, d.assignee)] : null,
      d.resolution_note ? [h("dt", {}, t("detail.resolution")), h("dd", {}, d.resolution_note)] : null,
      d.linked_incident_id ? [h("dt", {}, t("detail.linked")), h("dd", {}, `#${d.linked_incident_id}`)] : null),
    h("section", { class: "deadlines" }, h("h3", {}, t("detail.deadlines")),
      h("dl", { class: "kv" },
        h("dt", {}, t("detail.ack_deadline")), h("dd", {}, countdown(d.ack_deadline, d.acknowledged_at)),
        h("dt", {}, t("detail.close_deadline")), h("dd", {}, countdown(d.close_deadline, d.closed_at || d.resolved_at)))),
    actions(d));
  if (focused) top.querySelector(`[name="${focused}"]`)?.focus();
  replace(bottom,
    h("section", { class: "evidence" }, h("h3", {}, t("detail.evidence")), evidenceView(d.evidence, d.id)),
    deliveries(d),
    timeline(d));
  // The video keeps playing across re-renders: it is remounted only when the incident or cameras change.
  videoSection.hidden = false;
  videoSection.querySelector("h3").textContent = t("detail.video");
  const key = `${d.id}:${d.linked_cameras.join(",")}:${document.documentElement.lang}`;
  if (videoKey !== key) {
    if (teardownVideo) teardownVideo();
    teardownVideo = mountLinkedVideo(videoEl, d.linked_cameras, d);
    videoKey = key;
  }
}

function tick() {
  if (!root) return;
  for (const el of root.querySelectorAll(".countdown")) {
    el.textContent = countdownText(el.dataset.deadline);
    el.classList.toggle("late", tsMs(el.dataset.deadline) < nowMs());
  }
}

export function initDetail(el) {
  root = el;
  top = h("div", { class: "detail-top" });
  videoEl = h("div", { class: "linked-video", id: "linked-video" });
  videoSection = h("section", { class: "video", hidden: true }, h("h3", {}, t("detail.video")), videoEl);
  bottom = h("div", { class: "detail-bottom" });
  replace(root, top, videoSection, bottom);
  subscribe((reason, data) => {
    if (reason === "select") { form = null; error = ""; draft = {}; detail = null; render(); if (data !== null) load(data); }
    if (reason === "live" && data?.id === store.selected) load(data.id);
    if (reason === "lang") render();
  });
  setInterval(tick, 1000);
  render();
}
