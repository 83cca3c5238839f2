// People (人员) view for admins: everyone on the duty roster with their grids and whether they are on duty
// now, an edit form (name, phone, role, unit, grids, shifts), and the audit trail of page edits
// (GET/PUT /api/roster/…). Cards, not a wide table, so a phone needs no horizontal scroll.

import { t, tv } from "./i18n.js";
import { h, replace, clock } from "./dom.js";
import { api } from "./api.js";
import { store, subscribe, gridName } from "./store.js";

const ROLES = ["grid_worker", "police", "community", "firefighter", "urban_management"];
const WEEK = [0, 1, 2, 3, 4, 5, 6];
let root = null;
let data = null;  // { people, units, audit }
let editing = null;  // the person id in the form, "" for a new one
let message = null;

async function load() {
  const [p, u, a] = await Promise.all([api("/api/roster/people"), api("/api/roster/units"), api("/api/roster/audit?limit=50")]);
  data = { people: p.items, units: u.items, audit: a.items };
  render();
}

function names(ids) { return ids.length ? ids.map((g) => gridName(g)).join("、") : "—"; }

function shiftText(s) {
  const days = s.days.length === 7 ? t("people.every_day") : s.days.map((d) => t(`people.day${d}`)).join(" ");
  return `${days} ${s.start}–${s.end}`;
}

function card(p) {
  return h("li", { class: ["person-card", !p.active && "muted"], dataset: { person: p.id } },
    h("div", { class: "person-head" }, h("strong", {}, p.name), " ", h("span", {}, tv("prole", p.role)),
      " ", h("span", { class: ["duty", p.on_duty ? "ok" : "muted"] }, !p.active ? t("people.inactive") : p.on_duty ? t("people.on_duty") : t("people.off_duty"))),
    h("div", { class: "person-grids" }, t("people.grids_line", { grids: names(p.grids) })),
    h("div", { class: "muted" }, [p.unit_name, p.phone, p.shifts.map(shiftText).join("；")].filter(Boolean).join(" · ")),
    store.me?.role === "admin" ? h("button", { type: "button", class: "person-edit", onclick: () => { editing = p.id; message = null; render(); } }, t("people.edit")) : null);
}

function field(label, input) { return h("label", { class: "people-field" }, h("span", {}, label), input); }

