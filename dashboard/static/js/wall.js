// The camera wall (视频墙): live views of the pinned cameras, or of a street's or grid's cameras, each
// with a health badge (online, fps, last frame age). Views run only while the wall is on screen.

import { t } from "./i18n.js";
import { h, replace } from "./dom.js";
import { subscribe, store } from "./store.js";
import { liveView, listCameras, pinned, setPinned } from "./video.js";

let root = null;
let grid = null;
let controls = null;
let views = new Map();  // camera id → live view
let cameras = [];
let choice = "pinned";  // "pinned" | "street:S-1" | "grid:G-001"
let shown = false;
let healthTimer = null;

function chosen() {
  if (choice === "pinned") return cameras.filter((c) => pinned().includes(c.id));
  const [kind, id] = choice.split(":");
  return cameras.filter((c) => (kind === "street" ? c.street_id === id : c.grid_id === id));
}

function renderControls() {
  const streets = [...new Set(cameras.map((c) => c.street_id))].sort();
  const grids = [...new Set(cameras.map((c) => c.grid_id))].sort();
  const select = h("select", { id: "wall-choice", onchange: (e) => { choice = e.target.value; mount(); } },
    h("option", { value: "pinned" }, t("wall.pinned")),
    streets.map((s) => h("option", { value: `street:${s}` }, `${t("filter.street")} ${s}`)),
    grids.map((g) => h("option", { value: `grid:${g}` }, `${t("filter.grid")} ${store.gridById.get(g)?.name ?? g} (${g})`)));
  select.value = choice;
  replace(controls, h("label", {}, t("wall.choose"), " ", select),
    h("button", { type: "button", id: "wall-clear", onclick: () => { setPinned([]); mount(); } }, t("wall.unpin_all")));
}

function unmount() {
  for (const v of views.values()) v.close();
  views = new Map();
}

function mount() {
  unmount();
  if (!shown) return;
  renderControls();
  const list = chosen();
  if (!list.length) { replace(grid, h("p", { class: "muted" }, t("wall.empty"))); return; }
  for (const c of list) views.set(c.id, liveView(c.id));
  replace(grid, [...views.values()].map((v) => v.el));
  health();
}

async function health() {
  if (!shown) return;
  cameras = await listCameras();
  for (const c of cameras) views.get(c.id)?.setHealth(c);
}

export function initWall(el) {
  root = el;
  controls = h("div", { class: "wall-controls" });
  grid = h("div", { class: "wall-grid", id: "wall-grid" });
  replace(root, controls, grid);
  subscribe(async (reason, data) => {
    if (reason === "show") {
      const now = data === "wall";
      if (now === shown) return;
      shown = now;
      if (shown) {
        cameras = await listCameras();
        mount();
        healthTimer = setInterval(health, 2000);
      } else {
        clearInterval(healthTimer);
        unmount();
      }
    }
    if (reason === "lang" && shown) mount();
  });
}
