// The side drawer: one panel at a time (settings, documents, source, images). Escape closes it (or the
// conversation list on phones) and focus goes back to the control that opened it.
"use strict";
import { $ } from "./api.js";

let openedBy = null;
let current = null;

export function openPanel(name, opener = document.activeElement) {
  for (const p of document.querySelectorAll("#drawer .panel")) p.hidden = p.id !== `panel-${name}`;
  $("drawer").hidden = false;
  document.body.dataset.panel = name;
  if (current !== name) openedBy = opener;
  current = name;
  for (const b of document.querySelectorAll("[data-panel]")) b.setAttribute("aria-expanded", String(b.dataset.panel === name));
  const panel = $(`panel-${name}`);
  const focusable = panel.querySelector("input:not([hidden]), select, textarea, [tabindex='0'], button:not(.panel-close)");
  (focusable || panel.querySelector(".panel-close")).focus({ preventScroll: true });
  return panel;
}

export function closePanel() {
  if (!current) return;
  $("drawer").hidden = true;
  delete document.body.dataset.panel;
  for (const b of document.querySelectorAll("[data-panel]")) b.setAttribute("aria-expanded", "false");
  current = null;
  if (openedBy && document.contains(openedBy)) openedBy.focus();
  openedBy = null;
}

export const panelOpen = () => current;

export function setSidebar(open) {
  document.body.classList.toggle("side-open", open);
  $("side-open").setAttribute("aria-expanded", String(open));
  $("scrim").hidden = !open;
  if (open) $("new-chat").focus();
}

export function initPanels() {
  for (const b of document.querySelectorAll("[data-panel]")) {
    b.setAttribute("aria-expanded", "false");
    b.addEventListener("click", () => (current === b.dataset.panel ? closePanel() : openPanel(b.dataset.panel, b)));
  }
  for (const b of document.querySelectorAll(".panel-close")) b.addEventListener("click", closePanel);
  $("side-open").addEventListener("click", () => setSidebar(true));
  $("side-close").addEventListener("click", () => { setSidebar(false); $("side-open").focus(); });
  $("scrim").addEventListener("click", () => setSidebar(false));
  document.addEventListener("keydown", (e) => {
    if (e.key !== "Escape" || e.defaultPrevented) return;
    if (current) { e.preventDefault(); closePanel(); return; }
    if (document.body.classList.contains("side-open")) { e.preventDefault(); setSidebar(false); $("side-open").focus(); }
  });
}
