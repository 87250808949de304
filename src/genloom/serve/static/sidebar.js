// The conversation list: newest first, search, rename and delete (with confirmation), on the server.
"use strict";
import { $, api, json } from "./api.js";
import { conv, openConversation, newConversation } from "./chat.js";
import { setSidebar } from "./panels.js";
import { icon } from "./icons.js";

let searchTimer = null;

function item(c) {
  const li = document.createElement("li");
  li.className = c.id === conv.id ? "current" : "";
  const open = document.createElement("button");
  open.type = "button";
  open.className = "conv-open";
  open.textContent = c.title;
  if (c.id === conv.id) open.setAttribute("aria-current", "true");
  open.addEventListener("click", async () => {
    location.hash = c.id;
    if (window.matchMedia("(max-width: 760px)").matches) setSidebar(false);
  });
  const rename = document.createElement("button");
  rename.type = "button";
  rename.className = "icon small-btn";
  rename.appendChild(icon("pencil"));
  rename.setAttribute("aria-label", `Rename “${c.title}”`);
  rename.addEventListener("click", () => startRename(li, c));
  const del = document.createElement("button");
  del.type = "button";
  del.className = "icon small-btn";
  del.appendChild(icon("trash"));
  del.setAttribute("aria-label", `Delete “${c.title}”`);
  del.addEventListener("click", () => confirmDelete(li, c));
  li.append(open, rename, del);
  return li;
}

function startRename(li, c) {
  const input = document.createElement("input");
  input.value = c.title;
  input.setAttribute("aria-label", "New title");
  li.replaceChildren(input);
  input.focus();
  input.select();
  let done = false;
  const finish = async (keep) => {
    if (done) return;
    done = true;
    const title = input.value.trim();
    if (keep && title && title !== c.title) {
      try { await api(`/v1/conversations/${encodeURIComponent(c.id)}`, json("PATCH", { title })); } catch (e) { $("conv-status").textContent = e.message; }
    }
    await loadList();
  };
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter") { e.preventDefault(); finish(true); }
    if (e.key === "Escape") { e.preventDefault(); finish(false); }
  });
  input.addEventListener("blur", () => finish(true));
}

function confirmDelete(li, c) {
  const q = document.createElement("span");
  q.className = "confirm";
  q.textContent = `Delete “${c.title}”? `;
  const yes = document.createElement("button");
  yes.type = "button";
  yes.className = "danger small-btn";
  yes.textContent = "Delete";
  const no = document.createElement("button");
  no.type = "button";
  no.className = "small-btn";
  no.textContent = "Keep";
  q.append(yes, no);
  li.replaceChildren(q);
  no.focus();
  no.addEventListener("click", () => loadList());
  yes.addEventListener("click", async () => {
    try {
      await api(`/v1/conversations/${encodeURIComponent(c.id)}`, { method: "DELETE" });
      if (c.id === conv.id) newConversation();
    } catch (e) { $("conv-status").textContent = e.message; }
    await loadList();
  });
}

export async function loadList() {
  const q = $("conv-search").value.trim();
  try {
    const { data } = await api(`/v1/conversations${q ? `?q=${encodeURIComponent(q)}` : ""}`);
    $("conv-list").replaceChildren(...data.map(item));
    $("conv-status").textContent = data.length ? "" : q ? "No conversation matches." : "Your conversations appear here.";
  } catch (e) {
    $("conv-status").textContent = e.message;
  }
}

export async function openFromHash() {
  const id = decodeURIComponent(location.hash.slice(1));
  let note = "";
  if (!id) {
    if (conv.id) newConversation();
  } else if (id !== conv.id) {
    try {
      await openConversation(id);
    } catch (e) {
      note = e.status === 404 ? "That conversation is not available (deleted, or another key's)." : e.message;
      newConversation();
    }
  }
  await loadList();
  if (note) $("conv-status").textContent = note;
}

export function initSidebar() {
  $("new-chat").addEventListener("click", () => { newConversation(); loadList(); setSidebar(false); });
  $("conv-search").addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(loadList, 200); });
  window.addEventListener("hashchange", openFromHash);
}
