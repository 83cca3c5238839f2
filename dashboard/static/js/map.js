// The grid map, coloured by open-incident load, with incident markers; click through district → street →
// community → grid. Grids with a geographic outline (config `geometry`, GeoJSON) are drawn on a Leaflet map
// with device positions, a scale bar and a legend (map_geo.js); a config with only plain `polygon`s (drawing
// units, no geography) keeps the schematic SVG below.

import { t, tv } from "./i18n.js";
import { h, s, replace } from "./dom.js";
import { api } from "./api.js";
import { listCameras } from "./video.js";
import { GeoMap, ringCentre } from "./map_geo.js";
import { store, subscribe, select, emit, OPEN_STATES, gridName, streetName, communityName } from "./store.js";

const path = { street: null, community: null, grid: null };
let root = null;
let geo = null;  // GET /api/map
let geoMap = null;
let geoEl = null;
let states = new Map();  // device id → camera state or button presence

function level() { return path.grid ? "grid" : path.community ? "community" : path.street ? "street" : "district"; }

function inScope(g) {
  return (!path.street || g.street === path.street) && (!path.community || g.community === path.community)
    && (!path.grid || g.id === path.grid);
}

/** The child a click drills into, and the group a grid is coloured and labelled by, at this level. */
function groupOf(g) {
  return { district: g.street, street: g.community, community: g.id, grid: g.id }[level()];
}

function openIncidents(grids) {
  const ids = new Set(grids.map((g) => g.id));
  return [...store.incidents.values()].filter((i) => ids.has(i.grid_id) && OPEN_STATES.includes(i.state));
}

function loadClass(incs) {
  if (incs.some((i) => i.priority === 1 && i.state === "reported")) return "load-critical";
  if (incs.length >= 3) return "load-high";
  if (incs.length >= 1) return "load-some";
  return "load-none";
}

/** Geographic outlines (lon/lat) have north up; plain x/y drawings are already screen-like. */
function projector(grids) {
  const pts = grids.flatMap((g) => g.polygon || []);
  const geo = pts.length > 0 && pts.every(([x, y]) => Math.abs(x) <= 180 && Math.abs(y) <= 90)
    && Math.max(...pts.map((p) => p[0])) - Math.min(...pts.map((p) => p[0])) < 2;
  return geo ? ([x, y]) => [x * 10000, -y * 10000] : ([x, y]) => [x, y];
}

function layout(grids) {
  const project = projector(grids);
  const shapes = new Map();
  const drawn = grids.filter((g) => g.polygon);
  for (const g of drawn) shapes.set(g.id, g.polygon.map(project));
  let xs = [...shapes.values()].flat().map((p) => p[0]);
  let ys = [...shapes.values()].flat().map((p) => p[1]);
  if (!xs.length) { xs = [0, 100]; ys = [0, 0]; }
  const [minX, maxX, maxY] = [Math.min(...xs), Math.max(...xs), Math.max(...ys)];
  const tile = Math.max(20, (maxX - minX) / 6);
  grids.filter((g) => !g.polygon).forEach((g, i) => {  // no outline configured: a labelled tile below
    const x = minX + i * tile * 1.1;
    const y = (drawn.length ? maxY : 0) + tile * 0.3;
    shapes.set(g.id, [[x, y], [x + tile, y], [x + tile, y + tile], [x, y + tile]]);
  });
  const all = [...shapes.values()].flat();
  const bx = all.map((p) => p[0]);
  const by = all.map((p) => p[1]);
  const box = [Math.min(...bx), Math.min(...by), Math.max(...bx), Math.max(...by)];
  return { shapes, box };
}

function centroid(points) {
  const n = points.length;
  return [points.reduce((a, p) => a + p[0], 0) / n, points.reduce((a, p) => a + p[1], 0) / n];
}

function drill(g) {
  const lv = level();
  if (lv === "district") path.street = g.street;
  else if (lv === "street") path.community = g.community;
  else if (lv === "community") path.grid = g.id;
  render();
}

function crumb() {
  const parts = [[t("map.district"), () => Object.assign(path, { street: null, community: null, grid: null })]];
  if (path.street) parts.push([t("map.street", { id: streetName(path.street) }), () => Object.assign(path, { community: null, grid: null })]);
  if (path.community) parts.push([t("map.community", { id: communityName(path.community) }), () => Object.assign(path, { grid: null })]);
  if (path.grid) parts.push([`${t("map.grid")} ${gridName(path.grid)}`, () => {}]);
  return h("nav", { class: "crumbs" }, parts.map(([label, go], i) => [i ? " › " : "",
    h("button", { type: "button", class: "link", dataset: { level: i }, onclick: () => { go(); render(); } }, label)]));
}

async function loadGeo() {
  const [m, cameras, devices] = await Promise.all([
    api("/api/map"), listCameras(), api("/api/devices").catch(() => ({ items: [] }))]);
  geo = m;
  states = new Map([...devices.items.map((d) => [d.id, d.presence]),
    ...cameras.map((c) => [c.id, c.video_loss ? "offline" : c.state])]);
  render();
}

function groupsOf(grids) {
  const groups = new Map();
  for (const g of grids) (groups.get(groupOf(g)) ?? groups.set(groupOf(g), []).get(groupOf(g))).push(g);
  return groups;
}

function groupLabel(key, gs) {
  const label = { district: streetName, street: communityName }[level()]?.(key) ?? gridName(key);
  return `${label} · ${t("map.open", { n: openIncidents(gs).length })}`;
}

