// Live camera views (报警联动 and the camera wall): WebRTC first (the camera's own H.264, or one shared
// re-encode for cameras with B-frames), MJPEG when WebRTC cannot connect, refreshed pictures when MJPEG
// fails too. Detector boxes are drawn on a canvas over the video, never burned into it.

import { t } from "./i18n.js";
import { h, replace } from "./dom.js";
import { api } from "./api.js";

const WEBRTC_TIMEOUT_MS = 4000;  // no decoded frame by then: fall back to MJPEG
const OVERLAY_MS = 1000;  // detector boxes refresh
const BOX_MAX_AGE_S = 3;  // older boxes are not drawn
const PIN_KEY = "sharpeyes.pinned";

window.__sharpeyes = window.__sharpeyes || {};
window.__sharpeyes.live = window.__sharpeyes.live || { views: 0, closed: 0 };

export function pinned() {
  try { return JSON.parse(localStorage.getItem(PIN_KEY) || "[]"); } catch { return []; }
}

export function setPinned(ids) { localStorage.setItem(PIN_KEY, JSON.stringify([...new Set(ids)])); }

// The offer goes out with the host candidates gathered so far (no trickle ICE): they come within
// milliseconds, while "gathering complete" can take a second longer on machines with many interfaces.
function waitIce(pc) {
  return new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") { resolve(); return; }
    pc.addEventListener("icegatheringstatechange", () => { if (pc.iceGatheringState === "complete") resolve(); });
    pc.addEventListener("icecandidate", (e) => { if (e.candidate) setTimeout(resolve, 30); });
    setTimeout(resolve, 1000);
  });
}

/** One camera's live view; returns { el, close }. `opts.pin` adds a pin-to-wall button; `opts.name` is the
 * camera's name for people (the id stays in the tooltip). */
