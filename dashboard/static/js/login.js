// Sign-in: POST /auth/login as JSON (a cross-site form cannot send that), then on to the operator page.

import { t, applyI18n, setLang, getLang, LANGS } from "./i18n.js";
import { h, replace } from "./dom.js";

const form = document.querySelector("#login");
const error = document.querySelector("#login-error");
const lang = document.querySelector("#lang");

replace(lang, LANGS.map(([code, label]) => h("option", { value: code, selected: code === getLang() }, label)));
lang.onchange = () => setLang(lang.value);
applyI18n();

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  error.hidden = true;
  // Sign-in is a click: the one moment a browser lets the page ask for alarm notifications.
  if ("Notification" in window && Notification.permission === "default") Notification.requestPermission().catch(() => {});
  const body = { username: form.username.value.trim(), password: form.password.value };
  const res = await fetch("/auth/login", {
    method: "POST", credentials: "same-origin",
    headers: { "content-type": "application/json", accept: "application/json" }, body: JSON.stringify(body),
  }).catch(() => null);
  if (res && res.ok) { window.location.assign("/ui/"); return; }
  const key = !res ? "login.error" : res.status === 401 ? "login.invalid" : res.status === 423 ? "login.locked" : res.status === 429 ? "login.rate" : "login.error";
  error.textContent = t(key);
  error.hidden = false;
  form.password.value = "";
  form.password.focus();
});
