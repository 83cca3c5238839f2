// The geographic grid map: Leaflet (vendored under /static/vendor, no CDN) with grid outlines and device
// positions from GET /api/map, already in the base map's datum (WGS-84, or GCJ-02 shifted by the server).
// With a district tile server configured it is drawn underneath; without one the outlines stand on a plain
// background. Always a scale bar and a legend. map.js owns the drill-down; this module only draws.

import * as L from "../vendor/leaflet/leaflet.esm.min.js";
import { t, tv } from "./i18n.js";
import { h } from "./dom.js";

const CAMERA_OK = new Set(["online", "connecting", "starting", "on_shard"]);

function plainText(text) {  // Leaflet writes attributions as HTML: config text goes in as text
  const span = document.createElement("span");
  span.textContent = text;
  return span.innerHTML;
}

function legendControl() {
  const control = L.control({ position: "bottomright" });
  control.onAdd = () => {
    const swatch = (cls, label) => h("li", {}, h("span", { class: `swatch ${cls}` }), label);
    const el = h("div", { class: "map-legend", id: "map-legend" }, h("strong", {}, t("map.legend")), h("ul", {},
      ["none", "some", "high", "critical"].map((k) => swatch(`load-${k}`, t(`map.legend.${k}`))),
      swatch("dot inc p1", t("map.legend.incident")),
      swatch("dot cam ok", t("map.legend.camera_ok")), swatch("dot cam down", t("map.legend.camera_down")),
      swatch("dot btn", t("map.legend.button"))));
    L.DomEvent.disableClickPropagation(el);
    return el;
  };
  return control;
}

export class GeoMap {
  /** `el` stays the map's container for the page's life; `tiles` is /api/map's tile server or null. */
  constructor(el, tiles) {
    this.el = el;
    this.map = L.map(el, { zoomControl: false, attributionControl: Boolean(tiles), zoomSnap: 0.25 });
    this.zoom = L.control.zoom({ zoomInTitle: t("map.zoom_in"), zoomOutTitle: t("map.zoom_out") }).addTo(this.map);
    L.control.scale({ imperial: false, position: "bottomleft" }).addTo(this.map);
    this.legend = legendControl().addTo(this.map);
    if (tiles) {
      this.map.attributionControl.setPrefix(false);
      L.tileLayer(tiles.url, {
        subdomains: tiles.subdomains.length ? tiles.subdomains : "abc", maxZoom: tiles.max_zoom,
        attribution: plainText(tiles.attribution),
      }).addTo(this.map);
    } else {
      el.classList.add("no-tiles");
    }
    this.layers = L.layerGroup().addTo(this.map);
    this.fitted = "";
    window.__sharpeyes.map = this.map;  // for the browser tests: projected positions of markers
  }

  /** Texts that Leaflet keeps (zoom tooltips, legend) in the current language. */
  relabel() {
    this.zoom.remove();
    this.zoom = L.control.zoom({ zoomInTitle: t("map.zoom_in"), zoomOutTitle: t("map.zoom_out") }).addTo(this.map);
    this.legend.remove();
    this.legend = legendControl().addTo(this.map);
  }

  /**
   * view: { key, grids: [{grid, cls, title}], labels: [{latlng, text}], incidents: [{inc, latlng}],
   *         devices: [{device, state}], onDrill(grid), onSelect(incident) }
   */
  draw(view) {
    this.map.invalidateSize();
    this.layers.clearLayers();
    const bounds = L.latLngBounds([]);
    for (const { grid, cls, title } of view.grids) {
      if (!grid.rings) continue;
      const poly = L.polygon(grid.rings, { className: `region ${cls}`, weight: 1.5 }).addTo(this.layers);
      poly.getElement()?.setAttribute("data-grid", grid.id);
      poly.bindTooltip(title, { sticky: true });
      poly.on("click", () => view.onDrill(grid));
      bounds.extend(poly.getBounds());
    }
    for (const { latlng, text } of view.labels) {
      L.tooltip({ permanent: true, direction: "center", className: "region-label", interactive: false })
        .setLatLng(latlng).setContent(plainText(text)).addTo(this.layers);
    }
    for (const { device, state } of view.devices) {
      const camera = device.kind === "camera";
      const ok = camera ? CAMERA_OK.has(state) : state === "online";
      const m = L.circleMarker([device.lat, device.lon], {
        className: `dev-marker ${camera ? "cam" : "btn"} ${ok ? "ok" : "down"}`, radius: camera ? 6 : 5, weight: 2,
      }).addTo(this.layers);
      const stateText = camera ? tv("video.state", state ?? "offline") : tv("pres", state ?? "unknown");
      m.bindTooltip(plainText(t(camera ? "map.camera" : "map.button", { name: device.name, state: stateText })));
      m.getElement()?.setAttribute("data-device", device.id);
      bounds.extend(m.getLatLng());
    }
    for (const { inc, latlng } of view.incidents) {
      const m = L.circleMarker(latlng, { className: `inc-marker p${inc.priority} state-${inc.state}`, radius: 9, weight: 2 })
        .addTo(this.layers);
      m.bindTooltip(plainText(`#${inc.id} ${tv("cat", inc.category)} · ${tv("state", inc.state)}`));
      m.on("click", () => view.onSelect(inc));
      m.getElement()?.setAttribute("data-id", String(inc.id));
    }
    if (bounds.isValid() && this.fitted !== view.key) {  // refit on drill-down, not on every push
      this.map.fitBounds(bounds, { padding: [24, 24], maxZoom: 18, animate: false });
      this.fitted = view.key;
    }
  }

  /** Shown again after being hidden (zero size meanwhile): measure afresh and refit. */
  shown() { this.map.invalidateSize(); this.fitted = ""; }
}

/** Centre of a grid's outer ring ([lat, lon]), where incidents without a device position are put. */
export function ringCentre(grid) {
  const ring = grid.rings?.[0] ?? [];
  const pts = ring.length > 1 ? ring.slice(0, -1) : ring;
  if (!pts.length) return null;
  return [pts.reduce((a, p) => a + p[0], 0) / pts.length, pts.reduce((a, p) => a + p[1], 0) / pts.length];
}
