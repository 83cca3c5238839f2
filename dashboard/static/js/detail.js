// Incident detail: evidence, deadlines with count-down, escalation, delivery to dispatch (loud when it
// failed), linked video, the actions the state machine allows (with the notes they require) and the timeline.

import { t, tv } from "./i18n.js";
import { h, s, replace, nowMs, tsMs, duration, clock } from "./dom.js";
import { api } from "./api.js";
import { store, subscribe, upsert, emit } from "./store.js";
import { mountLinkedVideo } from "./video.js";
import { silenceField, silenceBody } from "./silences.js";
import { mergeChooser, chosenTarget } from "./merge.js";
import { placeView } from "./place.js";
import { evidenceView } from "./evidence.js";
import { ackDeadline, closeDeadline, outcome, deliveries, timeline, tickCountdowns } from "./detail_parts.js";
import { sourceLabel, didText } from "./timeline_text.js";
import { canMute, mute, isRinging } from "./alert.js";
import { fieldPanel } from "./field_panel.js";

// Mirrors alarms/lifecycle.py (the server enforces it and answers 422 when something is missing).
const NEEDS = {
  acknowledge: {}, start: {}, close: {},
  dispatch: { note: true, assignee: true },
  reject: { note: true }, resolve: { note: true },
  cancel: { note: true, disposition: true },
  evaluate: { score: true },
  merge: { mergedInto: true },
  follow_up: { note: true },  // 跟进记录: a note that changes no state, allowed in every state
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
    noteChange(detail?.id === id ? detail : null, data);
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

// What the operator typed survives re-renders (a pushed change to this incident, a refused submit).
let draft = {};
let formVersion = null;  // the version the open form was made on: sent as expected_version
let notice = "";  // someone else changed the incident while the form was open

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
  if (need.disposition) fields.push(silenceField(detail, draft));  // a false alarm silences, it does not blind
  if (need.mergedInto) fields.push(mergeChooser(detail));
  if (need.score) fields.push(h("label", {}, t("action.score"), field("input", "score", { type: "number", min: 1, max: 5, value: 5 })));
  return h("form", { class: "action-form", dataset: { action }, onsubmit: (e) => { e.preventDefault(); submit(action, e.target); } },
    h("strong", {}, tv("act", action)), fields,
    h("div", { class: "row" },
      h("button", { type: "submit", class: "primary", dataset: { submit: action } }, t("action.submit")),
      h("button", { type: "button", onclick: () => { closeForm(); render(); } }, t("action.cancel_form"))));
}

async function submit(action, el) {
  const need = NEEDS[action] || {};
  const data = new FormData(el);
  const note = (data.get("note") || "").trim();
  if (need.note && !note) { error = t("action.note_required"); render(); return; }
  const body = { note: note || null, expected_version: formVersion ?? detail.version };
  if (need.assignee) {
    body.assignee = (data.get("assignee") || "").trim();
    if (!body.assignee) { error = t("action.assignee_required"); render(); return; }
  }
  if (need.disposition) body.disposition = data.get("disposition");
  if (need.disposition) Object.assign(body, silenceBody(detail, data));
  if (need.mergedInto) {
    body.merged_into = chosenTarget(detail.id);
    if (!body.merged_into) { error = t("merge.pick"); render(); return; }
  }
  if (need.score) body.evaluation = { score: Number(data.get("score")) };
  await act(action, body);
}

async function act(action, body) {
  try {
    const inc = await api(`/api/incidents/${detail.id}/${action}`, { method: "POST", body });
    upsert(inc);
    closeForm();
    emit("incident", inc);
    await load(detail.id);
  } catch (e) {
    if (e.code === "stale_version") {  // keep what was typed; say who did what; the next submit is on the new version
      formVersion = e.params.current_version;
      await load(detail.id);  // its timeline names the people
      error = t("conflict.stale", { who: e.params.changes.map((c) => didText(c, names())).join("；") });
      render();
      return;
    }
    error = t("action.failed", { msg: e.message });
    render();
  }
}

function closeForm() { form = null; error = ""; notice = ""; draft = {}; formVersion = null; }

