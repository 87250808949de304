// The conversation: turns (user / assistant), sending with Stop, Regenerate, edit-and-resend of the last
// question, feedback, and saving every turn server-side (/v1/conversations) so a reload restores it.
"use strict";
import { $, api, json, streamChat, showBanner, ApiError } from "./api.js";
import { Markdown, copyText } from "./render.js";
import { settings } from "./settings.js";
import { showSource, getDocument, displayName, headingPath } from "./sources.js";
import { openPanel } from "./panels.js";
import { icon } from "./icons.js";

export const conv = { id: null, messages: [] }; // messages: {role, content, meta}
let running = null; // {controller} while an answer is being generated
let onSaved = () => {};

export function onConversationSaved(fn) { onSaved = fn; }
export const busy = () => running !== null;

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}

// Keep the newest text in view unless the reader scrolled up to read something else; returns whether it did.
function scrollDown(force = false) {
  const log = $("log");
  const near = log.scrollHeight - log.scrollTop - log.clientHeight < 120;
  if (force || near) log.scrollTop = log.scrollHeight;
  return force || near;
}

export function updateWelcome() {
  $("welcome").hidden = conv.messages.length > 0;
  $("log").hidden = conv.messages.length === 0;
}

// -- rendering -------------------------------------------------------------------------------------------
export function render() {
  $("log").textContent = "";
  conv.messages.forEach((m, i) => $("log").appendChild(m.role === "user" ? userTurn(m, i) : assistantTurn(m, i).node));
  updateWelcome();
  markLast();
  scrollDown(true);
}

function lastIndex(role) {
  for (let i = conv.messages.length - 1; i >= 0; i--) if (conv.messages[i].role === role) return i;
  return -1;
}

// Only the last question can be edited and only the last answer regenerated.
function markLast() {
  const lu = lastIndex("user"), la = lastIndex("assistant");
  for (const t of $("log").querySelectorAll(".turn")) {
    const i = Number(t.dataset.index);
    const edit = t.querySelector(".edit"), regen = t.querySelector(".regen");
    if (edit) edit.hidden = i !== lu || busy();
    if (regen) regen.hidden = i !== la || la < lu || busy();
  }
  const orphan = lu >= 0 && lu > la && !busy(); // a question without a saved answer
  let again = $("answer-again");
  if (orphan && !again) {
    again = el("p", { id: "answer-again", class: "notice" }, "No answer was saved for this question. ",
      el("button", { type: "button", onclick: () => regenerate() }, "Answer it"));
    $("log").appendChild(again);
  } else if (!orphan && again) again.remove();
}

function userTurn(m, i) {
  const body = el("div", { class: "body" });
  body.textContent = m.content;
  const edit = el("button", { type: "button", class: "edit small-btn", "aria-label": "Edit your question" }, "Edit");
  const node = el("article", { class: "turn user", "aria-label": "You", "data-index": i }, body,
    el("div", { class: "actions" }, edit));
  edit.addEventListener("click", () => startEdit(node, m, i));
  return node;
}

function startEdit(node, m, i) {
  const box = el("textarea", { class: "edit-box", "aria-label": "Edit your question", rows: "3" });
  box.value = m.content;
  const save = el("button", { type: "button", class: "primary" }, "Send");
  const cancel = el("button", { type: "button" }, "Cancel");
  const form = el("div", { class: "edit-form" }, box, el("div", { class: "actions" }, save, cancel));
  node.replaceWith(form);
  box.focus();
  const back = () => { form.replaceWith(node); node.querySelector(".edit").focus(); };
  cancel.addEventListener("click", back);
  box.addEventListener("keydown", (e) => {
    if (e.key === "Escape") { e.preventDefault(); back(); }
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); save.click(); }
  });
  save.addEventListener("click", () => {
    const text = box.value.trim();
    if (!text) return;
    form.remove();
    send(text, i);
  });
}

function notice(text, ...extra) { return el("p", { class: "notice" }, text, ...extra); }

// An assistant turn; returns {node, md, status, ...} so a live answer can be updated in place.
function assistantTurn(m, i, live = false) {
  const meta = m.meta || {};
  const status = el("p", { class: "status", role: "status" });
  const body = el("div", { class: "body markdown" });
  const notes = el("div", { class: "notes" });
  const sources = el("ol", { class: "sources", "aria-label": "Sources" });
  const actions = el("div", { class: "actions" });
  const node = el("article", { class: "turn assistant", "aria-label": "Assistant", "data-index": i },
    status, body, sources, notes, actions);
  const md = new Markdown(body);
  const t = { node, md, status, body, notes, sources, actions, meta };
  if (!live) finishTurn(t, m);
  return t;
}

