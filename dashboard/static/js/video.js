// Hook for alarm linkage (报警联动): the detail panel calls mountLinkedVideo() with the incident's linked
// cameras, and the device panel calls listCameras(). Live video (WebRTC with MJPEG/snapshot fallback) is
// wired in here by the camera work; until then this shows which cameras are linked.

import { t } from "./i18n.js";
import { h, replace } from "./dom.js";
import { api } from "./api.js";

/** Fill `el` with live views of `cameras` for `incident`; returns a function that tears them down. */
export function mountLinkedVideo(el, cameras, incident) {
  void incident;
  replace(el, cameras.length
    ? h("p", { class: "muted" }, t("detail.video_pending", { cams: cameras.join(", ") }))
    : h("p", { class: "muted" }, t("detail.no_cameras")));
  el.dataset.cameras = cameras.join(",");
  return () => replace(el);
}

/** Cameras with health from GET /api/cameras, or [] while that route does not exist. */
export async function listCameras() {
  try {
    const data = await api("/api/cameras", { allow404: true });
    return data?.items ?? [];
  } catch {
    return [];
  }
}
