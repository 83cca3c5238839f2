// The operator page: signs the session in (GET /auth/me), loads incidents and grids once, then lives on
// server push. Panels: queue + detail, grid map, KPIs, devices.

import { t, applyI18n, setLang, getLang, LANGS, onLangChange, tv } from "./i18n.js";
import { h, replace, setServerTime } from "./dom.js";
import { api, setCsrf } from "./api.js";
import { store, emit, upsert, setGrids, subscribe, select, OPEN_STATES } from "./store.js";
import { connectLive } from "./live.js";
import { setAlarm, unlockAudio, alarmState, audioState } from "./alarm.js";
import { initQueue } from "./queue.js";
import { initDetail } from "./detail.js";
import { initMap } from "./map.js";
import { initKpis } from "./kpis.js";
import { initDevices } from "./devices.js";
import { initWall } from "./wall.js";

const VIEWS = ["queue", "map", "kpis", "wall", "devices"];

async function loadIncidents() {
  const open = OPEN_STATES.map((s) => `state=${s}`).join("&");
  const [active, recent] = await Promise.all([api(`/api/incidents?${open}&limit=1000`), api("/api/incidents?limit=200")]);
  store.incidents.clear();
  for (const inc of [...recent.items, ...active.items]) upsert(inc);
  emit("incidents");
  updateAlarm();
}

function updateAlarm() {
  const waiting = [...store.incidents.values()].some((i) => i.priority === 1 && i.state === "reported");
  setAlarm(waiting);
  document.querySelector("#sound-banner").hidden = !(waiting && audioState() !== "running");
}

function onIncident(event) {
  const inc = event.incident;
  if (!inc) return;
  inc.__committed_at = event.committed_at;
  if (upsert(inc)) {
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

function header(me) {
  const lang = document.querySelector("#lang");
  replace(lang, LANGS.map(([code, label]) => h("option", { value: code, selected: code === getLang() }, label)));
  lang.onchange = () => setLang(lang.value);
  const who = document.querySelector("#who");
  const place = me.streets || me.grids ? ` · ${[...(me.streets || []), ...(me.grids || [])].join(", ")}` : "";
  replace(who, `${me.name} (${tv("role", me.role)}${place})`);
  for (const b of document.querySelectorAll("nav.tabs button")) b.onclick = () => show(b.dataset.view);
  document.querySelector("#logout").onclick = async () => {
    await api("/auth/logout", { method: "POST" }).catch(() => null);
    window.location.assign("/login");
  };
  const banner = document.querySelector("#sound-banner");
  banner.onclick = () => { unlockAudio(); setTimeout(updateAlarm, 100); };
  document.addEventListener("click", () => { if (audioState() !== "running") { unlockAudio(); setTimeout(updateAlarm, 100); } });
}

async function main() {
  applyI18n();
  const me = await api("/auth/me");
  store.me = me;
  setCsrf(me.csrf);
  setServerTime(me.server_time);
  header(me);
  window.__sharpeyes.alarm = alarmState;
  window.__sharpeyes.store = store;
  unlockAudio();  // works where the browser allows audio without a gesture; otherwise the banner asks
  initQueue(document.querySelector("#view-queue"));
  initDetail(document.querySelector("#detail"));
  initMap(document.querySelector("#map"));
  initKpis(document.querySelector("#kpis"));
  initDevices(document.querySelector("#devices"));
  initWall(document.querySelector("#wall"));
  subscribe((reason, data) => { if (reason === "navigate") show(data); });
  onLangChange(() => emit("lang"));
  const grids = await api("/api/grids");
  setGrids(grids.items);
  emit("grids");
  const status = document.querySelector("#live-status");
  connectLive({
    onIncident,
    onOpen: () => loadIncidents().catch((e) => console.error(e)),
    onStatus: (s) => { status.dataset.state = s; status.textContent = t(`live.${s}`); },
  });
  onLangChange(() => { status.textContent = t(`live.${status.dataset.state || "offline"}`); });
  document.body.dataset.ready = "1";
}

main().catch((e) => { console.error(e); });
