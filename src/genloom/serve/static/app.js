// genloom web UI: wires the parts together. Conversations (sidebar.js, chat.js) are kept on the server;
// answers render as sanitized markdown with citations (render.js, sources.js); documents.js uploads;
// settings.js remembers choices per user; images.js appears when the server generates images.
"use strict";
import { $, apiKey, initBanner, clearBanner } from "./api.js";
import { initPanels, openPanel } from "./panels.js";
import { initSettings, loadModels, loadPreferences, onModelChange, settings } from "./settings.js";
import { send, stop, busy, onConversationSaved, updateWelcome } from "./chat.js";
import { initSidebar, loadList, openFromHash } from "./sidebar.js";
import { initDocs, loadDocs, loadKbNames, onDocumentsChanged, setKb, upload, currentKb } from "./docs.js";
import { initImages, probeImages } from "./images.js";
import { initTemplates, loadTemplates } from "./templates.js";

async function refreshModels(select = null) {
  try {
    const ids = await loadModels(select);
    const kbs = ids.filter((m) => m.startsWith("rag:")).map((m) => m.slice(4));
    $("welcome-kbs").textContent = kbs.length
      ? `Answering from “${settings().model.startsWith("rag:") ? settings().model.slice(4) : kbs[0]}”. Pick another source above.`
      : "No documents yet: add some to get answers with sources, or just chat with the model.";
    return ids;
  } catch (e) {
    $("welcome-kbs").textContent = e.message;
    return [];
  }
}

async function loadAll() {
  await loadPreferences();
  const ids = await refreshModels();
  const s = settings();
  if (s.model && s.model.startsWith("rag:")) setKb(s.model.slice(4));
  await Promise.all([loadDocs(), loadKbNames(), openFromHash(), probeImages(ids), loadTemplates()]); // openFromHash lists them
  updateWelcome();
}

function autoGrow() {
  const p = $("prompt");
  p.style.height = "auto";
  p.style.height = `${Math.min(p.scrollHeight, 200)}px`;
}

async function init() {
  initBanner();
  initPanels();
  initSettings();
  initSidebar();
  initDocs();
  initImages();
  initTemplates();
  const cfg = await fetch("/v1/config").then((r) => r.json()).catch(() => ({}));
  if (cfg.auth) {
    $("key-row").hidden = false;
    $("key").value = apiKey();
    $("key").addEventListener("change", () => {
      localStorage.setItem("genloom-key", $("key").value.trim());
      clearBanner();
      loadAll();
    });
  }
  onModelChange((model) => { if (model.startsWith("rag:")) setKb(model.slice(4)); });
  onConversationSaved(() => loadList());
  onDocumentsChanged(async (kb, results) => {
    loadKbNames();
    // documents were just added: answer from them (the user can pick another source at any time)
    const added = results && results.some((r) => r === "added" || r === "updated");
    const before = settings().model;
    await refreshModels(added ? `rag:${kb}` : null);
    if (added && settings().model !== before) {
      $("docs-status").textContent += ` Answers now come from “${kb}”.`;
      $("model").dispatchEvent(new Event("change"));
    }
  });
  document.addEventListener("genloom:online", () => loadAll());

  $("composer").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("prompt").value.trim();
    if (!text || busy()) return;
    $("prompt").value = "";
    autoGrow();
    send(text);
  });
  $("prompt").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); $("composer").requestSubmit(); }
  });
  $("prompt").addEventListener("input", autoGrow);
  $("stop").addEventListener("click", stop);
  $("attach").addEventListener("click", () => $("attach-files").click());
  $("attach-files").addEventListener("change", () => {
    const files = [...$("attach-files").files];
    $("attach-files").value = "";
    if (!files.length) return;
    const s = settings();
    upload(files, s.model && s.model.startsWith("rag:") ? s.model.slice(4) : currentKb());
  });

  if (cfg.auth && !apiKey()) {
    openPanel("settings");
    $("settings-status").textContent = "This server needs an API key: enter yours above.";
  }
  await loadAll();
  document.body.dataset.ready = "1";
}

init();