export function liveView(cameraId, opts = {}) {
  const video = h("video", { muted: true, autoplay: true, playsInline: true, className: "live-video" });
  video.muted = true;
  const canvas = h("canvas", { class: "overlay", width: 640, height: 360 });
  const img = h("img", { class: "live-video", alt: cameraId, hidden: true });
  const mode = h("span", { class: "live-mode" });
  const badge = h("span", { class: "live-badge" });
  const pinBtn = opts.pin ? h("button", { type: "button", class: "pin", dataset: { camera: cameraId },
    onclick: () => { setPinned([...pinned(), cameraId]); pinBtn.textContent = t("video.pinned"); pinBtn.disabled = true; },
  }, pinned().includes(cameraId) ? t("video.pinned") : t("video.pin")) : null;
  if (pinBtn && pinned().includes(cameraId)) pinBtn.disabled = true;
  const el = h("figure", { class: "live-tile", dataset: { camera: cameraId, mode: "connecting" } },
    h("div", { class: "live-frame" }, video, img, canvas),
    h("figcaption", {}, h("strong", { title: cameraId }, opts.name || cameraId), " ", mode, " ", badge, pinBtn));
  let pc = null;
  let peerId = null;
  let closed = false;
  let refresh = null;
  const timers = [];
  window.__sharpeyes.live.views += 1;

  function setMode(m) { el.dataset.mode = m; mode.textContent = t(`video.mode.${m}`); }

  function picture() {
    setMode("picture");
    video.hidden = true;
    img.hidden = false;
    const load = () => { img.src = `/api/cameras/${encodeURIComponent(cameraId)}/frame.jpg?t=${Date.now()}`; };
    img.onerror = null;
    load();
    refresh = setInterval(load, 2000);
  }

  function mjpeg() {
    if (closed) return;
    setMode("mjpeg");
    video.hidden = true;
    img.hidden = false;
    img.onerror = () => { if (!closed && el.dataset.mode === "mjpeg") { img.removeAttribute("src"); picture(); } };
    img.onload = () => { el.dataset.frames = String((Number(el.dataset.frames) || 0) + 1); };
    img.src = `/api/cameras/${encodeURIComponent(cameraId)}/mjpeg?fps=5`;
  }

  async function hangUp() {
    if (pc) { pc.close(); pc = null; }
    if (peerId) {
      const id = peerId;
      peerId = null;
      await api(`/api/cameras/${encodeURIComponent(cameraId)}/webrtc/${id}`, { method: "DELETE" }).catch(() => null);
    }
  }

  async function webrtc() {
    if (typeof window.RTCPeerConnection !== "function") throw new Error("no WebRTC");
    setMode("connecting");
    const started = performance.now();
    pc = new RTCPeerConnection({ iceServers: [] });
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.ontrack = (e) => { video.srcObject = e.streams[0] || new MediaStream([e.track]); };
    await pc.setLocalDescription(await pc.createOffer());
    await waitIce(pc);
    const answer = await api(`/api/cameras/${encodeURIComponent(cameraId)}/webrtc`,
      { method: "POST", body: { sdp: pc.localDescription.sdp, type: "offer" } });
    if (closed) { peerId = answer.id; await hangUp(); return; }
    peerId = answer.id;
    await pc.setRemoteDescription({ sdp: answer.sdp, type: answer.type });
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no video frame")), WEBRTC_TIMEOUT_MS);
      timers.push(timer);
      video.requestVideoFrameCallback(() => {
        clearTimeout(timer);
        el.dataset.ttff = String(Math.round(performance.now() - started));
        resolve();
      });
      pc.addEventListener("connectionstatechange", () => {
        if (pc && pc.connectionState === "failed") { clearTimeout(timer); reject(new Error("ICE failed")); }
      });
    });
    setMode("webrtc");
    video.play().catch(() => null);
    pc.addEventListener("connectionstatechange", () => {
      if (!closed && pc && ["failed", "disconnected"].includes(pc.connectionState)) { hangUp().then(mjpeg); }
    });
  }

  async function overlay() {
    if (closed || document.hidden) return;
    const data = await api(`/api/cameras/${encodeURIComponent(cameraId)}/detections`).catch(() => null);
    const ctx = canvas.getContext("2d");
    if (!data || !data.frame_size) { ctx.clearRect(0, 0, canvas.width, canvas.height); return; }
    const [w, hgt] = data.frame_size;
    if (canvas.width !== w || canvas.height !== hgt) { canvas.width = w; canvas.height = hgt; }
    ctx.clearRect(0, 0, w, hgt);
    const fresh = Date.now() / 1000 - data.captured_at < BOX_MAX_AGE_S;
    el.dataset.boxes = String(fresh ? data.boxes.length : 0);
    if (!fresh) return;
    ctx.lineWidth = Math.max(2, w / 320);
    ctx.font = `${Math.max(12, Math.round(w / 40))}px sans-serif`;
    for (const b of data.boxes) {
      const [x1, y1, x2, y2] = b.xyxy;
      ctx.strokeStyle = b.label === "person" ? "#3fa9f5" : "#ff4d2e";
      ctx.fillStyle = ctx.strokeStyle;
      ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
      ctx.fillText(`${b.label} ${Math.round(b.score * 100)}%`, x1 + 3, Math.max(12, y1 - 4));
    }
  }

  setMode("connecting");
  webrtc().catch(async (e) => {
    console.warn(`camera ${cameraId}: WebRTC failed (${e.message}); MJPEG instead`);
    await hangUp();
    if (!closed) { video.srcObject = null; mjpeg(); }
  });
  timers.push(setInterval(overlay, OVERLAY_MS));

  return {
    el,
    setHealth(c) {
      if (!c) return;
      badge.className = `live-badge health-${c.state}`;
      const age = c.last_frame_age_s === null || c.last_frame_age_s === undefined ? "—" : `${c.last_frame_age_s.toFixed(1)}s`;
      badge.textContent = `${t(`video.state.${c.state}`)} · ${(c.fps_in ?? 0).toFixed(1)} fps · ${t("video.age", { age })}`;
    },
    close() {
      if (closed) return;
      closed = true;
      window.__sharpeyes.live.closed += 1;
      for (const x of timers) { clearTimeout(x); clearInterval(x); }
      if (refresh) clearInterval(refresh);
      img.removeAttribute("src");  // ends the MJPEG response
      video.srcObject = null;
      hangUp();
    },
  };
}

/** Fill `el` with live views of `cameras` for `incident`; returns a function that tears them down. */
export function mountLinkedVideo(el, cameras, incident) {
  // Cameras by name: the incident's place names its linked cameras, and a camera incident its source.
  const place = incident?.place || {};
  const names = Object.fromEntries((place.cameras || []).map((c) => [c.id, c.name]));
  if (incident?.source_kind === "camera" && place.source_name) names[incident.source_id] = place.source_name;
  el.dataset.cameras = cameras.join(",");
  if (!cameras.length) {
    replace(el, h("p", { class: "muted" }, t("detail.no_cameras")));
    return () => replace(el);
  }
  const views = cameras.map((c) => liveView(c, { pin: true, name: names[c] }));
  replace(el, h("div", { class: "live-grid" }, views.map((v) => v.el)));
  return () => { for (const v of views) v.close(); replace(el); };
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
