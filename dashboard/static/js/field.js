// The phone page for field workers (issue 15): my tasks and the open incidents in my grids; 接单, 到场 (with
// the browser's position when allowed), progress notes with photos, 办结. Small requests only, polled every
// 20 s and on return to the page, so it works on a slow connection; every action reloads just the lists.
// What the worker typed and the photos not yet sent survive the reloads; a card's buttons are disabled while
// its request is on the way, so a slow answer is not sent twice.
import { LANGS, getLang, setLang, tv, ft } from "./i18n.js";
import { h, replace, clock, setTimeZone, setServerTime, nowMs, tsMs } from "./dom.js";

let csrf = null;
let maxBytes = null;  // the server's photo limit: a bigger file is refused here, before a slow upload
const pending = new Map();  // incident id -> [{id, thumb_url}] uploaded, not yet sent with a note
const drafts = new Map();  // incident id -> {note, result}
const busy = new Set();  // incident ids with a request on the way

function say(text, error = false) {
  const el = document.getElementById("fstatus");
  el.textContent = text;
  el.classList.toggle("error", error);
  el.dataset.kind = error ? "error" : "info";
}

async function call(path, { method = "GET", body, raw, type } = {}) {
  const headers = { accept: "application/json" };
  if (method !== "GET") headers["x-csrf-token"] = csrf;
  if (body !== undefined) headers["content-type"] = "application/json";
  if (raw !== undefined) headers["content-type"] = type || "application/octet-stream";
  let res;
  try {
    res = await fetch(path, { method, headers, credentials: "same-origin", body: raw ?? (body === undefined ? undefined : JSON.stringify(body)) });
  } catch {
    throw new Error(ft("offline"));
  }
  if (res.status === 401) { window.location.assign("/login"); throw new Error(ft("signed_out")); }
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const code = data.code || (res.status === 413 ? "photo_too_large" : "http");
    const key = `err.${code}`;
    throw new Error(ft(key) !== key ? ft(key) : ft("err.http", { status: res.status }));
  }
  return data;
}

const when = (iso) => (iso ? clock(iso).slice(11, 16) : "—");  // in locale.timezone, not the phone's zone

function position() {
  if (!navigator.geolocation) return Promise.resolve(null);
  return new Promise((resolve) => navigator.geolocation.getCurrentPosition(
    (p) => resolve({ lat: p.coords.latitude, lon: p.coords.longitude, accuracy: p.coords.accuracy }),
    () => resolve(null), { timeout: 8000, maximumAge: 60000 }));
}

async function guarded(id, work) {
  if (busy.has(id)) return;
  busy.add(id);
  for (const b of document.querySelectorAll(`[data-incident="${id}"] button, [data-incident="${id}"] input`)) b.disabled = true;
  try { await work(); } finally { busy.delete(id); await load(true); }
}

function act(id, action, body, done) {
  return guarded(id, async () => {
    say(ft("sending"));
    try {
      await call(`/api/field/incidents/${id}/${action}`, { method: "POST", body: body ?? {} });
      say(ft(done || `done.${action}`));
      if (action === "progress" || action === "resolve") { pending.delete(id); drafts.delete(id); }
    } catch (e) { say(e.message, true); }
  });
}

function upload(id, file) {
  if (maxBytes && file.size > maxBytes) { say(ft("err.photo_too_large"), true); return; }
  guarded(id, async () => {
    say(ft("uploading"));
    try {
      const p = await call(`/api/field/incidents/${id}/photos`, { method: "POST", raw: file, type: file.type });
      pending.set(id, [...(pending.get(id) || []), { id: p.id, thumb_url: p.thumb_url }]);
      say(ft("uploaded"));
    } catch (e) { say(e.message, true); }
  });
}

