// The live incident queue: priority first, then the longest-waiting; coloured by state, flashing when
// overdue; filtered by category, state, street and grid. Rows update from server push only.

import { t, tv } from "./i18n.js";
import { h, replace, nowMs, tsMs, duration } from "./dom.js";
import { store, subscribe, select, OPEN_STATES, ALL_STATES, CATEGORIES, streetName } from "./store.js";
import { placeLine } from "./place.js";
import { isRinging, alertedAt, repressCount } from "./alert.js";

const filters = { category: "", state: "open", street: "", grid: "" };

export function overdue(inc, now = nowMs()) {
  if (!OPEN_STATES.includes(inc.state) || inc.state === "resolved") return false;
  if (!inc.acknowledged_at && now > tsMs(inc.ack_deadline)) return true;
  return now > tsMs(inc.close_deadline);
}

function deadlineOf(inc) {
  if (!OPEN_STATES.includes(inc.state)) return null;
  return tsMs(inc.acknowledged_at ? inc.close_deadline : inc.ack_deadline);
}

export function matches(inc, f = filters) {
  if (f.category && inc.category !== f.category) return false;
  if (f.state === "open" && !OPEN_STATES.includes(inc.state)) return false;
  if (f.state && f.state !== "open" && f.state !== "all" && inc.state !== f.state) return false;
  if (f.street && inc.street_id !== f.street) return false;
  if (f.grid && inc.grid_id !== f.grid) return false;
  return true;
}

/** Ringing incidents first (the newest alarm on top), then priority, then the longest-waiting. */
export function visible() {
  const ring = (i) => (isRinging(i.id) ? 1 : 0);
  return [...store.incidents.values()].filter((i) => matches(i))
    .sort((a, b) => ring(b) - ring(a) || (ring(a) && alertedAt(b.id) - alertedAt(a.id))
      || a.priority - b.priority || tsMs(a.created_at) - tsMs(b.created_at) || a.id - b.id);
}

function option(value, label, current) { return h("option", { value, selected: value === current }, label); }

function renderFilters(form) {
  const streets = [...new Set(store.grids.map((g) => g.street))].sort();
  const grids = store.grids.filter((g) => !filters.street || g.street === filters.street);
  const sel = (name, opts) => h("label", {}, h("span", {}, t(`filter.${name}`)),
    h("select", { name, onchange: (e) => { filters[name] = e.target.value; renderFilters(form); render(); } }, opts));
  replace(form,
    sel("category", [option("", t("filter.all"), filters.category),
      ...CATEGORIES.map((c) => option(c, tv("cat", c), filters.category))]),
    sel("state", [option("open", t("filter.open"), filters.state), option("all", t("filter.all"), filters.state),
      ...ALL_STATES.map((s) => option(s, tv("state", s), filters.state))]),
    sel("street", [option("", t("filter.all"), filters.street), ...streets.map((s) => option(s, streetName(s), filters.street))]),
    sel("grid", [option("", t("filter.all"), filters.grid), ...grids.map((g) => option(g.id, g.name, filters.grid))]),
    h("button", { type: "button", class: "link", onclick: () => {
      Object.assign(filters, { category: "", state: "open", street: "", grid: "" }); renderFilters(form); render();
    } }, t("filter.clear")),
  );
}

function timeCells(inc, now) {
  const age = duration((now - tsMs(inc.created_at)) / 1000);
  const due = deadlineOf(inc);
  let deadline = "—";
  if (due !== null) deadline = now > due ? t("overdue_by", { d: duration((now - due) / 1000) }) : t("remaining", { d: duration((due - now) / 1000) });
  return [age, deadline];
}

function row(inc, now) {
  const [age, deadline] = timeCells(inc, now);
  const late = overdue(inc, now);
  return h("tr", {
    class: ["incident", `state-${inc.state}`, `p${inc.priority}`, late && "overdue", store.selected === inc.id && "selected", isRinging(inc.id) && "ringing",
      inc.dispatch_status === "not_reached" && "not-reached"],
    dataset: { id: inc.id, state: inc.state },
    tabIndex: 0,
    onclick: () => { select(inc.id); showDetailOnPhone(); },
    onkeydown: (e) => { if (e.key === "Enter") select(inc.id); },
  },
  h("td", { class: "prio" }, h("span", { class: `prio-badge p${inc.priority}` }, inc.priority)),
  h("td", { class: "id" }, `#${inc.id}`),
  h("td", { class: "cat" }, tv("cat", inc.category), inc.dispatch_status === "not_reached" ? h("span", { class: "flag-red" }, " ⚠") : null,
    repressCount(inc) && OPEN_STATES.includes(inc.state) ? h("span", { class: "repress" }, t("alert.repress", { n: repressCount(inc) })) : null),
  h("td", { class: "place" }, placeLine(inc)),
  h("td", { class: "state" }, h("span", { class: `state-badge state-${inc.state}` }, tv("state", inc.state)), late ? h("span", { class: "overdue-badge" }, t("overdue")) : null),
  h("td", { class: "age" }, age),
  h("td", { class: "deadline" }, deadline));
}

/** On a narrow screen the detail sits below the queue: bring it into view when a row is picked. */
function showDetailOnPhone() {
  if (window.matchMedia("(max-width: 1100px)").matches) document.querySelector("#detail")?.scrollIntoView({ block: "start" });
}

let tbody = null;
let counter = null;
let pending = false;

export function render() {
  if (pending || !tbody) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    const now = nowMs();
    const items = visible();
    // Focus stays on the same incident's row when live updates rebuild the table (keyboard users).
    const focusedId = tbody.contains(document.activeElement) ? document.activeElement.closest("tr")?.dataset.id : null;
    replace(tbody, items.length ? items.map((i) => row(i, now)) : h("tr", { class: "empty" }, h("td", { colSpan: 7 }, t("queue.empty"))));
    if (focusedId) tbody.querySelector(`tr[data-id="${focusedId}"]`)?.focus({ preventScroll: true });
    counter.textContent = t("queue.count", { n: items.length });
    // Stamp when each incident first reached the screen (after this frame is painted).
    const fresh = items.filter((i) => !window.__sharpeyes.seen[i.id]);
    if (fresh.length) requestAnimationFrame(() => {
      const at = performance.timeOrigin + performance.now();
      for (const i of fresh) if (!window.__sharpeyes.seen[i.id]) window.__sharpeyes.seen[i.id] = { at, committed_at: i.__committed_at ?? null, created_at: i.created_at };
    });
  });
}

/** Once a second: ages, count-downs and overdue colours move with the clock (no server round trip). */
function tick() {
  if (!tbody) return;
  const now = nowMs();
  for (const tr of tbody.querySelectorAll("tr.incident")) {
    const inc = store.incidents.get(Number(tr.dataset.id));
    if (!inc) continue;
    const [age, deadline] = timeCells(inc, now);
    tr.querySelector(".age").textContent = age;
    tr.querySelector(".deadline").textContent = deadline;
    const late = overdue(inc, now);
    if (late !== tr.classList.contains("overdue")) render();
  }
}

export function initQueue(root) {
  const form = root.querySelector("#filters");
  tbody = root.querySelector("#queue tbody");
  counter = root.querySelector("#queue-count");
  renderFilters(form);
  subscribe((reason) => { if (["incidents", "incident", "select", "grids", "lang", "alert"].includes(reason)) render(); if (reason === "grids" || reason === "lang") renderFilters(form); });
  setInterval(tick, 1000);
  render();
}

/** Filters from elsewhere (the map's drill-down). */
export function setFilters(next) {
  Object.assign(filters, next);
  renderFilters(document.querySelector("#filters"));
  render();
}