function incidentList(grids) {
  const incs = openIncidents(grids).sort((a, b) => a.priority - b.priority || a.id - b.id);
  return h("aside", {}, h("h3", {}, t("map.incidents")), h("ul", { class: "map-list" }, incs.map((i) =>
    h("li", {}, h("button", { type: "button", class: "link", onclick: () => { select(i.id); emit("navigate", "queue"); } },
      `#${i.id} ${tv("cat", i.category)} · ${gridName(i.grid_id)} · ${tv("state", i.state)}`)))));
}

/** Incidents at their source device's position (else the grid's centre), stacked ones a few metres apart. */
function placeIncidents(grids) {
  const devices = new Map(geo.devices.map((d) => [d.id, d]));
  const byGrid = new Map(grids.map((g) => [g.id, g]));
  const seen = new Map();
  return openIncidents(grids).map((inc) => {
    const d = devices.get(inc.source_id);
    const at = d ? [d.lat, d.lon] : ringCentre(byGrid.get(inc.grid_id));
    if (!at) return null;
    const n = seen.get(at.join()) ?? 0;
    seen.set(at.join(), n + 1);
    return { inc, latlng: [at[0] + n * 0.00012, at[1] + n * 0.00012] };
  }).filter(Boolean);
}

function renderGeo() {
  const grids = geo.grids.filter(inScope);
  const ids = new Set(grids.map((g) => g.id));
  const groups = groupsOf(grids);
  geoEl ??= h("div", { class: "geomap", id: "geomap", role: "region", "aria-label": t("nav.map") });
  replace(root, crumb(), h("p", { class: "muted" }, t("map.hint")),
    h("div", { class: "map-layout" }, h("div", { class: "map-wrap" }, geoEl), incidentList(grids)));
  geoMap ??= new GeoMap(geoEl, geo.tiles);
  const labels = [...groups.entries()].map(([key, gs]) => {
    const centres = gs.map(ringCentre).filter(Boolean);
    if (!centres.length) return null;
    const latlng = [0, 1].map((k) => centres.reduce((a, c) => a + c[k], 0) / centres.length);
    return { latlng, text: groupLabel(key, gs) };
  }).filter(Boolean);
  geoMap.draw({
    key: `${path.street}/${path.community}/${path.grid}`,
    grids: grids.map((g) => ({
      grid: g, cls: loadClass(openIncidents(groups.get(groupOf(g)))),
      title: `${g.name} · ${g.community_name} · ${g.street_name}`,
    })),
    labels,
    incidents: placeIncidents(grids),
    devices: geo.devices.filter((d) => ids.has(d.grid_id)).map((d) => ({ device: d, state: states.get(d.id) })),
    onDrill: drill,
    onSelect: (inc) => { select(inc.id); emit("navigate", "queue"); },
  });
}

export function render() {
  if (!root) return;
  if (geo?.geographic) { renderGeo(); return; }
  const grids = store.grids.filter(inScope);
  const { shapes, box } = layout(grids);
  const pad = Math.max(box[2] - box[0], box[3] - box[1]) * 0.04 + 1;
  const view = `${box[0] - pad} ${box[1] - pad} ${box[2] - box[0] + 2 * pad} ${box[3] - box[1] + 2 * pad}`;
  const groups = new Map();
  for (const g of grids) (groups.get(groupOf(g)) ?? groups.set(groupOf(g), []).get(groupOf(g))).push(g);
  const fontSize = Math.max(box[2] - box[0], box[3] - box[1]) / 28;
  const svg = s("svg", { viewBox: view, class: "gridmap", role: "img", "aria-label": t("nav.map") },
    grids.map((g) => {
      const incs = openIncidents(groups.get(groupOf(g)));
      return s("polygon", {
        points: shapes.get(g.id).map((p) => p.join(",")).join(" "),
        class: `region ${loadClass(incs)}`, dataset: { grid: g.id, group: groupOf(g) },
        onclick: () => drill(g),
      }, s("title", {}, `${g.name} · ${g.community_name ?? g.community} · ${g.street_name ?? g.street}`));
    }),
    [...groups.entries()].map(([key, gs]) => {
      const c = centroid(gs.flatMap((g) => shapes.get(g.id)));
      const label = { district: streetName, street: communityName }[level()]?.(key) ?? gridName(key);
      return s("text", { x: c[0], y: c[1] - fontSize * 0.2, class: "region-label", "font-size": fontSize },
        `${label} · ${t("map.open", { n: openIncidents(gs).length })}`);
    }),
    grids.flatMap((g) => {
      const c = centroid(shapes.get(g.id));
      return openIncidents([g]).map((inc, i, list) => {
        const angle = (2 * Math.PI * i) / Math.max(1, list.length);
        const r = list.length > 1 ? fontSize * 1.2 : 0;
        return s("circle", {
          cx: c[0] + r * Math.cos(angle), cy: c[1] + fontSize + r * Math.sin(angle), r: fontSize * 0.5,
          class: `marker p${inc.priority} state-${inc.state}`, dataset: { id: inc.id },
          onclick: (e) => { e.stopPropagation(); select(inc.id); emit("navigate", "queue"); },
        }, s("title", {}, `#${inc.id} ${tv("cat", inc.category)} · ${tv("state", inc.state)}`));
      });
    }));
  replace(root, crumb(), h("p", { class: "muted" }, t("map.hint")),
    h("div", { class: "map-layout" }, h("div", { class: "map-wrap" }, svg), incidentList(grids)));
}

export function initMap(el) {
  root = el;
  subscribe((reason, data) => {
    if (reason === "lang") geoMap?.relabel();
    if (reason === "show" && data === "map") { geoMap?.shown(); render(); loadGeo(); }
    else if (reason === "grids") loadGeo().catch(() => render());  // without /api/map: the sketch
    else if (["incidents", "incident", "lang"].includes(reason) && !root.closest("[hidden]")) render();
  });
  render();
}
