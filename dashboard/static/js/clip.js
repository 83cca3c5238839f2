// Evidence clips: the seconds before and after the alarm, played next to the snapshot and the live view.
// Each clip is a file the API serves with range requests (seekable), behind the page's own session; the
// trigger moments are marks on a bar under the player (click one to jump there). What the camera did not
// deliver (down, reconnecting, a changed resolution) is said in words, not left for the operator to guess.

import { t } from "./i18n.js";
import { h, clock, duration } from "./dom.js";

const num = (v) => typeof v === "number" && Number.isFinite(v);

function marks(c, video) {
  const span = c.end - c.start;
  if (!(span > 0)) return null;
  return h("div", { class: "clip-marks", role: "group", "aria-label": t("clip.triggers") },
    (c.triggers || []).filter((x) => num(x) && x >= c.start && x <= c.end).map((at) => {
      const offset = at - c.start;
      return h("button", {
        type: "button", class: "clip-mark", style: `left:${(offset / span) * 100}%`,
        title: t("clip.trigger_at", { time: clock(at), offset: duration(offset) }),
        "aria-label": t("clip.trigger_at", { time: clock(at), offset: duration(offset) }),
        dataset: { offset: String(offset) },
        onclick: () => { video.currentTime = offset; video.play().catch(() => {}); },
      });
    }));
}

function missing(c) {
  const gaps = (c.missing || []).filter((m) => num(m.from) && num(m.to));
  if (!gaps.length) return null;
  return h("ul", { class: "clip-missing small" }, gaps.map((m) => h("li", {},
    t("clip.gap", { from: clock(m.from).slice(11), d: duration(m.to - m.from), why: t(`clip.why.${m.reason}`) === `clip.why.${m.reason}` ? m.reason : t(`clip.why.${m.reason}`) }))));
}

// One <video> per clip, kept across the panel's re-renders (every incident update rebuilds the evidence
// section): an operator half-way through a clip must not be thrown back to its start by a delivery receipt.
const players = new Map();

function player(c) {
  const key = `${c.id}|${c.url}`;
  let video = players.get(key);
  if (!video) {
    video = h("video", { class: "clip-video", src: c.url, controls: true, preload: "metadata", playsInline: true, muted: true, dataset: { clip: c.id } });
    const first = (c.triggers || []).find((x) => num(x) && x >= c.start);
    if (num(first)) video.addEventListener("loadedmetadata", () => { if (video.currentTime === 0) video.currentTime = Math.max(0, first - c.start - 2); }, { once: true });
    players.set(key, video);
  }
  return [key, video];
}

function saved(c, cameraName, keep) {
  const [key, video] = player(c);
  keep.add(key);
  return h("figure", { class: "clip" },
    video, marks(c, video),
    h("figcaption", { class: "small" },
      t("clip.caption", { camera: cameraName(c.camera_id), start: clock(c.start), d: duration(c.end - c.start) }), " ",
      h("a", { href: `${c.url}?download=1`, download: "", class: "clip-download" }, t("clip.download"))),
    missing(c));
}

function unsaved(c, cameraName) {
  const key = c.status === "failed" ? "clip.failed" : "clip.nothing";
  return h("div", { class: "clip clip-unsaved" }, h("p", { class: "muted" }, t(key, { camera: cameraName(c.camera_id) })), missing(c));
}

/** The incident's clips (evidence.clips), or nothing when it has none (yet); `cameraName` turns a camera's
 * id into what operators call it. */
export function clipView(ev, cameraName = (id) => id) {
  const clips = Array.isArray(ev?.clips) ? ev.clips.filter((c) => c && typeof c === "object") : [];
  const keep = new Set();
  const view = clips.length ? h("div", { class: "clips", id: "evidence-clips" }, h("h4", {}, t("clip.title")),
    clips.map((c) => (c.status === "saved" && typeof c.url === "string" && c.url.startsWith("/api/") ? saved(c, cameraName, keep) : unsaved(c, cameraName)))) : null;
  for (const k of [...players.keys()]) if (!keep.has(k)) players.delete(k);  // another incident: let go
  return view;
}
