// The field panel in the incident detail (issue 15): the grid's duty roster (on duty first, in the order the
// server ranks them) to pick a lead and helpers, reassign, 督办 with a note, 审核 (close or return with a
// reason), 回访 (满意 / 基本满意 / 不满意, which may reopen), each person's progress and notice delivery, and
// the worker's photos. One element kept across the detail's re-renders, so what the operator ticked or typed
// survives a pushed change; it reloads when the incident's version moves.
import { tv, ft } from "./i18n.js";
import { h, replace, clock } from "./dom.js";
import { api } from "./api.js";
import { store, upsert, emit } from "./store.js";

const WORKING = ["dispatched", "in_progress"];
const DISPATCHABLE = ["reported", "acknowledged", ...WORKING];
const el = h("section", { class: "field-panel", id: "field-panel" });
let shown = null;  // {id, version}
let roster = null;
let view = null;
let error = "";
let message = "";
let again = null;  // the next look at notices still on their way
let current = null;  // the incident drawn last
let draft = {};  // lead, helpers (Set), note, urge, reason, satisfaction, callback note, reopen

async function load(d) {
  const id = d.id;
  try {
    const [r, v] = await Promise.all([
      DISPATCHABLE.includes(d.state) ? api(`/api/field/roster?incident=${id}`, { allow404: true }) : null,
      api(`/api/field/incidents/${id}`),
    ]);
    if (shown?.id !== id) return;
    roster = r; view = v;
  } catch (e) { if (shown?.id === id) error = text(e); }
  if (shown?.id !== id) return;
  draw(current?.id === id ? current : d);
  // Notices on their way are looked at again until they land or fail: delivery does not move the version.
  clearTimeout(again);
  if ((view?.notices || []).some((n) => !["delivered", "dead"].includes(n.status))) again = setTimeout(() => { if (shown?.id === id) load(current); }, 2000);
}

function text(e) {
  const key = `err.${e.code}`;
  return ft(key) !== key ? ft(key) : e.message;
}

async function post(d, action, body, done) {
  error = ""; message = ft("panel.sending"); draw(d);
  try {
    const inc = await api(`/api/field/incidents/${d.id}/${action}`, { method: "POST", body });
    draft = {}; message = ft(done); upsert(inc); emit("incident", inc);
    await load(inc);
  } catch (e) { message = ""; error = text(e); draw(d); }
}

const input = (tag, key, attrs = {}, ...kids) => {
  const node = h(tag, { name: `field-${key}`, ...attrs, redraw: null }, ...kids);
  if (draft[key] !== undefined) node.value = draft[key];
  node.addEventListener(tag === "select" ? "change" : "input", () => { draft[key] = node.value; if (attrs.redraw) draw(current); });
  return node;
};

function who(p) {
  const role = p.kind === "unit" ? ft(`unit.${p.unit_kind}`) : ft(`role.${p.role}`);
  return [p.name, role, p.unit_name].filter(Boolean).join(" · ");
}

function picker(d) {
  const people = [...(roster?.people || []), ...(roster?.units || [])];
  if (!people.length) return h("p", { class: "muted" }, ft("panel.no_roster"));
  draft.helpers ||= new Set();
  draft.lead ||= `${people[0].kind}:${people[0].id}`;
  const rows = people.map((p) => {
    const key = `${p.kind}:${p.id}`;
    const lead = h("input", { type: "radio", name: "field-lead", value: key, checked: draft.lead === key,
      onchange: () => { draft.lead = key; draft.helpers.delete(key); draw(d); } });
    const helper = h("input", { type: "checkbox", name: "field-helper", value: key, checked: draft.helpers.has(key),
      disabled: draft.lead === key, onchange: (e) => { e.target.checked ? draft.helpers.add(key) : draft.helpers.delete(key); } });
    return h("tr", { class: p.on_duty ? "" : "off-duty", dataset: { person: p.id, kind: p.kind } },
      h("td", {}, h("label", {}, lead, " ", who(p))),
      h("td", {}, h("label", {}, helper, " ", ft("panel.helper"))),
      h("td", { class: p.on_duty ? "on" : "muted" }, ft(p.on_duty ? "panel.on_duty" : "panel.off_duty")), h("td", {}, p.phone || ""));
  });
  const ref = (key) => { const [kind, ...rest] = key.split(":"); return { kind, id: rest.join(":") }; };
  const again = WORKING.includes(d.state);
  return h("form", { class: "field-dispatch", onsubmit: (e) => {
    e.preventDefault();
    post(d, "dispatch", { lead: ref(draft.lead), helpers: [...draft.helpers].map(ref), note: draft.note || null, expected_version: d.version },
      again ? "panel.reassigned" : "panel.dispatched");
  } },
  h("h4", {}, ft(again ? "panel.reassign" : "panel.dispatch"), " · ", roster.grid_name),
  h("table", { class: "small roster" }, h("tbody", {}, rows)),
  h("label", {}, ft("panel.note"), input("textarea", "note", { rows: 2, maxLength: 2000 })),
  h("button", { type: "submit", class: "primary", dataset: { fieldAct: "dispatch" } }, ft(again ? "panel.reassign" : "panel.dispatch")));
}

