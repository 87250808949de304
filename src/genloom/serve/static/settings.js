// Chat settings, remembered per user on the server (/v1/preferences): what answers come from (a model, or a
// knowledge base = grounded answers through rag:<kb>, one control), temperature, max tokens, system prompt,
// answer mode.
"use strict";
import { $, api, json } from "./api.js";

const DEFAULTS = { model: null, temperature: 0.7, max_tokens: 256, system_prompt: "", rag_mode: "auto" };
let prefs = { ...DEFAULTS };
let saveTimer = null;
let onModel = () => {};

export const settings = () => ({ ...prefs, model: $("model").value || prefs.model });
export function onModelChange(fn) { onModel = fn; }

function status(text) { $("settings-status").textContent = text; }

function save() {
  clearTimeout(saveTimer);
  saveTimer = setTimeout(async () => {
    const body = { ...prefs, model: $("model").value || null, system_prompt: prefs.system_prompt || null };
    try { await api("/v1/preferences", json("PUT", body)); status("Saved."); } catch (e) { status(`Not saved: ${e.message}`); }
  }, 300);
}

export async function loadPreferences() {
  try { prefs = { ...DEFAULTS, ...(await api("/v1/preferences")) }; } catch (e) { prefs = { ...DEFAULTS }; }
  $("temperature").value = prefs.temperature;
  $("temperature-out").textContent = String(prefs.temperature);
  $("max_tokens").value = prefs.max_tokens;
  $("system_prompt").value = prefs.system_prompt || "";
  for (const r of document.querySelectorAll("input[name=rag_mode]")) r.checked = r.value === prefs.rag_mode;
}

// Fill the "Answer from" control: knowledge bases first (grounded answers), then the plain models.
export async function loadModels(select = null) {
  const sel = $("model");
  const keep = select || sel.value || prefs.model;
  const { data } = await api("/v1/models");
  sel.textContent = "";
  const kbs = document.createElement("optgroup");
  kbs.label = "Your documents (answers with sources)";
  const plain = document.createElement("optgroup");
  plain.label = "Model only (no documents)";
  for (const m of data) {
    const o = document.createElement("option");
    o.value = m.id;
    o.textContent = m.id.startsWith("rag:") ? `${m.id.slice(4)} (documents)` : m.id;
    (m.id.startsWith("rag:") ? kbs : plain).appendChild(o);
  }
  if (kbs.children.length) sel.appendChild(kbs);
  if (plain.children.length) sel.appendChild(plain);
  if ([...sel.options].some((o) => o.value === keep)) sel.value = keep;
  else if (kbs.children.length) sel.value = kbs.children[0].value;
  document.body.dataset.grounded = sel.value.startsWith("rag:") ? "1" : "0";
  return data.map((m) => m.id);
}

export function initSettings() {
  $("model").addEventListener("change", () => {
    prefs.model = $("model").value;
    document.body.dataset.grounded = prefs.model.startsWith("rag:") ? "1" : "0";
    save();
    onModel(prefs.model);
  });
  $("temperature").addEventListener("input", () => {
    prefs.temperature = Number($("temperature").value);
    $("temperature-out").textContent = String(prefs.temperature);
    save();
  });
  $("max_tokens").addEventListener("change", () => {
    const n = Math.round(Number($("max_tokens").value));
    if (!(n >= 1)) { status("Max tokens must be a whole number of at least 1."); return; }
    prefs.max_tokens = n;
    save();
  });
  $("system_prompt").addEventListener("change", () => { prefs.system_prompt = $("system_prompt").value; save(); });
  for (const r of document.querySelectorAll("input[name=rag_mode]")) {
    r.addEventListener("change", () => { if (r.checked) { prefs.rag_mode = r.value; save(); } });
  }
}
