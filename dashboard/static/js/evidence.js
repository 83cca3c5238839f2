// Evidence for people: when it was seen, how sure the detector was (as %), which area, how many people and
// how dense, with the annotated picture. Stored keys and raw values (unix seconds, pixel boxes, sequence
// numbers) only under a collapsed "technical details", for whoever debugs a rule.

import { t, tv } from "./i18n.js";
import { h, s, clock, duration } from "./dom.js";
import { ruleName } from "./timeline_text.js";
import { clipView } from "./clip.js";

const HIDDEN = ["snapshot_url", "boxes", "clips"];  // drawn on the picture, or played (clip.js)
const num = (v) => typeof v === "number" && Number.isFinite(v);
const pct = (x) => `${Math.round(x * 100)}%`;
const round = (x, digits = 2) => String(Number(x.toFixed(digits)));

/** [label key, text] pairs people read, from whatever evidence the source left. */
export function humanRows(ev) {
  const rows = [];
  const add = (key, text) => { if (text !== null && text !== undefined && text !== "") rows.push([key, text]); };
  if (num(ev.captured_at)) add("evidence.time", clock(ev.captured_at));
  else if (num(ev.device_ts)) add("evidence.pressed", clock(ev.device_ts));  // the button's own clock
  else if (num(ev.since)) add("evidence.since", clock(ev.since));
  if (ev.rule) add("evidence.rule", ruleName(ev.rule));
  if (ev.level) add("evidence.level", t(`evidence.level.${ev.level}`));
  if (Array.isArray(ev.kinds) && ev.kinds.length) add("evidence.tamper_kind", ev.kinds.map((k) => tv("tamper", k)).join(" · "));
  const confidence = [ev.confidence, ev.score].find(num);
  if (num(confidence)) add("evidence.confidence", pct(confidence));
  if (ev.zone) add("evidence.zone", tv("zone", ev.zone));
  if (num(ev.area_m2)) add("evidence.area", t("evidence.m2", { n: round(ev.area_m2, 1) }));
  else if (num(ev.area_frac)) add("evidence.area", t("evidence.of_frame", { pct: pct(ev.area_frac) }));
  if (num(ev.count)) add("evidence.count", t("evidence.people", { n: round(ev.count, 1) }));
  if (num(ev.density_per_m2)) add("evidence.density", t("evidence.per_m2", { n: round(ev.density_per_m2) }));
  if (num(ev.threshold)) add("evidence.threshold", t("evidence.people", { n: round(ev.threshold, 1) }));
  if (num(ev.growth) && num(ev.within_s)) add("evidence.growth", t("evidence.growth_in", { n: round(ev.growth, 1), d: duration(ev.within_s) }));
  if (num(ev.hits) && num(ev.of)) add("evidence.frames", t("evidence.hits_of", { hits: ev.hits, of: ev.of }));
  if (num(ev.cleared_at)) add("evidence.cleared_at", clock(ev.cleared_at));
  return rows;
}

function technical(ev) {
  const entries = Object.entries(ev).filter(([k]) => !HIDDEN.includes(k));
  if (!entries.length) return null;
  return h("details", { class: "tech", id: "evidence-tech" }, h("summary", {}, t("evidence.technical")),
    h("dl", { class: "kv small" }, entries.map(([k, v]) => [h("dt", {}, k), h("dd", {}, typeof v === "object" ? JSON.stringify(v) : String(v))])));
}

function picture(ev, incidentId) {
  // Camera evidence names a snapshot that the API serves with boxes and zones already drawn.
  let snap = ev.snapshot_url || ev.snapshot;
  if (typeof snap === "string" && !snap.startsWith("/") && !snap.startsWith("data:image/")) snap = `/api/incidents/${incidentId}/snapshot`;
  if (typeof snap !== "string" || !(snap.startsWith("/") || snap.startsWith("data:image/"))) return null;
  const size = ev.frame_size || ev.image_size;
  const boxes = Array.isArray(ev.boxes) ? ev.boxes : [];
  return h("div", { class: "snapshot" }, h("img", { src: snap, alt: t("evidence.picture") }),
    size ? s("svg", { viewBox: `0 0 ${size[0]} ${size[1]}`, class: "boxes", preserveAspectRatio: "none" },
      boxes.map((b) => {
        const [x1, y1, x2, y2] = b.xyxy || b;
        return s("g", {}, s("rect", { x: x1, y: y1, width: x2 - x1, height: y2 - y1 }),
          s("text", { x: x1 + 4, y: y1 + 16 }, `${b.label ?? ""} ${num(b.score) ? pct(b.score) : ""}`));
      })) : null);
}

/** A tampered camera: the scene as it should look (the reference) beside what it shows now. */
function beforeAfter(ev, incidentId) {
  if (typeof ev.snapshot_before !== "string") return null;
  const fig = (level, key) => h("figure", { class: "snapshot" },
    h("img", { src: `/api/incidents/${incidentId}/snapshot?level=${level}`, alt: t(key) }), h("figcaption", {}, t(key)));
  return h("div", { class: "before-after", id: "evidence-before-after" },
    fig("before", "evidence.before"), fig("after", "evidence.after"));
}

/** The evidence section's body: picture, what people read, and the raw record folded away. `place` (the
 * incident's) names its cameras, so a clip says which camera in words. */
export function evidenceView(ev, incidentId, place) {
  const evidence = ev || {};
  const rows = humanRows(evidence);
  const names = new Map((place?.cameras || []).map((c) => [c.id, c.name || c.id]));
  return [beforeAfter(evidence, incidentId) || picture(evidence, incidentId), clipView(evidence, (id) => names.get(id) || id),
    rows.length ? h("dl", { class: "kv evidence-human", id: "evidence-human" }, rows.map(([k, v]) => [h("dt", {}, t(k)), h("dd", {}, v)]))
      : h("p", { class: "muted" }, t("evidence.none")),
    technical(evidence)];
}