function finishTurn(t, m) {
  const meta = m.meta || {};
  t.status.textContent = "";
  t.status.hidden = true;
  t.node.dataset.done = "1"; // finished (tests and assistive tools can tell a live answer from a done one)
  t.node.classList.toggle("refusal", !!meta.refused);
  t.md.finish(m.content, meta.citations || [], (c, chip) => showSource(meta.kb, c, chip));
  fillSources(t, meta);
  t.notes.textContent = "";
  const dropped = (meta.claims || []).filter((c) => !c.supported);
  if (dropped.length) {
    const d = el("details", { class: "dropped" },
      el("summary", {}, `${dropped.length} statement${dropped.length > 1 ? "s were" : " was"} removed: not supported by your documents`),
      el("ul", {}, ...dropped.map((c) => el("li", {}, c.text))));
    t.notes.appendChild(d);
  }
  if (meta.refused) {
    const q = meta.query ? `“${meta.query}”` : "your question";
    t.notes.appendChild(notice(`Searched knowledge base “${meta.kb}” for ${q}. Try other words from your documents, or add a document that covers it. `,
      el("button", { type: "button", onclick: (e) => openPanel("docs", e.currentTarget) }, "Add documents")));
  }
  if (meta.finish_reason === "length") {
    t.notes.appendChild(notice(`The answer was cut off at the token limit (${meta.max_tokens || "max"} tokens). `,
      el("button", { type: "button", onclick: (e) => openPanel("settings", e.currentTarget) }, "Raise max tokens")));
  }
  if (meta.stopped) t.notes.appendChild(notice("You stopped this answer."));
  if (meta.lost) {
    t.notes.appendChild(notice("The connection was lost, so this answer is incomplete. ",
      el("button", { type: "button", class: "retry", onclick: () => regenerate() }, "Retry")));
  }
  if (meta.error) {
    t.notes.appendChild(notice(meta.error, " ", el("button", { type: "button", class: "retry", onclick: () => regenerate() }, "Retry")));
    t.node.classList.add("error");
  }
  t.actions.textContent = "";
  if (m.content && !meta.error) {
    const copy = el("button", { type: "button", class: "small-btn", "aria-label": "Copy the answer" }, "Copy");
    copy.addEventListener("click", () => copyText(m.content, copy));
    t.actions.appendChild(copy);
  }
  t.actions.appendChild(el("button", { type: "button", class: "regen small-btn", onclick: () => regenerate() }, "Regenerate"));
  if (meta.id && !meta.error) t.actions.appendChild(feedback(m));
  if (meta.model) t.actions.appendChild(el("span", { class: "muted small model-tag" }, meta.model));
}

async function fillSources(t, meta) {
  t.sources.textContent = "";
  const cites = meta.citations || [];
  t.sources.hidden = !cites.length;
  for (const c of cites) {
    const label = el("span", {}, displayName(null, c));
    const where = el("span", { class: "muted" });
    const setWhere = (title) => { const p = headingPath(c, title); where.textContent = p.length ? ` › ${p.join(" › ")}` : ""; };
    setWhere(null);
    const btn = el("button", { type: "button", class: "source-item" }, el("span", { class: "n" }, `[${c.n}]`), label, where);
    btn.addEventListener("click", () => showSource(meta.kb, c, btn));
    t.sources.appendChild(el("li", {}, btn));
    getDocument(meta.kb, c.doc_id).then((d) => {
      label.textContent = displayName(d, c);
      setWhere(label.textContent);
      const chip = t.body.querySelector(`.chip[data-n="${c.n}"]`);
      if (chip) chip.setAttribute("aria-label", `Source ${c.n}: ${label.textContent}`);
    }).catch(() => {});
  }
}

function feedback(m) {
  const meta = m.meta;
  const box = el("span", { class: "feedback" });
  const up = el("button", { type: "button", class: "small-btn thumb", "aria-label": "Good answer", "aria-pressed": String(meta.rating === "up") }, icon("up"));
  const down = el("button", { type: "button", class: "small-btn thumb", "aria-label": "Bad answer", "aria-pressed": String(meta.rating === "down") }, icon("down"));
  const form = el("form", { class: "comment", hidden: "" });
  const input = el("input", { type: "text", "aria-label": "What was good or bad about it? (optional)", placeholder: "What was good or bad? (optional)" });
  const sendC = el("button", { type: "submit", class: "small-btn" }, "Send");
  const done = el("span", { class: "muted small", role: "status" });
  form.append(input, sendC);
  box.append(up, down, form, done);
  const rate = async (rating, comment = null) => {
    try {
      await api("/v1/feedback", json("POST", { request_id: meta.id, rating, comment }));
      meta.rating = rating;
      if (comment) meta.comment = comment;
      up.setAttribute("aria-pressed", String(rating === "up"));
      down.setAttribute("aria-pressed", String(rating === "down"));
      done.textContent = comment ? "Thanks for the comment." : "Thanks!";
      saveMeta(m);
    } catch (e) { done.textContent = `Not saved: ${e.message}`; }
  };
  up.addEventListener("click", () => { rate("up"); form.hidden = false; input.focus(); });
  down.addEventListener("click", () => { rate("down"); form.hidden = false; input.focus(); });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (text && meta.rating) { rate(meta.rating, text); form.hidden = true; }
  });
  return box;
}

