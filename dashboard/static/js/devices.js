// Device panel: alarm buttons (presence, last seen, battery and tamper flags), cameras with health once
// GET /api/cameras exists, and unknown senders. Reloaded when a device incident arrives by push.

import { t, tv } from "./i18n.js";
import { h, replace, ago } from "./dom.js";
import { api } from "./api.js";
import { subscribe, gridName } from "./store.js";
import { listCameras } from "./video.js";
import { listSilences, silenceTable } from "./silences.js";

const DEVICE_CATEGORIES = new Set(["device_offline", "low_battery", "tamper", "camera_tamper", "video_loss"]);
let root = null;
let devices = null;
let cameras = [];
let silenced = [];  // false alarms' silences still running (who, why, until when)

async function load() {
  const [d, c, q] = await Promise.all([api("/api/devices"), listCameras(), listSilences().catch(() => [])]);
  devices = d;
  cameras = c;
  silenced = q;
  render();
}

function fmtFps(x) { return typeof x === "number" ? x.toFixed(1) : "—"; }

function presence(p) { return h("span", { class: `presence presence-${p}` }, tv("pres", p)); }

export function render() {
  if (!root) return;
  if (!devices) { replace(root, h("p", { class: "muted" }, "…")); return; }
  const known = devices.items.filter((d) => d.known);
  replace(root,
    h("section", {}, h("h3", {}, t("dev.buttons")), h("table", { class: "devices", id: "device-table" },
      h("thead", {}, h("tr", {}, ["dev.id", "dev.kind", "dev.grid", "dev.presence", "dev.last_seen", "dev.battery", "dev.tamper", "dev.messages"].map((k) => h("th", {}, t(k))))),
      h("tbody", {}, known.map((d) => h("tr", { dataset: { device: d.id }, class: [d.presence !== "online" && "warn", (d.battery_low || d.tamper) && "bad"] },
        h("td", {}, d.id), h("td", {}, tv("devkind", d.kind)), h("td", {}, d.grid_id ? gridName(d.grid_id) : "—"), h("td", {}, presence(d.presence)),
        h("td", {}, ago(d.last_seen)),
        h("td", { class: d.battery_low ? "bad" : "" }, d.battery_low ? t("flag.low") : t("flag.ok")),
        h("td", { class: d.tamper ? "bad" : "" }, d.tamper ? t("flag.tamper") : t("flag.none")),
        h("td", {}, d.messages)))))),
    h("section", {}, h("h3", {}, t("dev.cameras")), cameras.length ? h("table", { class: "devices", id: "camera-table" },
      h("thead", {}, h("tr", {}, ["dev.id", "dev.grid", "dev.presence", "dev.fps", "dev.frame_age"].map((k) => h("th", {}, t(k))))),
      h("tbody", {}, cameras.map((c) => h("tr", { dataset: { camera: c.id } },
        h("td", {}, c.id), h("td", {}, c.grid_id ? gridName(c.grid_id) : "—"), h("td", {}, presence(c.video_loss ? "offline" : c.state ?? "unknown")),
        h("td", {}, fmtFps(c.fps_out ?? c.fps_in ?? c.fps)), h("td", {}, c.last_frame_age_s == null ? "—" : `${c.last_frame_age_s.toFixed(1)}s`)))))
      : h("p", { class: "muted" }, t("dev.none"))),
    h("section", { id: "silences" }, h("h3", {}, t("silence.title")),
      silenceTable(silenced, (id) => cameras.find((c) => c.id === id)?.name || id, load)),
    h("section", {}, h("h3", {}, t("dev.unknown")), devices.unknown.length ? h("table", { class: "devices" },
      h("tbody", {}, devices.unknown.map((d) => h("tr", {}, h("td", {}, d.id), h("td", {}, ago(d.last_seen)), h("td", {}, d.messages), h("td", { class: "muted" }, d.last_error ?? "")))))
      : h("p", { class: "muted" }, t("dev.none"))));
}

export function initDevices(el) {
  root = el;
  subscribe((reason, data) => {
    if (reason === "lang") render();
    if (reason === "show" && data === "devices") load();
    if (reason === "live" && (DEVICE_CATEGORIES.has(data?.category) || data?.source_kind === "camera") && !root.closest("[hidden]")) load();
  });
}
