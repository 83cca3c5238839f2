// What the server writes, said in the reader's language: timeline actions, actors ("system", a button, a
// person's display name), machine notes (codes with parameters in `data`, or the fixed formats that
// triggers write), rule names ("crowd@crossing" → 人员聚集（路口）), sources and delivery labels.
// People's own notes are shown as they typed them.

import { t, tv } from "./i18n.js";
import { clock, duration } from "./dom.js";

const SIGNALS = ["press", "cancel", "heartbeat", "tamper", "low_battery"];

/** A rule name: "crowd@crossing" → 人员聚集（路口）; "button:sos" → 报警按钮：一键报警求助. */
export function ruleName(rule) {
  if (!rule) return "—";
  const [kind, zone] = String(rule).split("@");
  if (zone !== undefined) return t("rule.kind", { kind: tv("cat", kind), zone: tv("zone", zone) });
  const [source, cat] = String(rule).split(":");
  if (cat !== undefined) return source === "button" ? t("kpi.rule.button", { cat: tv("cat", cat) }) : `${tv("src", source)} · ${tv("cat", cat)}`;
  return tv("cat", rule);
}

/** "按钮 B-001", "摄像头 CAM-01": what raised the incident. */
export function sourceLabel(kind, id) { return `${tv("src", kind)} ${id}`; }

/** Who made a timeline entry, for people: the system, the incident's source, or a person by name. */
export function actorLabel(e, inc) {
  if (e.actor === "system") return t("actor.system");
  if (e.actor_name) return e.actor_name;
  const button = /^button (.+)$/.exec(e.actor);
  if (button) return sourceLabel("button", button[1]);
  if (inc && e.actor === inc.source_id) return sourceLabel(inc.source_kind === "system" ? "endpoint" : inc.source_kind, e.actor);
  return e.actor;  // a user or API token name: data
}

function observation(note) {
  // "fire suspected, rule fire, count 3, confidence 0.82" (video/triggers.py note())
  const m = /^(\w+) (suspected|confirmed|cleared), rule ([^,]+)(?:, count ([\d.]+))?(?:, confidence ([\d.]+))?$/.exec(note);
  if (!m) return null;
  let text = t("note.observation", { kind: tv("cat", m[1]), level: t(`level.${m[2]}`), rule: ruleName(m[3]) });
  if (m[4] !== undefined) text += t("note.count", { count: m[4] });
  if (m[5] !== undefined) text += t("note.confidence", { pct: `${Math.round(Number(m[5]) * 100)}%` });
  return text;
}

/** A machine-written note in the reader's language; a person's note unchanged. */
export function noteText(e) {
  const code = e.data?.code;
  if (code) {
    const params = { ...e.data };
    if (params.level) params.level = tv("esc", params.level);
    if (params.endpoint) params.endpoint = tv("target", params.endpoint);
    if (code === "video_loss") {  // a unix time: said in the configured time zone, like every time on the page
      params.since = typeof params.since === "number" ? clock(params.since).slice(11) : "—";
      params.error = params.error ? params.error : t("note.no_frames");
    }
    if (Array.isArray(params.people)) params.people = params.people.join(document.documentElement.lang === "en" ? ", " : "、");
    const key = `note.${code}`;
    if (t(key) !== key) return t(key, params);
  }
  const note = e.note;
  if (!note) return "";
  const sig = /^(\w+) seq=(\d+)$/.exec(note);
  if (sig && SIGNALS.includes(sig[1])) return t(`note.${sig[1]}`, { seq: sig[2] });
  const cancel = /^cancel pressed \(seq=(\d+)\)$/.exec(note);
  if (cancel) return t("note.cancel_pressed", { seq: cancel[1] });
  const opened = /^new incident (\d+) opened$/.exec(note);
  if (opened) return t("note.new_incident_opened", { incident_id: opened[1] });
  const esc = /^acknowledge deadline missed: escalated to (\w+)$/.exec(note);
  if (esc) return t("note.ack_missed_escalated", { level: tv("esc", esc[1]) });
  const lost = /^no video since ([\d:]+): (.*)$/.exec(note);
  if (lost) return t("note.video_loss", { since: lost[1], error: lost[2] === "no frames" ? t("note.no_frames") : lost[2] });
  const silent = /^no heartbeat for (\d+) s$/.exec(note);
  if (silent) return t("note.no_heartbeat", { d: duration(Number(silent[1])) });
  const nr = /^dispatch not reached: ([^:]+): (.*)$/.exec(note);
  if (nr) return t("note.dispatch_not_reached", { endpoint: tv("target", nr[1]), error: nr[2] });
  return observation(note) ?? note;
}

/** "王五 于 10:02:03 派遣": one change, for a conflict message. */
export function didText(change, names = {}) {
  const actor = change.actor === "system" ? t("actor.system") : change.actor_name || names[change.actor] || change.actor;
  return t("conflict.did", { actor, action: tv("act", change.action), time: clock(change.ts).slice(11) });
}

/** A delivery row's label: "公安接警平台 · 事件更新". */
export function deliveryLabel(x) { return `${tv("target", x.target)} · ${tv("evt", x.event_type)}`; }
