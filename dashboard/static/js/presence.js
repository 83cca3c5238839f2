// Who else has the incident open (issue 14, item 5): while an incident is open in the detail panel the page
// beats every 10 s (POST /api/incidents/{id}/viewers) and says goodbye when it closes it (a closed tab
// drops out after the server's 25 s); others' lists
// arrive by server push (`viewers`). Shown above the detail, by display name.

import { t } from "./i18n.js";
import { h, replace } from "./dom.js";
import { api } from "./api.js";
import { store, subscribe } from "./store.js";

const BEAT_MS = 10000;
let el = null;
let current = null;
let timer = null;
let viewers = [];

function render() {
  if (!el) return;
  const others = viewers.filter((v) => v.name !== store.me?.name);
  el.hidden = current === null || !others.length;
  replace(el, others.length ? t("viewers.also", { names: others.map((v) => v.display_name || v.name).join("、") }) : "");
}

async function beat(open = true, id = current) {
  if (id === null) return;
  const res = await api(`/api/incidents/${id}/viewers`, { method: "POST", body: { open } }).catch(() => null);
  if (open && res && id === current) { viewers = res.viewers; render(); }
}

/** A pushed list of viewers (any incident in scope): shown when it is the incident open here. */
export function onViewers(event) {
  if (event.incident_id !== current) return;
  viewers = event.viewers;
  render();
}

function open(id) {
  if (current !== null && current !== id) beat(false, current);
  current = id;
  viewers = [];
  render();
  clearInterval(timer);
  if (id === null) return;
  beat(true);
  timer = setInterval(() => beat(true), BEAT_MS);
}

export function initPresence(detailRoot) {
  el = h("p", { class: "viewers", id: "detail-viewers", role: "status", hidden: true });
  detailRoot.prepend(el);
  subscribe((reason, data) => {
    if (reason === "select") open(data);
    if (reason === "lang") render();
  });
}
