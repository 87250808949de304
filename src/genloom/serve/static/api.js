// HTTP helpers: the API key header, JSON calls with human error messages, the SSE chat stream, the banner.
"use strict";

export const $ = (id) => document.getElementById(id);

export function apiKey() {
  return localStorage.getItem("genloom-key") || "";
}

export function headers(extra = {}) {
  const key = apiKey();
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

// An error a person can act on. `offline` = the server could not be reached at all.
export class ApiError extends Error {
  constructor(message, { status = 0, offline = false } = {}) {
    super(message);
    this.status = status;
    this.offline = offline;
  }
}

export const OFFLINE_TEXT = "Can't reach the genloom server. Check that it is running; this clears itself when it is back.";

function httpError(status, body) {
  const msg = body && body.error && body.error.message;
  if (status === 401) return new ApiError("This server needs an API key: enter yours in Settings.", { status });
  if (status === 429) return new ApiError(msg || "Too many requests: wait a moment and try again.", { status });
  if (status >= 500 && !msg) return new ApiError(`The server had a problem (HTTP ${status}). Try again.`, { status });
  return new ApiError(msg || `The request failed (HTTP ${status}).`, { status });
}

export async function api(path, options = {}) {
  let res;
  try {
    res = await fetch(path, { ...options, headers: headers(options.headers || {}) });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    reportOffline();
    throw new ApiError(OFFLINE_TEXT, { offline: true });
  }
  serverBack();
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw httpError(res.status, body);
  return body;
}

export const json = (method, body) => ({
  method, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
});

// -- the banner: one human message; connection problems clear themselves when /healthz answers again ------
let polling = null;
let bannerRetry = null;

export function showBanner(text, retry = null) {
  $("banner-text").textContent = text;
  bannerRetry = retry;
  $("banner-retry").hidden = !retry;
  $("banner").hidden = false;
}

export function clearBanner() {
  $("banner").hidden = true;
  $("banner-text").textContent = "";
  bannerRetry = null;
}

export function initBanner() {
  $("banner-retry").addEventListener("click", () => { const r = bannerRetry; clearBanner(); if (r) r(); });
}

export function reportOffline() {
  if (!$("banner").hidden && $("banner").dataset.kind === "offline") return;
  showBanner(OFFLINE_TEXT);
  $("banner").dataset.kind = "offline";
  if (polling) return;
  polling = setInterval(async () => {
    try {
      const r = await fetch("/healthz", { cache: "no-store" });
      if (r.ok) serverBack();
    } catch (e) { /* still down */ }
  }, 2000);
}

function serverBack() {
  if (polling) { clearInterval(polling); polling = null; }
  if ($("banner").dataset.kind === "offline") {
    $("banner").dataset.kind = "";
    clearBanner();
    document.dispatchEvent(new Event("genloom:online"));
  }
}

// -- the chat stream -------------------------------------------------------------------------------------
// Calls on.delta(delta, chunk) for each chunk; resolves with the finish_reason. Throws ApiError (offline:
// the connection was lost, possibly mid-answer) or AbortError (Stop).
export async function streamChat(body, signal, on) {
  let res;
  try {
    res = await fetch("/v1/chat/completions", {
      method: "POST", signal, body: JSON.stringify({ ...body, stream: true }),
      headers: headers({ "Content-Type": "application/json" }),
    });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    reportOffline();
    throw new ApiError(OFFLINE_TEXT, { offline: true });
  }
  serverBack();
  if (!res.ok) throw httpError(res.status, await res.json().catch(() => ({})));
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = "", finish = null;
  for (;;) {
    let step;
    try {
      step = await reader.read();
    } catch (e) {
      if (e.name === "AbortError" || (signal && signal.aborted)) throw new DOMException("stopped", "AbortError");
      throw new ApiError("The connection was lost before the answer finished.", { offline: true });
    }
    if (step.done) break;
    buf += decoder.decode(step.value, { stream: true });
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const line = buf.slice(0, cut).trim();
      buf = buf.slice(cut + 2);
      if (!line.startsWith("data:")) continue;
      const data = line.slice(5).trim();
      if (data === "[DONE]") return finish;
      const chunk = JSON.parse(data);
      if (chunk.error) throw new ApiError(chunk.error.message || "The answer failed.", { status: 500 });
      const choice = (chunk.choices || [])[0];
      if (!choice) continue;
      if (choice.finish_reason) finish = choice.finish_reason;
      on(choice.delta || {}, chunk);
    }
  }
  if (finish === null) throw new ApiError("The connection was lost before the answer finished.", { offline: true });
  return finish;
}
