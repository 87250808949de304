// Documents: upload by drag-and-drop, the file picker or the chat box's 📎, one request per file so each
// shows its own progress and result (added / updated / unchanged / failed with the reason); the list with
// titles and readers; delete with confirmation.
"use strict";
import { $, api, headers } from "./api.js";
import { openPanel } from "./panels.js";
import { displayName, forgetDocuments } from "./sources.js";

let onChange = () => {};
export function onDocumentsChanged(fn) { onChange = fn; }

export const currentKb = () => $("kb").value.trim() || "default";
export function setKb(name) { if (name && name !== currentKb()) { $("kb").value = name; loadDocs(); } }

const LABEL = { added: "Added", updated: "Updated", unchanged: "Unchanged (already up to date)", failed: "Failed", skipped: "Failed",
  quarantined: "Quarantined (not indexed)" };

// what the document guards kept out of the index (issue 14): "2 passages kept out (instructions to the assistant)"
function flaggedNote(flagged) {
  if (!flagged || !flagged.length) return "";
  const why = [...new Set(flagged.map((f) => f.reason || f.category).filter(Boolean))].slice(0, 3).join("; ");
  return ` — ${flagged.length} passage${flagged.length > 1 ? "s" : ""} kept out by the guards${why ? ` (${why})` : ""}`;
}

function readers(d) {
  const p = d.principals || [];
  if (!p.length || p.includes("*")) return "Readable by everyone";
  return `Readable by ${p.join(", ")}`;
}

export async function loadDocs() {
  const kb = currentKb();
  const ul = $("docs");
  try {
    const { data } = await api(`/v1/kb/${encodeURIComponent(kb)}/documents`);
    if (kb !== currentKb()) return; // the knowledge base changed meanwhile
    ul.replaceChildren(...data.map((d) => docItem(kb, d)));
    $("docs-status").textContent = data.length ? `${data.length} document${data.length > 1 ? "s" : ""} in “${kb}”` : `No documents in “${kb}” yet.`;
  } catch (e) {
    ul.replaceChildren();
    $("docs-status").textContent = e.status === 404 ? `“${kb}” is new: add files to create it.` : e.message;
  }
}

function docItem(kb, d) {
  const li = document.createElement("li");
  const id = d.doc_id || d.id;
  const name = displayName(d);
  const text = document.createElement("div");
  const title = document.createElement("strong");
  title.textContent = name;
  const sub = document.createElement("span");
  sub.className = "muted small";
  sub.textContent = `${readers(d)}${d.n_chunks ? ` · ${d.n_chunks} passages` : ""}`;
  text.append(title, document.createElement("br"), sub);
  const del = document.createElement("button");
  del.type = "button";
  del.className = "small-btn";
  del.textContent = "Delete";
  del.setAttribute("aria-label", `Delete ${name}`);
  del.addEventListener("click", () => {
    const yes = document.createElement("button");
    yes.type = "button"; yes.className = "danger small-btn"; yes.textContent = `Delete ${name}`;
    const no = document.createElement("button");
    no.type = "button"; no.className = "small-btn"; no.textContent = "Keep";
    const q = document.createElement("span");
    q.className = "confirm";
    q.append("Delete it from the knowledge base? ", yes, no);
    del.replaceWith(q);
    no.focus();
    no.addEventListener("click", () => loadDocs());
    yes.addEventListener("click", async () => {
      try {
        await api(`/v1/kb/${encodeURIComponent(kb)}/documents/${encodeURIComponent(id)}`, { method: "DELETE" });
        $("docs-status").textContent = `Deleted ${name}.`;
        forgetDocuments();
      } catch (e) { $("docs-status").textContent = e.message; }
      await loadDocs();
      onChange(kb);
    });
  });
  li.append(text, del);
  return li;
}

function uploadOne(kb, file, row) {
  return new Promise((resolve) => {
    const bar = row.querySelector("progress");
    const out = row.querySelector(".result");
    const form = new FormData();
    form.append("files", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/v1/kb/${encodeURIComponent(kb)}/documents`);
    for (const [k, v] of Object.entries(headers())) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = Math.round((90 * e.loaded) / e.total); };
    xhr.upload.onload = () => { out.textContent = "Reading and indexing…"; };
    const finish = (status, reason) => {
      bar.value = 100;
      row.dataset.status = status;
      out.textContent = LABEL[status] + (reason ? `: ${reason}` : "");
      resolve(status);
    };
    xhr.onload = () => {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
      const files = (body.report && body.report.files) || [];  // per-file results, also on a 207 / 422
      if (!files.length && xhr.status >= 400) return finish("failed", (body.error && body.error.message) || `HTTP ${xhr.status}`);
      if (!files.length) return finish("failed", "the server did not report this file");
      const r = files[0];
      const status = r.status in LABEL ? r.status : "failed";
      finish(status, r.reason || "");
      if (status !== "quarantined") out.textContent += flaggedNote(r.flagged);
    };
    xhr.onerror = () => finish("failed", "the server could not be reached");
    xhr.send(form);
  });
}

export async function upload(files, kb = currentKb()) {
  openPanel("docs");
  if (kb !== currentKb()) { $("kb").value = kb; }
  const rows = [...files].map((f) => {
    const li = document.createElement("li");
    li.className = "upload";
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = f.name;
    const bar = document.createElement("progress");
    bar.max = 100; bar.value = 0;
    bar.setAttribute("aria-label", `Uploading ${f.name}`);
    const out = document.createElement("span");
    out.className = "result";
    out.setAttribute("role", "status");
    out.textContent = "Uploading…";
    li.append(name, bar, out);
    $("uploads").prepend(li);
    return li;
  });
  const results = [];
  for (let i = 0; i < rows.length; i++) results.push(await uploadOne(kb, files[i], rows[i]));
  forgetDocuments();
  await loadDocs();
  onChange(kb, results);
  return results;
}

export async function loadKbNames() {
  try {
    const { data } = await api("/v1/kb");
    $("kb-names").replaceChildren(...data.map((k) => { const o = document.createElement("option"); o.value = k.name; return o; }));
    return data.map((k) => k.name);
  } catch (e) { return []; }
}

export function initDocs() {
  const zone = $("dropzone");
  zone.addEventListener("click", () => $("files").click());
  zone.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); $("files").click(); } });
  $("files").addEventListener("change", () => { if ($("files").files.length) upload([...$("files").files]); $("files").value = ""; });
  $("kb").addEventListener("change", loadDocs);
  for (const target of [zone, document.querySelector(".main")]) {
    target.addEventListener("dragover", (e) => {
      if (![...e.dataTransfer.types].includes("Files")) return;
      e.preventDefault();
      document.body.classList.add("dragging");
    });
    target.addEventListener("dragleave", (e) => { if (!target.contains(e.relatedTarget)) document.body.classList.remove("dragging"); });
    target.addEventListener("drop", (e) => {
      if (!e.dataTransfer.files.length) return;
      e.preventDefault();
      document.body.classList.remove("dragging");
      upload([...e.dataTransfer.files]);
    });
  }
}
