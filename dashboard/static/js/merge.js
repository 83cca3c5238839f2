// The merge form's chooser: candidates from /api/incidents/{id}/merge-candidates (same street, in scope,
// near in time; same category first), never an id typed by hand. The server refuses anything else.

import { t, tv } from "./i18n.js";
import { h, duration } from "./dom.js";
import { api } from "./api.js";
import { gridName } from "./store.js";

let forId = null;
let chosen = null;
let cache = { id: null, at: 0, items: null };

export function chosenTarget(incidentId) { return forId === incidentId ? chosen : null; }

async function candidates(id) {
  if (cache.id === id && cache.items && Date.now() - cache.at < 5000) return cache.items;
  const items = (await api(`/api/incidents/${id}/merge-candidates`)).items;
  cache = { id, at: Date.now(), items };
  return items;
}

function reasons(c) {
  const out = [];
  if (c.same_category) out.push(t("merge.same_category"));
  out.push(c.same_grid ? t("merge.same_grid") : t("merge.same_street"));
  out.push(t("merge.apart", { d: duration(c.apart_s) }));
  return out.join(" · ");
}

/** A radio list of candidates; the choice survives re-renders of the detail panel. */
export function mergeChooser(inc) {
  if (forId !== inc.id) { forId = inc.id; chosen = null; }
  const box = h("fieldset", { class: "merge-chooser", id: "merge-candidates" }, h("legend", {}, t("merge.choose")), h("p", { class: "muted" }, "…"));
  candidates(inc.id).then((items) => {
    if (!items.length) { box.replaceChildren(h("legend", {}, t("merge.choose")), h("p", { class: "muted", id: "merge-none" }, t("merge.none"))); return; }
    box.replaceChildren(h("legend", {}, t("merge.choose")), ...items.map((c) => h("label", { class: "merge-candidate", dataset: { candidate: c.id } },
      h("input", { type: "radio", name: "merge_target", value: c.id, checked: chosen === c.id, onchange: () => { chosen = c.id; } }),
      h("strong", {}, `#${c.id} ${tv("cat", c.category)}`), ` ${tv("state", c.state)} · ${gridName(c.grid_id)} · ${c.source_id}`,
      h("span", { class: "muted small" }, ` (${reasons(c)})`))));
  }).catch((e) => { box.replaceChildren(h("p", { class: "error", role: "alert" }, e.message)); });
  return box;
}
