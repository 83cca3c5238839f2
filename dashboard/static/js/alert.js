// A new emergency is never silent (issue 14, item 4). An incident rings while it is a priority-1 incident
// waiting for acknowledgement, or when its button was pressed again (trigger count grew) after it was
// acknowledged; each new one restarts the sound, flashes the tab title, raises a browser notification and
// moves the incident to the top of the queue. Only an acknowledged incident can be muted, per incident.

import { t, tv } from "./i18n.js";
import { h, replace } from "./dom.js";
import { store, emit, select, OPEN_STATES, gridName } from "./store.js";
import { setAlarm, restartAlarm, audioState } from "./alarm.js";

const ringing = new Map();  // incident id → { at, reason }
const heard = new Map();  // incident id → the trigger count the operator muted at
const notified = [];
let titleTimer = null;
let flip = false;

export function isRinging(id) { return ringing.has(id); }
export function alertedAt(id) { return ringing.get(id)?.at ?? 0; }
export function repressCount(inc) { return inc.source_kind === "button" && inc.trigger_count > 1 ? inc.trigger_count - 1 : 0; }

function waitingP1(inc) { return inc.priority === 1 && inc.state === "reported"; }

/** Whether an incident should ring now: waiting P1, or pressed again since the operator muted it. */
function shouldRing(inc) {
  if (!OPEN_STATES.includes(inc.state) || inc.state === "resolved") return false;
  if (waitingP1(inc)) return true;
  if (inc.acknowledged_at && Date.parse(inc.acknowledged_at) >= Date.parse(inc.last_trigger_at)) return false;  // seen
  return ringing.get(inc.id)?.reason === "repress" && (heard.get(inc.id) ?? 0) < inc.trigger_count;
}

function what(inc) { return `#${inc.id} ${tv("cat", inc.category)}`; }

function notify(inc, again) {
  notified.push({ id: inc.id, again });
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  try {
    const n = new Notification(t("alert.title", { what: what(inc) }), {
      body: (again ? `${t("alert.repress", { n: repressCount(inc) })} · ` : "") + t("alert.notify_body", { place: gridName(inc.grid_id) }),
      tag: `incident-${inc.id}`, renotify: true, requireInteraction: true,
    });
    n.onclick = () => { window.focus(); select(inc.id); n.close(); };
  } catch (e) { console.warn("notification failed", e); }
}

/** Ask for notification permission; browsers allow the prompt only after a click (sign-in or the page). */
export function askNotifications() {
  if ("Notification" in window && Notification.permission === "default") Notification.requestPermission().catch(() => {});
}

/** A pushed change: prev is the incident as the page knew it before. */
export function onChange(inc, prev, action) {
  const fresh = action === "created" && inc.priority === 1;
  const again = prev && inc.trigger_count > prev.trigger_count && inc.source_kind === "button" && OPEN_STATES.includes(inc.state);
  if (fresh || again) {
    ringing.set(inc.id, { at: Date.now(), reason: again ? "repress" : "new" });
    restartAlarm();
    notify(inc, Boolean(again));
  }
  update();
}

export function mute(id) {
  const inc = store.incidents.get(id);
  if (!inc || waitingP1(inc)) return false;  // a waiting emergency is acknowledged, not muted
  heard.set(id, inc.trigger_count);
  update();
  return true;
}

export function canMute(inc) { return ringing.has(inc.id) && !waitingP1(inc) && shouldRing(inc); }

function flashTitle(active) {
  if (active.length && !titleTimer) {
    titleTimer = setInterval(() => {
      flip = !flip;
      const first = ringing.size ? active[0] : null;
      document.title = flip && first ? t("alert.title", { what: what(first) }) : t("app.title");
    }, 800);
  } else if (!active.length && titleTimer) {
    clearInterval(titleTimer);
    titleTimer = null;
    document.title = t("app.title");
  }
}

function banner(active) {
  const el = document.querySelector("#alarm-banner");
  if (!el) return;
  el.hidden = !active.length;
  if (!active.length) return;
  const first = active[0];
  const more = active.length > 1 ? ` (+${active.length - 1})` : "";
  const again = repressCount(first) && ringing.get(first.id)?.reason === "repress" ? ` · ${t("alert.repress", { n: repressCount(first) })}` : "";
  replace(el, h("button", { type: "button", class: "alarm-go", onclick: () => select(first.id) },
    h("strong", {}, `${t("alert.banner")}: `), `${what(first)} · ${gridName(first.grid_id)}${again}${more}`));
}

/** Recompute which incidents ring; sound, title, banner and the queue's order follow. */
export function update() {
  for (const inc of store.incidents.values()) if (waitingP1(inc) && !ringing.has(inc.id)) ringing.set(inc.id, { at: 0, reason: "new" });
  const active = [];
  for (const [id] of ringing) {
    const inc = store.incidents.get(id);
    if (inc && shouldRing(inc)) active.push(inc);
    else if (!inc || !OPEN_STATES.includes(inc.state)) ringing.delete(id);
  }
  active.sort((a, b) => alertedAt(b.id) - alertedAt(a.id));
  setAlarm(active.length > 0);
  flashTitle(active);
  banner(active);
  document.querySelector("#sound-banner").hidden = !(active.length && audioState() !== "running");
  emit("alert");
}

export function alertState() {
  const active = [...ringing.keys()].filter((id) => { const i = store.incidents.get(id); return i && shouldRing(i); });
  return { ringing: active, notified: [...notified], muted: [...heard.keys()] };
}
