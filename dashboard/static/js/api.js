// fetch() with the session cookie and the CSRF header on writes; a lost session goes back to sign-in.
// Errors carry the server's code and parameters; `message` is already in the reader's language.

import { t, tv } from "./i18n.js";

let csrf = null;
export function setCsrf(token) { csrf = token; }

export class ApiError extends Error {
  constructor(status, code, params = {}, detail = "") {
    super(errorText(status, code, params));
    this.status = status;
    this.code = code;
    this.params = params;
    this.detail = detail;  // the server's English text, for the console only
  }
}

function errorText(status, code, params) {
  const known = `err.${code}`;
  if (t(known) !== known) return t(known, { ...params, state: params.state ? tv("state", params.state) : "" });
  return t("err.http", { status });
}

function codeOf(status, data) {
  if (typeof data.code === "string") return data.code;
  if (status === 403) return "forbidden";
  if (status === 422) return "invalid_request";
  if (status === 404) return "not_found";
  return "http";
}

export async function api(path, { method = "GET", body, allow404 = false } = {}) {
  const headers = { accept: "application/json" };
  if (method !== "GET") {
    headers["content-type"] = "application/json";
    if (csrf) headers["x-csrf-token"] = csrf;
  }
  let res;
  try {
    res = await fetch(path, {
      method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, "network", {}, String(e));
  }
  if (res.status === 401) { window.location.assign("/login"); throw new ApiError(401, "signed_out"); }
  if (allow404 && res.status === 404) return null;
  if (res.status === 204) return null;
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const detail = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail ?? res.statusText);
    throw new ApiError(res.status, codeOf(res.status, data), data.params || {}, detail);
  }
  return data;
}
