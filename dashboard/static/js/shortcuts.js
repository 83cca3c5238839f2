// Keyboard shortcuts (issue 14, item 10): j/k or ↓/↑ move through the queue, a acknowledges, v opens the
// linked video, ? shows the help. Never while typing in a field, never with Ctrl/Alt/Meta.

import { t } from "./i18n.js";
import { h, replace } from "./dom.js";
import { store, select, subscribe } from "./store.js";
import { visible } from "./queue.js";

const KEYS = [["j / ↓", "keys.next"], ["k / ↑", "keys.prev"], ["a", "keys.ack"], ["v", "keys.video"], ["?", "keys.help"]];
let help = null;

function typing(el) { return el && (["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName) || el.isContentEditable); }

function move(step) {
  const ids = visible().map((i) => i.id);
  if (!ids.length) return;
  const at = ids.indexOf(store.selected);
  const next = ids[at < 0 ? (step > 0 ? 0 : ids.length - 1) : Math.min(ids.length - 1, Math.max(0, at + step))];
  select(next);
  requestAnimationFrame(() => {
    const tr = document.querySelector(`#queue tr.incident[data-id="${next}"]`);
    tr?.focus();
    tr?.scrollIntoView({ block: "nearest" });
  });
}

function openVideo() {
  const section = document.querySelector("#linked-video");
  if (!section || section.closest("[hidden]")) return;
  section.tabIndex = -1;
  section.scrollIntoView({ block: "center" });
  section.focus();
}

function renderHelp() {
  replace(help, h("h2", {}, t("keys.title")),
    h("dl", { class: "kv" }, KEYS.map(([k, label]) => [h("dt", {}, h("kbd", {}, k)), h("dd", {}, t(label))])),
    h("button", { type: "button", onclick: () => toggleHelp(false) }, t("keys.close")));
}

function toggleHelp(show = help.hidden) {
  help.hidden = !show;
  if (show) { renderHelp(); help.querySelector("button").focus(); }
}

function onKey(e) {
  if (e.ctrlKey || e.altKey || e.metaKey || typing(e.target)) return;
  if (e.key === "Escape" && !help.hidden) { toggleHelp(false); return; }
  if (e.key === "?") { e.preventDefault(); toggleHelp(); return; }
  if (document.querySelector("#view-queue").hidden) return;
  if (e.key === "j" || e.key === "ArrowDown") { e.preventDefault(); move(1); }
  else if (e.key === "k" || e.key === "ArrowUp") { e.preventDefault(); move(-1); }
  else if (e.key === "a") document.querySelector("#detail button[data-action='acknowledge']")?.click();
  else if (e.key === "v") openVideo();
}

export function initShortcuts() {
  help = h("div", { class: "help-dialog", id: "shortcut-help", role: "dialog", "aria-modal": "true", hidden: true });
  document.body.append(help);
  document.addEventListener("keydown", onKey);
  subscribe((reason) => { if (reason === "lang" && !help.hidden) renderHelp(); });
}
