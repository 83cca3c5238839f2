// Page state shared by the panels: incidents by id (kept current by server push), the grid directory,
// the signed-in user, and which incident is selected. Panels subscribe and re-render.

export const OPEN_STATES = ["reported", "acknowledged", "dispatched", "in_progress", "resolved"];
export const ALL_STATES = [...OPEN_STATES, "closed", "evaluated", "cancelled", "merged"];
export const CATEGORIES = ["sos", "fire", "smoke", "crowd", "gathering", "tamper", "camera_tamper", "video_loss",
  "device_offline", "low_battery", "dispatch_failure"];

export const store = {
  me: null,
  incidents: new Map(),
  grids: [],
  gridById: new Map(),
  selected: null,
};

const listeners = new Set();
export function subscribe(fn) { listeners.add(fn); return () => listeners.delete(fn); }
export function emit(reason, data) { for (const fn of listeners) fn(reason, data); }

export function setGrids(items) {
  store.grids = items;
  store.gridById = new Map(items.map((g) => [g.id, g]));
}

/** Keep the newest version of an incident: events can cross a reload in flight. */
export function upsert(inc) {
  const cur = store.incidents.get(inc.id);
  if (cur && cur.version > inc.version) return false;
  store.incidents.set(inc.id, inc);
  return true;
}

export function select(id) { store.selected = id; emit("select", id); }

export function gridName(id) { return store.gridById.get(id)?.name ?? id; }
/** Streets and communities by name (config `streets:` / `communities:`), from the grids that hold them. */
export function streetName(id) { return store.grids.find((g) => g.street === id)?.street_name ?? id; }
export function communityName(id) { return store.grids.find((g) => g.community === id)?.community_name ?? id; }

// Seen-on-screen stamps, for the tests and the latency benchmark (see benchmarks/page_latency.py).
window.__sharpeyes = window.__sharpeyes || {};
window.__sharpeyes.seen = {};
