// Answers as safe HTML: markdown (marked) → sanitized (DOMPurify) → code highlighted (highlight.js), with copy
// buttons and [n] citation markers turned into buttons. While streaming, only the last markdown block is
// re-rendered: finished blocks keep their DOM nodes, so nothing above the cursor flickers or re-highlights.
"use strict";
/* global marked, DOMPurify, hljs */

marked.setOptions({ gfm: true, breaks: false });

// Links open in a new tab without giving it this window; images and form controls are dropped (an answer
// must not make the browser fetch remote images, a tracking vector, or show controls that do nothing).
DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A" && node.getAttribute("href")) {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer");
  }
});
const PURIFY = { USE_PROFILES: { html: true }, FORBID_TAGS: ["img", "style", "form", "input", "button", "textarea", "select"] };

function toHtml(tokens, links) {
  tokens.links = links;
  return DOMPurify.sanitize(marked.parser(tokens), PURIFY);
}

export async function copyText(text, button) {
  const done = (label) => { const old = button.textContent; button.textContent = label; setTimeout(() => { button.textContent = old; }, 1200); };
  try {
    await navigator.clipboard.writeText(text);
    done("Copied");
  } catch (e) {
    // not a secure context (plain http on a LAN address): fall back to a selection copy
    const ta = document.createElement("textarea");
    ta.value = text; ta.setAttribute("readonly", ""); ta.style.position = "fixed"; ta.style.opacity = "0";
    document.body.appendChild(ta); ta.select();
    const ok = document.execCommand("copy");
    ta.remove();
    done(ok ? "Copied" : "Copy failed");
  }
}

function finishCode(el) {
  for (const code of el.querySelectorAll("pre > code")) {
    if (code.dataset.done) continue;
    code.dataset.done = "1";
    try { hljs.highlightElement(code); } catch (e) { /* unknown language: leave it plain */ }
    const pre = code.parentElement;
    const btn = document.createElement("button");
    btn.type = "button";
    btn.className = "copy-code";
    btn.textContent = "Copy";
    btn.setAttribute("aria-label", "Copy code");
    btn.addEventListener("click", () => copyText(code.textContent, btn));
    pre.appendChild(btn);
  }
}

// Replace [n] markers outside code with citation buttons (onCite(citation, button) when clicked).
function citeMarkers(el, citations, onCite) {
  if (!citations || !citations.length) return;
  const byN = new Map(citations.map((c) => [c.n, c]));
  const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT, {
    acceptNode: (n) => (n.parentElement.closest("code, pre, .chip") ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT),
  });
  const nodes = [];
  while (walker.nextNode()) if (/\[\d+\]/.test(walker.currentNode.nodeValue)) nodes.push(walker.currentNode);
  for (const node of nodes) {
    const frag = document.createDocumentFragment();
    let last = 0;
    const text = node.nodeValue;
    for (const m of text.matchAll(/\[(\d+)\]/g)) {
      const c = byN.get(Number(m[1]));
      if (!c) continue;
      frag.appendChild(document.createTextNode(text.slice(last, m.index)));
      const chip = document.createElement("button");
      chip.type = "button";
      chip.className = "chip";
      chip.textContent = m[1];
      chip.dataset.n = m[1];
      chip.setAttribute("aria-label", `Source ${m[1]}: ${c.title || c.name || "document"}`);
      chip.title = c.title || c.name || "";
      chip.addEventListener("click", () => onCite(c, chip));
      frag.appendChild(chip);
      last = m.index + m[0].length;
    }
    frag.appendChild(document.createTextNode(text.slice(last)));
    node.replaceWith(frag);
  }
}

// One answer body. update(text) while streaming; finish(text, citations, onCite) at the end.
export class Markdown {
  constructor(el) {
    this.el = el;
    this.blocks = []; // {raw, node}
  }

  update(text, final = false) {
    const tokens = marked.lexer(text);
    const links = tokens.links;
    let i = 0;
    for (; i < tokens.length; i++) {
      const t = tokens[i];
      const old = this.blocks[i];
      const last = i === tokens.length - 1;
      if (old && old.raw === t.raw && !(last && final && !old.final)) continue;
      const node = document.createElement("div");
      node.className = "md-block";
      node.innerHTML = toHtml([t], links);
      if (!last || final) { finishCode(node); }
      const block = { raw: t.raw, node, final: !last || final };
      if (old) old.node.replaceWith(node); else this.el.appendChild(node);
      this.blocks[i] = block;
      // a block that just stopped being the last one is complete: highlight it now
      if (i > 0 && !this.blocks[i - 1].final) { finishCode(this.blocks[i - 1].node); this.blocks[i - 1].final = true; }
    }
    for (const b of this.blocks.splice(i)) b.node.remove();
  }

  finish(text, citations, onCite) {
    this.update(text, true);
    citeMarkers(this.el, citations, onCite);
  }
}

// The passage around [start, end) of a document's text, with the quote marked: a DOM fragment.
export function passage(text, start, end, context = 280) {
  const frag = document.createDocumentFragment();
  let a = Math.max(0, start - context), b = Math.min(text.length, end + context);
  // widen to word boundaries so the passage does not start or end mid-word
  while (a > 0 && /\S/.test(text[a - 1])) a--;
  while (b < text.length && /\S/.test(text[b])) b++;
  if (a > 0) frag.appendChild(document.createTextNode("… "));
  frag.appendChild(document.createTextNode(text.slice(a, start)));
  const mark = document.createElement("mark");
  mark.textContent = text.slice(start, end);
  frag.appendChild(mark);
  frag.appendChild(document.createTextNode(text.slice(end, b)));
  if (b < text.length) frag.appendChild(document.createTextNode(" …"));
  return frag;
}
