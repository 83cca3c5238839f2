// Server push: one EventSource on /api/events. After any reconnect the caller reloads its lists, so an
// event missed while disconnected is never missed on screen. No polling.

import { api } from "./api.js";

export function connectLive({ onIncident, onViewers, onOpen, onStatus }) {
  let es = null;
  let retry = null;
  const open = () => {
    es = new EventSource("/api/events", { withCredentials: true });
    es.addEventListener("incident", (e) => onIncident(JSON.parse(e.data)));
    es.addEventListener("viewers", (e) => onViewers?.(JSON.parse(e.data)));  // who else has an incident open
    // The server lost changes it would have pushed (its relay to other processes reconnected): reload.
    es.addEventListener("resync", () => onOpen());
    es.onopen = () => { onStatus("live"); onOpen(); };
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) {  // the server refused: signed out, or it is down
        onStatus("offline");
        clearTimeout(retry);
        retry = setTimeout(async () => { await api("/auth/me").catch(() => null); open(); }, 2000);
      } else {
        onStatus("reconnecting");
      }
    };
  };
  open();
  return () => { clearTimeout(retry); es?.close(); };
}
