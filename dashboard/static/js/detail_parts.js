// Parts of the incident detail that must tell the truth (issue 14, item 6): deadlines that stop at
// terminal states, the verdict and evaluation score, links to linked incidents, delivery status by name,
// and the timeline in the reader's language.

import { t, tv } from "./i18n.js";
import { h, nowMs, tsMs, duration, clock } from "./dom.js";
import { select } from "./store.js";
import { actorLabel, noteText, deliveryLabel } from "./timeline_text.js";

const FINISHED = ["closed", "evaluated", "cancelled", "merged"];

function countdownText(iso) {
  const left = (tsMs(iso) - nowMs()) / 1000;
  return left < 0 ? t("overdue_by", { d: duration(-left) }) : t("remaining", { d: duration(left) });
}

export function tickCountdowns(root) {
  for (const el of root.querySelectorAll(".countdown")) {
    el.textContent = countdownText(el.dataset.deadline);
    el.classList.toggle("late", tsMs(el.dataset.deadline) < nowMs());
  }
}

function running(iso) { return h("span", { class: "countdown", dataset: { deadline: iso } }, countdownText(iso)); }

function met(deadlineIso, doneIso) {
  const late = (tsMs(doneIso) - tsMs(deadlineIso)) / 1000;
  return late > 0
    ? h("span", { class: "done-late", dataset: { deadlineState: "late" } }, t("deadline.late", { time: clock(doneIso), d: duration(late) }))
    : h("span", { class: "done", dataset: { deadlineState: "met" } }, t("deadline.met", { time: clock(doneIso) }));
}

function stopped(state) { return h("span", { class: "stopped", dataset: { deadlineState: "stopped" } }, t("deadline.stopped", { state: tv("state", state) })); }

/** Acknowledge deadline: met or late once acknowledged; stops (no red count) when the incident ended. */
export function ackDeadline(d) {
  if (d.acknowledged_at) return met(d.ack_deadline, d.acknowledged_at);
  if (FINISHED.includes(d.state)) return stopped(d.state);
  return running(d.ack_deadline);
}

/** Close deadline: met or late only when closed; a resolved incident still waits to be closed. */
export function closeDeadline(d) {
  if (["closed", "evaluated"].includes(d.state) && d.closed_at) return met(d.close_deadline, d.closed_at);
  if (FINISHED.includes(d.state)) return stopped(d.state);
  return running(d.close_deadline);
}

function link(id) {
  return h("a", { href: `#incident-${id}`, class: "incident-link", dataset: { incident: id },
    onclick: (e) => { e.preventDefault(); select(id); } }, `#${id}`);
}

/** Verdict, evaluation, merge target and the linked incident, as facts for the key-value list. */
export function outcome(d) {
  const score = d.evaluation && d.evaluation.score !== undefined ? d.evaluation.score : null;
  const comment = d.evaluation?.comment ?? d.evaluation?.note ?? null;
  return [
    d.disposition ? [h("dt", {}, t("detail.verdict")), h("dd", { id: "detail-verdict" }, tv("disp", d.disposition))] : null,
    score !== null ? [h("dt", {}, t("detail.score")), h("dd", { id: "detail-score" }, `${score} / 5`)] : null,
    comment ? [h("dt", {}, t("detail.comment")), h("dd", {}, String(comment))] : null,
    d.merged_into ? [h("dt", {}, t("detail.merged_into")), h("dd", { id: "detail-merged-into" }, link(d.merged_into))] : null,
    d.linked_incident_id ? [h("dt", {}, t("detail.linked")), h("dd", { id: "detail-linked" }, link(d.linked_incident_id))] : null,
  ];
}

export function deliveries(d) {
  const rows = d.deliveries.filter((x) => x.channel === "webhook");
  return h("section", { class: "delivery" }, h("h3", {}, t("detail.delivery")),
    d.dispatch_status === "not_reached" ? h("div", { class: "not-reached-banner", role: "alert" }, t("dispatch.not_reached")) : null,
    h("p", {}, t("dispatch.status"), ": ", h("span", { class: `dstat dstat-${d.dispatch_status}`, id: "detail-dstat" }, tv("dstat", d.dispatch_status))),
    rows.length ? h("table", { class: "small" }, h("tbody", {}, rows.map((x) => h("tr", { class: `del-${x.status}`, dataset: { status: x.status } },
      h("td", {}, deliveryLabel(x)), h("td", {}, tv("del", x.status)),
      h("td", {}, `×${x.attempts}`), h("td", { class: "muted" }, x.last_error ?? ""))))) : h("p", { class: "muted" }, t("detail.no_deliveries")));
}

export function timeline(d) {
  return h("section", { class: "timeline" }, h("h3", {}, t("detail.timeline")),
    h("ol", {}, [...d.timeline].reverse().map((e) => h("li", { dataset: { action: e.action } },
      h("time", {}, clock(e.ts)), " ", h("strong", {}, tv("act", e.action)),
      e.to_state && e.from_state && e.from_state !== e.to_state ? ` ${tv("state", e.from_state)} → ${tv("state", e.to_state)}` : "",
      ` · ${actorLabel(e, d)}`, e.note || e.data?.code ? h("div", { class: "note" }, noteText(e)) : null))));
}
