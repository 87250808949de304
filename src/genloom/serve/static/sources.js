// Citations: the cited document's title and heading path, the quote marked inside its passage, and the whole
// document on demand, scrolled to the quote. Documents are fetched once per knowledge base and cached.
"use strict";
import { $, api } from "./api.js";
import { openPanel } from "./panels.js";
import { passage } from "./render.js";

const docs = new Map(); // "kb/doc_id" -> Promise<document with text>

export function getDocument(kb, docId) {
  const key = `${kb}/${docId}`;
  if (!docs.has(key)) {
    const p = api(`/v1/kb/${encodeURIComponent(kb)}/documents/${encodeURIComponent(docId)}`);
    p.catch(() => docs.delete(key));
    docs.set(key, p);
  }
  return docs.get(key);
}

export function forgetDocuments() { docs.clear(); }

// A source's display name: its title, else the file name (never a server path or an upload: id).
export function displayName(doc, citation) {
  if (doc && doc.title) return doc.title;
  return fileName(doc, citation) || "document";
}

// The heading path as a reader sees it: no markdown backticks, without a first heading that repeats the title.
export function headingPath(c, title = null) {
  const path = (c.heading_path || []).map((h) => h.replace(/[`*_]/g, "").trim()).filter(Boolean);
  if (title && path.length && path[0] === title) path.shift();
  return path;
}

export function fileName(doc, citation) {
  const src = (doc && doc.source) || (citation && citation.source) || "";
  return src.replace(/^upload:[^/]*\//, "").split(/[\\/]/).pop();
}

export async function showSource(kb, c, chip) {
  document.querySelectorAll(".chip.active, .source-item.active").forEach((x) => x.classList.remove("active"));
  if (chip) chip.classList.add("active");
  openPanel("source", chip);
  $("source-title").textContent = `Source [${c.n}]`;
  $("source-where").textContent = headingPath(c).join(" › ");
  $("source-passage").textContent = c.quote;
  $("doc-view").hidden = true;
  $("doc-view").textContent = "";
  $("source-full").hidden = true;
  let doc;
  try {
    doc = await getDocument(kb, c.doc_id);
  } catch (e) {
    $("source-where").textContent = `${headingPath(c).join(" › ")} (the document could not be opened: ${e.message})`;
    return;
  }
  const name = displayName(doc, c);
  $("source-title").textContent = `[${c.n}] ${name}`;
  const file = fileName(doc, c);
  const where = [...(file && file !== name ? [file] : []), ...headingPath(c, name)];
  if (doc.metadata && doc.metadata.page) where.push(`page ${doc.metadata.page}`);
  $("source-where").textContent = where.join(" › ");
  const text = doc.text || "";
  const ok = text.slice(c.start, c.end) === c.quote;
  $("source-passage").textContent = "";
  if (ok) $("source-passage").appendChild(passage(text, c.start, c.end));
  else $("source-passage").textContent = c.quote; // the document changed since: show the quote alone
  $("source-full").hidden = !text;
  $("source-full").onclick = () => showWhole(text, ok ? c : null);
}

function showWhole(text, c) {
  const view = $("doc-view");
  view.textContent = "";
  if (c) {
    view.append(text.slice(0, c.start));
    const mark = document.createElement("mark");
    mark.textContent = text.slice(c.start, c.end);
    mark.id = "doc-mark";
    view.append(mark, text.slice(c.end));
  } else {
    view.textContent = text;
  }
  view.hidden = false;
  $("source-full").hidden = true;
  const mark = $("doc-mark");
  if (mark) mark.scrollIntoView({ block: "center" });
  view.focus({ preventScroll: true });
}