// -- saving ----------------------------------------------------------------------------------------------
async function save(messages, replaceFrom = null) {
  const model = settings().model;
  try {
    if (!conv.id) {
      const c = await api("/v1/conversations", json("POST", { model, messages }));
      conv.id = c.id;
      history.replaceState(null, "", `#${c.id}`);
    } else {
      await api(`/v1/conversations/${encodeURIComponent(conv.id)}/messages`,
        json("POST", { messages, model, replace_from: replaceFrom === null ? undefined : replaceFrom }));
    }
    onSaved();
    return true;
  } catch (e) {
    showBanner(`This conversation could not be saved: ${e.message}`);
    return false;
  }
}

// Questions that could not be saved (the server was unreachable) are saved before the next answer.
async function saveUnsaved() {
  const first = conv.messages.findIndex((m) => m.unsaved);
  if (first < 0) return;
  const rest = conv.messages.slice(first);
  if (await save(rest.map(({ role, content, meta }) => ({ role, content, meta })), conv.id ? first : null)) {
    for (const m of rest) delete m.unsaved;
  }
}

function saveMeta(m) {
  const i = conv.messages.indexOf(m);
  if (i >= 0 && conv.id) save(conv.messages.slice(i), i);
}

// -- sending ---------------------------------------------------------------------------------------------
function setBusy(on) {
  $("send").hidden = on;
  $("stop").hidden = !on;
  if (!on && document.activeElement === document.body) $("prompt").focus();
  markLast();
}

// Ask `text`; with `replaceFrom` the question replaces messages from that index (edit-and-resend).
export async function send(text, replaceFrom = null) {
  if (busy()) return;
  const msg = { role: "user", content: text, meta: {} };
  if (replaceFrom !== null) conv.messages.splice(replaceFrom);
  conv.messages.push(msg);
  render();
  if (!(await save([msg], replaceFrom))) msg.unsaved = true;
  await generate(conv.messages.length);
}

export async function regenerate() {
  if (busy()) return;
  const la = lastIndex("assistant"), lu = lastIndex("user");
  if (lu < 0) return;
  const at = la > lu ? la : conv.messages.length;
  conv.messages.splice(at);
  render();
  await generate(at, la > lu ? at : null); // a regenerated answer replaces the old one where it was stored
}

function requestBody(s) {
  const kb = s.model.startsWith("rag:") ? s.model.slice(4) : null;
  const history = conv.messages.filter((m) => !(m.meta && m.meta.error) && (m.content || m.role === "user"))
    .map(({ role, content }) => ({ role, content }));
  if (kb) return { kb, body: { model: s.model, messages: history, rag_mode: s.rag_mode || "auto" } };
  const messages = s.system_prompt ? [{ role: "system", content: s.system_prompt }, ...history] : history;
  return { kb, body: { model: s.model, messages, temperature: s.temperature, max_tokens: s.max_tokens } };
}

async function generate(at, replaceFrom = null) {
  if (conv.messages.some((m) => m.unsaved)) await saveUnsaved();
  const s = settings();
  if (!s.model) { showBanner("No model is available: check the server."); return; }
  const { kb, body } = requestBody(s);
  const meta = { model: s.model, kb };
  if (!kb) meta.max_tokens = s.max_tokens;
  const m = { role: "assistant", content: "", meta };
  const t = assistantTurn(m, at, true);
  $("log").appendChild(t.node);
  const again = $("answer-again");
  if (again) again.remove();
  t.status.hidden = false;
  t.status.textContent = kb ? `Searching “${kb}”…` : "Thinking…";
  t.node.classList.add("live");
  scrollDown(true);
  const controller = new AbortController();
  running = { controller };
  setBusy(true);
  let frame = 0;
  let follow = true;
  const paint = () => { frame = 0; t.md.update(m.content); follow = scrollDown(); };
  try {
    meta.finish_reason = await streamChat(body, controller.signal, (delta, chunk) => {
      if (chunk.id) meta.id = chunk.id;
      if (delta.content) {
        if (!m.content) t.status.textContent = "Writing…";
        m.content += delta.content;
        if (!frame) frame = requestAnimationFrame(paint);
      }
      if (delta.citations) meta.citations = delta.citations;
      if (delta.claims) meta.claims = delta.claims;
      if (delta.query) meta.query = delta.query;
      if (delta.refused) meta.refused = true;
    });
  } catch (e) {
    if (e.name === "AbortError") meta.stopped = true;
    else if (e instanceof ApiError && e.offline && m.content) meta.lost = true;
    else meta.error = e.message;
  } finally {
    if (frame) cancelAnimationFrame(frame);
    running = null;
    t.node.classList.remove("live");
  }
  conv.messages.splice(at, 0, m);
  follow = scrollDown() || follow;
  finishTurn(t, m);
  setBusy(false);
  scrollDown(follow);
  if (!meta.error || m.content) await save([m], replaceFrom);
}

export function stop() {
  if (running) running.controller.abort();
}

export async function openConversation(id) {
  const c = await api(`/v1/conversations/${encodeURIComponent(id)}`);
  conv.id = c.id;
  conv.messages = c.messages.map(({ role, content, meta }) => ({ role, content, meta: meta || {} }));
  render();
  return c;
}

export function newConversation() {
  stop();
  conv.id = null;
  conv.messages = [];
  history.replaceState(null, "", location.pathname);
  render();
  $("prompt").focus();
}
