// genloom web UI: chat (streamed over SSE from /v1/chat/completions), citations as chips, KB upload + documents.
"use strict";
const $ = (id) => document.getElementById(id);
let history = [];  // the conversation, as OpenAI messages

function headers(extra = {}) {
  const key = $("key").value.trim() || localStorage.getItem("genloom-key") || "";
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

async function api(path, options = {}) {
  const res = await fetch(path, { ...options, headers: headers(options.headers || {}) });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error ? body.error.message : `HTTP ${res.status}`);
  return body;
}

async function loadModels() {
  const sel = $("model");
  const keep = sel.value;
  try {
    const { data } = await api("/v1/models");
    sel.innerHTML = "";
    for (const m of data) {
      const o = document.createElement("option");
      o.value = m.id;
      o.textContent = m.id.startsWith("rag:") ? `${m.id} (grounded answers)` : m.id;
      sel.appendChild(o);
    }
    if ([...sel.options].some((o) => o.value === keep)) sel.value = keep;
  } catch (e) { status(e.message); }
}

function addMessage(role, text = "") {
  const div = document.createElement("div");
  div.className = `msg ${role}`;
  div.textContent = text;
  $("log").appendChild(div);
  $("log").scrollTop = $("log").scrollHeight;
  return div;
}

// Replace [n] markers with chips that open the cited span.
function renderCited(div, text, citations) {
  const byN = new Map(citations.map((c) => [c.n, c]));
  div.textContent = "";
  let last = 0;
  for (const m of text.matchAll(/\[(\d+)\]/g)) {
    div.appendChild(document.createTextNode(text.slice(last, m.index)));
    const c = byN.get(Number(m[1]));
    if (c) {
      const chip = document.createElement("button");
      chip.type = "button";
      chip.className = "chip";
      chip.textContent = m[1];
      chip.title = c.source;
      chip.addEventListener("click", () => showSource(c, chip));
      div.appendChild(chip);
    } else {
      div.appendChild(document.createTextNode(m[0]));
    }
    last = m.index + m[0].length;
  }
  div.appendChild(document.createTextNode(text.slice(last)));
}

function showSource(c, chip) {
  document.querySelectorAll(".chip.active").forEach((x) => x.classList.remove("active"));
  chip.classList.add("active");
  $("source-n").textContent = `[${c.n}]`;
  const where = (c.heading_path || []).join(" › ");
  $("source-where").textContent = `${c.source}${where ? " › " + where : ""} (chars ${c.start}–${c.end})`;
  $("source-quote").textContent = c.quote;
  $("source").hidden = false;
}

async function send(text) {
  history.push({ role: "user", content: text });
  addMessage("user", text);
  const div = addMessage("assistant");
  $("send").disabled = true;
  let content = "", citations = [], refused = false;
  try {
    const res = await fetch("/v1/chat/completions", {
      method: "POST",
      headers: headers({ "Content-Type": "application/json" }),
      body: JSON.stringify({ model: $("model").value, messages: history, stream: true }),
    });
    if (!res.ok) {
      const body = await res.json().catch(() => ({}));
      throw new Error(body.error ? body.error.message : `HTTP ${res.status}`);
    }
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buf.indexOf("\n\n")) >= 0) {
        const line = buf.slice(0, cut).trim();
        buf = buf.slice(cut + 2);
        if (!line.startsWith("data:")) continue;
        const data = line.slice(5).trim();
        if (data === "[DONE]") continue;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message);
        const delta = (chunk.choices[0] || {}).delta || {};
        if (delta.content) { content += delta.content; div.textContent = content; }
        if (delta.citations) citations = delta.citations;
        if (delta.refused) refused = true;
        $("log").scrollTop = $("log").scrollHeight;
      }
    }
    if (refused) div.classList.add("refusal");
    else if (citations.length) renderCited(div, content, citations);
    history.push({ role: "assistant", content });
  } catch (e) {
    div.classList.add("error");
    div.textContent = e.message;
    history.pop();
  } finally {
    $("send").disabled = false;
  }
}

function status(text) { $("upload-status").textContent = text; }
function docsStatus(text) { $("docs-status").textContent = text; }

async function loadDocs() {
  const kb = $("kb").value.trim() || "default";
  const ul = $("docs");
  try {
    const { data } = await api(`/v1/kb/${encodeURIComponent(kb)}/documents`);
    if (kb !== ($("kb").value.trim() || "default")) return;  // the KB changed meanwhile
    ul.innerHTML = "";
    for (const d of data) {
      const id = d.doc_id || d.id;
      const li = document.createElement("li");
      const name = document.createElement("span");
      name.textContent = d.title || d.source || id;
      name.title = d.source || id;
      const del = document.createElement("button");
      del.type = "button";
      del.textContent = "Delete";
      del.addEventListener("click", async () => {
        try {
          await api(`/v1/kb/${encodeURIComponent(kb)}/documents/${encodeURIComponent(id)}`, { method: "DELETE" });
          docsStatus(`deleted ${name.textContent}`);
        } catch (e) { docsStatus(e.message); }
        loadDocs();
      });
      li.append(name, del);
      ul.appendChild(li);
    }
    if (!data.length) docsStatus(`no documents in ${kb} yet`);
    else docsStatus(`${data.length} document(s) in ${kb}`);
  } catch (e) { ul.innerHTML = ""; docsStatus(e.message); }
}

function upload(files) {
  const kb = $("kb").value.trim() || "default";
  const form = new FormData();
  for (const f of files) form.append("files", f, f.name);
  const xhr = new XMLHttpRequest();
  xhr.open("POST", `/v1/kb/${encodeURIComponent(kb)}/documents`);
  for (const [k, v] of Object.entries(headers())) xhr.setRequestHeader(k, v);
  const bar = $("progress");
  bar.hidden = false; bar.value = 0;
  xhr.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = (100 * e.loaded) / e.total; };
  status("uploading…");
  xhr.onload = () => {
    bar.value = 100;
    let body = {};
    try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
    if (xhr.status >= 400) status(body.error ? body.error.message : `HTTP ${xhr.status}`);
    else status(`added ${files.length} file(s) to ${kb}`);
    loadDocs(); loadModels();
  };
  xhr.onerror = () => status("upload failed: the server could not be reached");
  xhr.send(form);
}

async function init() {
  const cfg = await fetch("/v1/config").then((r) => r.json()).catch(() => ({}));
  if (cfg.auth) {
    $("key-label").hidden = false;
    $("key").value = localStorage.getItem("genloom-key") || "";
    $("key").addEventListener("change", () => {
      localStorage.setItem("genloom-key", $("key").value.trim());
      loadModels(); loadDocs();
    });
  }
  $("ask").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("prompt").value.trim();
    if (!text) return;
    $("prompt").value = "";
    send(text);
  });
  $("prompt").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("ask").requestSubmit(); }
  });
  $("reset").addEventListener("click", () => { history = []; $("log").innerHTML = ""; $("source").hidden = true; });
  $("source-close").addEventListener("click", () => { $("source").hidden = true; });
  $("upload").addEventListener("submit", (e) => {
    e.preventDefault();
    if ($("files").files.length) upload([...$("files").files]);
  });
  $("kb").addEventListener("change", loadDocs);
  await loadModels();
  await loadDocs();
  document.body.dataset.ready = "1";
}

init();