/** Display names of the people on this incident's timeline (for conflict messages). */
function names() {
  return Object.fromEntries((detail?.timeline || []).filter((e) => e.actor_name).map((e) => [e.actor, e.actor_name]));
}

/** A pushed change while a form is open: the form stays, with a word on what changed. */
function noteChange(prev, next) {
  if (!form || !prev || prev.version === next.version) return;
  const fresh = next.timeline.filter((e) => e.version > prev.version && e.actor !== store.me?.name && e.action !== "retrigger");
  if (fresh.length) notice = t("conflict.changed", { who: fresh.map((e) => didText(e, names())).join("；") });
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
        closeForm(); form = a; formVersion = detail.version; render();
      },
    }, tv("act", a))),
    h("button", { type: "button", class: "action", dataset: { action: "follow_up" },
      onclick: () => { closeForm(); form = "follow_up"; formVersion = detail.version; render(); } }, tv("act", "follow_up")),
    canMute(inc) ? h("button", { type: "button", class: "action mute", dataset: { action: "mute" }, onclick: () => { mute(inc.id); render(); } }, t("alert.mute"))
      : isRinging(inc.id) && inc.state === "reported" ? h("span", { class: "muted mute-hint" }, t("alert.mute_needs_ack")) : null),
    notice ? h("p", { class: "notice", role: "status" }, notice) : null,
    form ? actionForm(form) : null,  // kept when the state moved on: the server says why, the text survives
    error ? h("p", { class: "error", role: "alert" }, error) : null);
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
    placeView(d),  // where to go comes first
    d.dispatch_status === "not_reached" ? h("div", { class: "not-reached-banner big", role: "alert" }, t("dispatch.not_reached")) : null,
    h("dl", { class: "kv" },
      h("dt", {}, t("detail.source")), h("dd", {}, sourceLabel(d.source_kind === "system" ? "endpoint" : d.source_kind, d.source_id)),
      h("dt", {}, t("detail.triggers")), h("dd", {}, d.trigger_count),
      h("dt", {}, t("detail.escalation")), h("dd", { class: d.escalation_level > 0 ? "escalated" : "", id: "detail-escalation" }, tv("esc", d.escalation_to)),
      d.assignee ? [h("dt", {}, t("detail.assignee")), h("dd", {}, d.assignee)] : null,
      d.resolution_note ? [h("dt", {}, t("detail.resolution")), h("dd", {}, d.resolution_note)] : null,
      outcome(d)),
    h("section", { class: "deadlines" }, h("h3", {}, t("detail.deadlines")),
      h("dl", { class: "kv" },
        h("dt", {}, t("detail.ack_deadline")), h("dd", { id: "detail-ack-deadline" }, ackDeadline(d)),
        h("dt", {}, t("detail.close_deadline")), h("dd", { id: "detail-close-deadline" }, closeDeadline(d)))),
    actions(d),
    fieldPanel(d));  // the field loop (issue 15): roster, dispatch, review, callback, photos, notices
  if (focused) top.querySelector(`[name="${focused}"]`)?.focus();
  replace(bottom,
    h("section", { class: "evidence" }, h("h3", {}, t("detail.evidence")), evidenceView(d.evidence, d.id, d.place)),
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
  tickCountdowns(root);
}

export function initDetail(el) {
  root = el;
  top = h("div", { class: "detail-top" });
  videoEl = h("div", { class: "linked-video", id: "linked-video" });
  videoSection = h("section", { class: "video", hidden: true }, h("h3", {}, t("detail.video")), videoEl);
  bottom = h("div", { class: "detail-bottom" });
  replace(root, top, videoSection, bottom);
  subscribe((reason, data) => {
    if (reason === "select") { closeForm(); detail = null; render(); if (data !== null) load(data); }
    // A delivery lands inside the worker's transaction: read the detail once it has committed.
    if (reason === "live" && data?.id === store.selected) setTimeout(() => load(data.id), 0);  // "delivered" is pushed after its commit
    if (reason === "alert" && detail) render();
    if (reason === "lang") render();
  });
  setInterval(tick, 1000);
  render();
}
