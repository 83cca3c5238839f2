// The operator page: signs the session in (GET /auth/me), loads incidents and grids once, then lives on
// server push. Panels: queue + detail, grid map, KPIs, devices.

import { t, applyI18n, setLang, getLang, LANGS, onLangChange, tv } from "./i18n.js";
import { h, replace, setServerTime, setTimeZone } from "./dom.js";
import { api, setCsrf } from "./api.js";
import { store, emit, upsert, setGrids, subscribe, select, OPEN_STATES, gridName } from "./store.js";
import { connectLive } from "./live.js";
import { unlockAudio, alarmState, audioState } from "./alarm.js";
import { onChange as alertOnChange, update as alertUpdate, askNotifications, alertState } from "./alert.js";
import { initPresence, onViewers } from "./presence.js";
import { initShortcuts } from "./shortcuts.js";
import { initQueue } from "./queue.js";
import { initDetail } from "./detail.js";
import { initMap } from "./map.js";
import { initKpis } from "./kpis.js";
import { initDevices } from "./devices.js";
import { initWall } from "./wall.js";
import { initSearch } from "./search.js";
import { initRosterAdmin } from "./roster_admin.js";

const VIEWS = ["queue", "map", "kpis", "wall", "devices", "search", "people"];

async function loadIncidents() {
  const open = OPEN_STATES.map((s) => `state=${s}`).join("&");
  const [active, recent] = await Promise.all([api(`/api/incidents?${open}&limit=1000`), api("/api/incidents?limit=200")]);
  store.incidents.clear();
  for (const inc of [...recent.items, ...active.items]) upsert(inc);
  emit("incidents");
  updateAlarm();
}

function updateAlarm() { alertUpdate(); }

function onIncident(event) {
  const inc = event.incident;
  if (!inc) return;
  inc.__committed_at = event.committed_at;
  inc.__action = event.action;
  const prev = store.incidents.get(inc.id);
  if (upsert(inc)) {
    alertOnChange(inc, prev, event.action);
    emit("incident", inc);
    emit("live", inc);
    if (event.action === "created") linkage(inc);
  }
  updateAlarm();
}

// Alarm linkage (报警联动): a new button or camera incident opens in the detail panel with its linked
// cameras' live video, unless the operator is typing a note on the incident already open.
function linkage(inc) {
  if (!["button", "camera"].includes(inc.source_kind)) return;
  const busy = document.querySelector("#detail .action-form");
  const current = store.selected === null ? null : store.incidents.get(store.selected);
  if (busy || (current && current.priority < inc.priority && OPEN_STATES.includes(current.state))) return;
  select(inc.id);
}

function show(view) {
  for (const v of VIEWS) {
    document.querySelector(`#view-${v}`).hidden = v !== view;
    document.querySelector(`nav.tabs [data-view="${v}"]`).setAttribute("aria-selected", String(v === view));
  }
  emit("show", view);
}

/** The signed-in person by display name, their role and the places they see (grid names, not ids). */
function showWho(me) {
  const names = [...(me.streets || []), ...(me.grids || []).map((g) => gridName(g))];
  replace(document.querySelector("#who"), `${me.display_name || me.name} (${tv("role", me.role)}${names.length ? ` · ${names.join(", ")}` : ""})`);
}

function header(me) {
  const lang = document.querySelector("#lang");
  replace(lang, LANGS.map(([code, label]) => h("option", { value: code, selected: code === getLang() }, label)));
  lang.onchange = () => setLang(lang.value);
  showWho(me);
  for (const b of document.querySelectorAll("nav.tabs button")) b.onclick = () => show(b.dataset.view);
  document.querySelector("#logout").onclick = async () => {
    await api("/auth/logout", { method: "POST" }).catch(() => null);
    window.location.assign("/login");
  };
  const banner = document.querySelector("#sound-banner");
  banner.onclick = () => { unlockAudio(); setTimeout(updateAlarm, 100); };
  document.addEventListener("click", () => {
    askNotifications();  // the browser shows its prompt only after a gesture
    if (audioState() !== "running") { unlockAudio(); setTimeout(updateAlarm, 100); }
  });
}

async function main() {
  applyI18n();
  const me = await api("/auth/me");
  store.me = me;
  setCsrf(me.csrf);
  setServerTime(me.server_time);
  setTimeZone(me.timezone);
  header(me);
  window.__sharpeyes.alarm = alarmState;
  window.__sharpeyes.alerts = alertState;
  window.__sharpeyes.store = store;
  unlockAudio();  // works where the browser allows audio without a gesture; otherwise the banner asks
  initQueue(document.querySelector("#view-queue"));
  initDetail(document.querySelector("#detail"));
  initMap(document.querySelector("#map"));
  initKpis(document.querySelector("#kpis"));
  initDevices(document.querySelector("#devices"));
  initWall(document.querySelector("#wall"));
  initSearch(document.querySelector("#search"));
  initRosterAdmin(document.querySelector("#people"));
  document.querySelector('nav.tabs [data-view="people"]').hidden = me.role !== "admin";  // admins edit the roster
  initPresence(document.querySelector("#detail"));
  initShortcuts();
  subscribe((reason, data) => { if (reason === "navigate") show(data); });
  onLangChange(() => { emit("lang"); updateAlarm(); showWho(me); });
  const grids = await api("/api/grids");
  setGrids(grids.items);
  emit("grids");
  showWho(me);
  const status = document.querySelector("#live-status");
  connectLive({
    onIncident,
    onViewers,
    onOpen: () => loadIncidents().catch((e) => console.error(e)),
    onStatus: (s) => { status.dataset.state = s; status.textContent = t(`live.${s}`); },
  });
  onLangChange(() => { status.textContent = t(`live.${status.dataset.state || "offline"}`); });
  document.body.dataset.ready = "1";
}

main().catch((e) => { console.error(e); });