function form(p) {
  const person = p || { id: "", name: "", role: "grid_worker", unit_id: null, phone: "", grids: [], shifts: [{ days: WEEK, start: "00:00", end: "24:00" }], username: null, channels: ["gateway", "mqtt"], active: true };
  const shift = person.shifts[0] || { days: WEEK, start: "00:00", end: "24:00" };
  const id = h("input", { name: "id", value: person.id, required: true, disabled: Boolean(p), pattern: "[A-Za-z0-9_.\\-]+" });
  const name = h("input", { name: "name", value: person.name, required: true });
  const phone = h("input", { name: "phone", value: person.phone || "", type: "tel" });
  const role = h("select", { name: "role" }, ROLES.map((r) => h("option", { value: r, selected: r === person.role }, tv("prole", r))));
  const unit = h("select", { name: "unit" }, h("option", { value: "" }, "—"),
    data.units.filter((u) => u.active || u.id === person.unit_id).map((u) => h("option", { value: u.id, selected: u.id === person.unit_id }, u.name)));
  const grids = store.grids.map((g) => h("label", { class: "people-check" },
    h("input", { type: "checkbox", name: "grid", value: g.id, checked: person.grids.includes(g.id) }), g.name || g.id));
  const days = WEEK.map((d) => h("label", { class: "people-check" },
    h("input", { type: "checkbox", name: "day", value: String(d), checked: shift.days.includes(d) }), t(`people.day${d}`)));
  const start = h("input", { name: "start", type: "time", value: shift.start });
  const end = h("input", { name: "end", value: shift.end, pattern: "([01]\\d|2[0-3]):[0-5]\\d|24:00", size: 5 });
  const active = h("input", { type: "checkbox", name: "active", checked: person.active });
  async function submit(ev) {
    ev.preventDefault();
    const checked = (n) => [...root.querySelectorAll(`input[name=${n}]:checked`)].map((x) => x.value);
    const body = {
      name: name.value.trim(), role: role.value, unit: unit.value || null, phone: phone.value.trim() || null,
      grids: checked("grid"), shifts: [{ days: checked("day").map(Number), start: start.value, end: end.value }],
      username: person.username, channels: person.channels, active: active.checked,
    };
    try {
      await api(`/api/roster/people/${encodeURIComponent(id.value.trim())}`, { method: "PUT", body });
      editing = null;
      message = { ok: true, text: t("people.saved") };
      await load();
    } catch (e) {
      message = { ok: false, text: e.message };
      render();
    }
  }
  return h("form", { class: "people-form", id: "people-form", onsubmit: submit },
    h("h3", {}, p ? t("people.edit_title", { name: p.name }) : t("people.new")),
    field(t("people.id"), id), field(t("people.name"), name), field(t("people.phone"), phone),
    field(t("people.role"), role), field(t("people.unit"), unit),
    h("fieldset", { class: "people-grids" }, h("legend", {}, t("people.grids")), grids),
    h("fieldset", {}, h("legend", {}, t("people.shift")), days, field(t("people.start"), start), field(t("people.end"), end)),
    h("label", { class: "people-check" }, active, t("people.active")),
    h("div", { class: "people-actions" },
      h("button", { type: "submit", class: "primary" }, t("people.save")),
      h("button", { type: "button", onclick: () => { editing = null; render(); } }, t("people.cancel"))));
}

function value(v) {
  if (v === null || v === undefined || (Array.isArray(v) && !v.length)) return "—";
  if (Array.isArray(v)) return v.map((x) => (typeof x === "object" ? shiftText(x) : gridName(x))).join("、");
  if (typeof v === "boolean") return v ? t("people.yes") : t("people.no");
  return String(v);
}

function auditItem(e) {
  const target = data.people.find((p) => p.id === e.target_id)?.name || data.units.find((u) => u.id === e.target_id)?.name || e.target_id;
  return h("li", { class: "audit-item", dataset: { target: e.target_id } },
    h("div", {}, `${clock(e.ts)} · ${e.actor} · ${tv("people.action", e.action)} · ${target}`),
    e.action === "create" ? null : h("ul", {}, e.changed.map((k) => h("li", { dataset: { field: k } },
      t("people.change", { field: tv("people.f", k), before: value(e.before?.[k]), after: value(e.after?.[k]) })))));
}

export function render() {
  if (!root) return;
  if (!data) { replace(root, h("p", { class: "muted" }, "…")); return; }
  const admin = store.me?.role === "admin";
  const person = editing ? data.people.find((p) => p.id === editing) : null;
  replace(root,
    h("section", { class: "people" },
      h("h3", {}, t("people.title")),
      message ? h("p", { class: message.ok ? "ok" : "bad", role: "status", id: "people-message" }, message.text) : null,
      editing !== null ? form(person) : admin ? h("button", { type: "button", id: "people-new", onclick: () => { editing = ""; message = null; render(); } }, t("people.new")) : null,
      h("ul", { class: "people-list", id: "people-list" }, data.people.map(card))),
    h("section", { class: "people-audit" }, h("h3", {}, t("people.audit")),
      data.audit.length ? h("ul", { id: "people-audit" }, data.audit.map(auditItem)) : h("p", { class: "muted" }, t("people.audit_none"))));
}

export function initRosterAdmin(el) {
  root = el;
  subscribe((reason, d) => {
    if (reason === "lang" || reason === "grids") render();
    if (reason === "show" && d === "people") load().catch((e) => { message = { ok: false, text: e.message }; render(); });
  });
}