function taskCard(inc, mine, word) {
  const id = inc.id;
  const draft = drafts.get(id) || {};
  drafts.set(id, draft);
  const note = h("textarea", { name: "note", placeholder: ft("note_ph"), "aria-label": ft("note"), maxLength: 4000 });
  note.value = draft.note || "";
  note.addEventListener("input", () => { draft.note = note.value; });
  const result = h("select", { class: "result", name: "result", "aria-label": ft("result") },
    ["handled", "referred", "no_problem_found"].map((r) => h("option", { value: r }, ft(`result.${r}`))));
  result.value = draft.result || "handled";
  result.addEventListener("change", () => { draft.result = result.value; });
  const photos = pending.get(id) || [];
  const thumbs = h("div", { class: "thumbs" }, photos.map((p) => h("img", { src: p.thumb_url, alt: ft("photo"), width: 72, height: 72 })));
  const file = h("input", { type: "file", accept: "image/jpeg,image/png,image/heic,image/heif,image/*", name: "photo" });
  file.addEventListener("change", () => { if (file.files[0]) upload(id, file.files[0]); file.value = ""; });
  const button = (key, fn, primary) => h("button", { type: "button", class: primary ? "primary" : "", dataset: { act: key }, onclick: fn }, ft(key));
  const ids = () => photos.map((p) => p.id);
  const actions = [];
  const out = ["dispatched", "in_progress"].includes(inc.state);
  if (out && mine.status === "assigned") actions.push(button("accept", () => act(id, "accept"), true));
  if (out && mine.status !== "arrived") {
    actions.push(button("arrive", async () => {
      if (busy.has(id)) return;
      say(ft("locating"));
      const where = await position();
      await act(id, "arrive", where || {}, where ? "done.arrive_located" : "done.arrive_no_location");
    }, mine.status === "accepted"));
  }
  if (out) {
    actions.push(h("label", { class: "file" }, ft("photo"), file));
    actions.push(button("note", () => act(id, "progress", { note: note.value, photos: ids() })));
    actions.push(button("resolve", () => act(id, "resolve", { note: note.value, result: result.value, photos: ids() }), mine.status === "arrived"));
  }
  const place = inc.place ? [inc.place.address, inc.place.landmark, inc.place.grid_name].filter(Boolean).join(" · ") : inc.grid_id;
  const late = (deadline, done) => !done && deadline && tsMs(deadline) < nowMs();
  return h("li", { class: "card", id: `incident-${id}`, dataset: { incident: String(id), state: inc.state, status: mine.status } },
    h("h3", {}, `${tv("cat", inc.category)} · ${place}`),
    h("p", { class: "meta state" }, `${tv("state", inc.state)} · ${ft(`status.${mine.status}`)}`),
    word && out ? h("p", { class: "word", dataset: { word: word.action } }, ft(`word.${word.action}`, { note: word.note || "—" })) : null,
    h("p", { class: "meta deadline" },
      h("span", { class: late(mine.accept_deadline, mine.accepted_at) ? "overdue" : "" }, ft("accept_by", { t: when(mine.accept_deadline) })), " · ",
      h("span", { class: late(mine.arrive_deadline, mine.arrived_at) ? "overdue" : "" }, ft("arrive_by", { t: when(mine.arrive_deadline) }))),
    out ? note : null, out ? result : null, thumbs, h("div", { class: "actions" }, actions));
}

function openCard(inc) {
  return h("li", { class: "card", dataset: { incident: String(inc.id) } },
    h("h3", {}, `${tv("cat", inc.category)} · ${inc.place?.grid_name || inc.grid_id}`),
    h("p", { class: "meta" }, tv("state", inc.state)));
}

// A poll does not re-draw under the worker's thumb: while they type, the lists wait for the next one.
async function load(force = false) {
  const typing = document.activeElement?.closest?.("#tasks") && ["TEXTAREA", "SELECT"].includes(document.activeElement.tagName);
  if ((typing || busy.size) && !force) return;
  try {
    const data = await call("/api/field/tasks");
    maxBytes = data.photo_max_bytes ?? maxBytes;
    document.getElementById("me").textContent = data.person.name;
    replace(document.getElementById("tasks"), data.tasks.length ? data.tasks.map((x) => taskCard(x.incident, x.mine, x.word)) : h("li", { class: "none" }, ft("none")));
    replace(document.getElementById("open"), data.open.length ? data.open.map(openCard) : h("li", { class: "none" }, ft("none")));
  } catch (e) { say(e.message, true); }
}

function words() {
  document.documentElement.lang = getLang();
  for (const el of document.querySelectorAll("[data-f]")) el.textContent = ft(el.dataset.f);
}

async function main() {
  words();
  say(ft("loading"));
  let me;
  try { me = await call("/auth/me"); } catch (e) { say(e.message, true); return; }
  csrf = me.csrf;
  setTimeZone(me.timezone);
  setServerTime(me.server_time);
  const sel = document.getElementById("flang");
  for (const [code, name] of LANGS) sel.append(h("option", { value: code, selected: code === getLang() }, name));
  sel.addEventListener("change", () => { setLang(sel.value); words(); say(""); load(true); });
  await load(true);
  if (!document.getElementById("fstatus").classList.contains("error")) say("");
  document.getElementById(location.hash.slice(1))?.scrollIntoView();  // the notice's link: /field#incident-7
  document.body.dataset.ready = "1";
  setInterval(load, 20000);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) load(); });
}

main();