function urgeForm(d) {
  if (!["supervisor", "admin"].includes(store.me?.role)) return null;
  return h("form", { class: "field-urge", onsubmit: (e) => { e.preventDefault(); post(d, "urge", { note: draft.urge || null }, "panel.urged"); } },
    h("label", {}, ft("panel.urge_note"), input("input", "urge", { maxLength: 2000 })),
    h("button", { type: "submit", dataset: { fieldAct: "urge" } }, ft("panel.urge")));
}

function reviewForm(d) {
  return h("div", { class: "field-review" }, h("h4", {}, ft("panel.review")),
    h("button", { type: "button", class: "primary", dataset: { fieldAct: "close" },
      onclick: () => post(d, "review", { decision: "close" }, "panel.closed") }, ft("panel.close")),
    h("label", {}, ft("panel.reason"), input("input", "reason", { maxLength: 2000 })),
    h("button", { type: "button", dataset: { fieldAct: "return" }, onclick: () => {
      if (!(draft.reason || "").trim()) { error = ft("panel.reason_required"); draw(d); return; }
      post(d, "review", { decision: "return", reason: draft.reason }, "panel.returned");
    } }, ft("panel.return")));
}

function callbackForm(d) {
  draft.satisfaction ||= "satisfied";
  return h("form", { class: "field-callback", onsubmit: (e) => {
    e.preventDefault();
    const reopen = draft.satisfaction === "unsatisfied" && draft.reopen !== "no";
    post(d, "callback", { satisfaction: draft.satisfaction, note: draft.cnote || null, reopen }, reopen ? "panel.reopened" : "panel.recorded");
  } },
  h("h4", {}, ft("panel.callback")),
  h("label", {}, ft("panel.satisfaction"), input("select", "satisfaction", { redraw: true },
    ["satisfied", "basically_satisfied", "unsatisfied"].map((s) => h("option", { value: s }, ft(`sat.${s}`))))),
  draft.satisfaction === "unsatisfied" ? h("label", {}, ft("panel.reopen"), input("select", "reopen", {},
    h("option", { value: "yes" }, ft("panel.yes")), h("option", { value: "no" }, ft("panel.no")))) : null,
  h("label", {}, ft("panel.note"), input("input", "cnote", { maxLength: 2000 })),
  h("button", { type: "submit", class: "primary", dataset: { fieldAct: "callback" } }, ft("panel.record")));
}

function sent() {
  const rows = view?.assignments || [];
  if (!rows.length) return null;
  return h("table", { class: "small field-people" }, h("tbody", {}, rows.map((a) => h("tr", { dataset: { status: a.status } },
    h("td", {}, a.name, a.lead ? ` (${ft("panel.lead")})` : ""), h("td", {}, ft(`status.${a.status}`)),
    h("td", { class: "muted" }, a.arrived_at ? clock(a.arrived_at) : a.accepted_at ? clock(a.accepted_at) : ft("panel.accept_by", { t: clock(a.accept_deadline) })),
    h("td", { class: a.missed ? "bad" : "" }, a.missed ? ft(`panel.missed.${a.missed}`) : "")))));
}

function notices() {
  const rows = view?.notices || [];
  if (!rows.length) return null;
  return h("div", {}, h("h4", {}, ft("panel.notices")), h("table", { class: "small field-notices" }, h("tbody", {}, rows.map((n) =>
    h("tr", { class: `del-${n.status}`, dataset: { status: n.status, channel: n.channel } },
      h("td", {}, n.to), h("td", {}, ft(`channel.${n.channel}`)), h("td", {}, tv("del", n.status)),
      h("td", {}, `×${n.attempts}`), h("td", { class: "muted" }, n.delivered_at ? clock(n.delivered_at) : n.last_error || ""))))));
}

function photos() {
  const rows = view?.photos || [];
  if (!rows.length) return null;
  return h("div", { class: "field-photos" }, h("h4", {}, ft("panel.photos")), rows.map((p) =>
    h("a", { href: p.url, target: "_blank", rel: "noopener", title: clock(p.created_at) },
      h("img", { src: p.thumb_url, alt: ft("panel.photo_alt", { t: clock(p.created_at) }), width: 96, height: 72, loading: "lazy" }))));
}

function draw(d) {
  current = d;
  replace(el, h("h3", {}, ft("panel.title")),
    sent(),
    DISPATCHABLE.includes(d.state) && roster ? picker(d) : null,
    WORKING.includes(d.state) && view?.assignments?.length ? urgeForm(d) : null,
    d.state === "resolved" ? reviewForm(d) : null,
    d.state === "closed" ? callbackForm(d) : null,
    photos(), notices(),
    message ? h("p", { class: "notice", role: "status" }, message) : null,
    error ? h("p", { class: "error", role: "alert" }, error) : null);
}

/** The panel for this incident; the detail calls it on every render. */
export function fieldPanel(d) {
  if (shown?.id !== d.id) { draft = {}; roster = null; view = null; error = ""; message = ""; }
  if (shown?.id !== d.id || shown.version !== d.version || shown.lang !== document.documentElement.lang) {
    const reload = shown?.id !== d.id || shown.version !== d.version;
    shown = { id: d.id, version: d.version, lang: document.documentElement.lang };
    if (reload) load(d);
  }
  draw(d);
  return el;
}
