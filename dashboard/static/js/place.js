// Where to go: the incident's place (address, landmark, coordinates, and the names of grid, community and
// street; for a camera its name) shown first and large in the detail panel, and as names in the queue.
// Incidents from before places were stored fall back to the grid directory's names.

import { t } from "./i18n.js";
import { h } from "./dom.js";
import { gridName, communityName, streetName } from "./store.js";

/** Grid, community and street names of an incident (never their ids when a name is configured). */
export function placeNames(inc) {
  const p = inc.place || {};
  return {
    grid: p.grid_name || gridName(inc.grid_id),
    community: p.community_name || communityName(inc.community_id),
    street: p.street_name || streetName(inc.street_id),
  };
}

/** The queue's place cell: the address when there is one, else the camera's name, with grid and street. */
export function placeLine(inc) {
  const n = placeNames(inc);
  const where = inc.place?.address || inc.place?.source_name;
  return where ? `${where} · ${n.grid}` : `${n.grid} · ${n.street}`;
}

function coordinates(p) {
  if (typeof p.lat !== "number" || typeof p.lon !== "number") return null;
  const ns = p.lat >= 0 ? t("place.north") : t("place.south");
  const ew = p.lon >= 0 ? t("place.east") : t("place.west");
  return `${ns} ${Math.abs(p.lat).toFixed(5)}°, ${ew} ${Math.abs(p.lon).toFixed(5)}°`;
}

/** The panel's first section: where to send people. */
export function placeView(inc) {
  const p = inc.place || {};
  const n = placeNames(inc);
  const camera = inc.source_kind === "camera" ? p.source_name || inc.source_id : null;
  const headline = p.address || camera || n.grid;
  const coords = coordinates(p);
  const row = (key, value, cls) => (value ? [h("dt", {}, t(key)), h("dd", { class: cls }, value)] : null);
  return h("section", { class: "place", id: "detail-place", "aria-label": t("place.title") },
    h("p", { class: "place-address", id: "place-address" }, headline),
    p.landmark ? h("p", { class: "place-landmark", id: "place-landmark" }, t("place.landmark_line", { landmark: p.landmark })) : null,
    p.address ? null : h("p", { class: "muted place-missing" }, t("place.no_address")),
    h("dl", { class: "kv place-names" },
      row("place.camera", camera && camera !== headline ? camera : null),
      row("place.grid", n.grid, "place-grid"),
      row("place.community", n.community, "place-community"),
      row("place.street", n.street, "place-street"),
      row("place.coordinates", coords, "place-coords"),
      row("place.cameras", (p.cameras || []).filter((c) => c.name !== camera).map((c) => c.name).join(t("place.sep")) || null)));
}
