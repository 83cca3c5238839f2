// False alarms' silences: the list (who, why, until when; lift early) for the device and camera views, and
// the duration chooser of the cancel form (within the category's capped range from /api/silence-policy).

import { t, tv } from "./i18n.js";
import { h, clock, duration, tsMs, nowMs } from "./dom.js";
import { api } from "./api.js";
import { ruleName } from "./timeline_text.js";
import { emit, select } from "./store.js";

let policy = null;
let policyLoading = null;

function loadPolicy() {
  policyLoading ??= api("/api/silence-policy").then((p) => { policy = p; return p; }).catch(() => { policyLoading = null; return null; });
  return policyLoading;
}

export async function listSilences(camera) {
  const q = camera ? `?camera=${encodeURIComponent(camera)}` : "";
  return (await api(`/api/silences${q}`)).items;
}

/** Minute choices within [min_s, max_s]: the default, the bounds and round steps between. */
function choices(min, max, def) {
  const steps = [1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240].map((m) => m * 60);
  return [...new Set([min, def, max, ...steps])].filter((s) => s >= min && s <= max).sort((a, b) => a - b);
}

/** The cancel form's silence duration, for camera incidents whose category is silenced after a false alarm. */
export function silenceField(inc, draft) {
  const box = h("div", { class: "silence-field" });
  if (inc.source_kind !== "camera") return box;
  const fill = (p) => {
    const cat = p?.categories?.[inc.category];
    if (!cat) return;
    const sel = h("select", { name: "silence_s", id: "silence-duration", onchange: (e) => { draft.silence_s = e.target.value; } },
      choices(p.min_s, cat.max_s, cat.default_s).map((sec) => h("option", { value: sec, selected: sec === cat.default_s }, duration(sec))));
    if (draft.silence_s !== undefined) sel.value = draft.silence_s;
    box.replaceChildren(h("label", {}, t("silence.duration"), sel), h("p", { class: "muted small" }, t("silence.hint", { max: duration(cat.max_s) })));
  };
  if (policy) fill(policy); else loadPolicy().then(fill);
  return box;
}

/** What the cancel form sends for the silence: only with a false alarm of a camera. */
export function silenceBody(inc, data) {
  const v = data.get("silence_s");
  return inc.source_kind === "camera" && data.get("disposition") === "false_alarm" && v ? { silence_s: Number(v) } : {};
}

/** The table of running silences; `onLift` is called after one was lifted. */
export function silenceTable(items, cameraName, onLift) {
  if (!items.length) return h("p", { class: "muted", id: "silence-none" }, t("silence.none"));
  return h("div", { class: "table-scroll" }, h("table", { class: "devices", id: "silence-table" },
    h("thead", {}, h("tr", {}, ["silence.camera", "silence.rule", "silence.who", "silence.why", "silence.until", "silence.left", ""].map((k) => h("th", {}, k ? t(k) : "")))),
    h("tbody", {}, items.map((x) => h("tr", { dataset: { silence: x.id, camera: x.camera_id } },
      h("td", {}, cameraName(x.camera_id)),
      h("td", {}, x.rule ? ruleName(x.rule) : tv("cat", x.category)),
      h("td", {}, x.created_by_name || x.created_by),
      h("td", {}, x.reason || "—", " ", h("a", { href: `#incident-${x.incident_id}`, class: "silence-incident",
        onclick: (e) => { e.preventDefault(); emit("navigate", "queue"); select(x.incident_id); } }, t("silence.incident", { id: x.incident_id }))),
      h("td", {}, clock(x.until)),
      h("td", { class: "silence-left", dataset: { until: x.until } }, duration(Math.max(0, (tsMs(x.until) - nowMs()) / 1000))),
      h("td", {}, h("button", { type: "button", class: "lift-silence", onclick: async (e) => {
        e.target.disabled = true;
        try { await api(`/api/silences/${x.id}/lift`, { method: "POST", body: {} }); } catch (err) { e.target.replaceWith(h("span", { class: "error", role: "alert" }, err.message)); return; }
        onLift();
      } }, t("silence.lift"))))))));
}
