// The Templates panel (issue 21): pick a task template (GET /v1/templates), fill its typed variables, run it
// (POST /v1/templates/{name}/run) and show the reply — pretty JSON when the template has an output schema.
"use strict";
import { $, api, json } from "./api.js";

let templates = [];

function field(name, spec) {
  const label = document.createElement("label");
  label.textContent = `${name}${spec.required ? " *" : ""} `;
  let input;
  if (spec.choices) {
    input = document.createElement("select");
    input.append(...spec.choices.map((c) => { const o = document.createElement("option"); o.value = o.textContent = String(c); return o; }));
    if (spec.default !== undefined) input.value = String(spec.default);
  } else if (spec.type === "boolean") {
    input = document.createElement("input"); input.type = "checkbox"; input.checked = Boolean(spec.default);
  } else {
    input = document.createElement(spec.type === "string" && !spec.max_length || spec.max_length > 300 ? "textarea" : "input");
    if (spec.type === "integer" || spec.type === "number") { input.type = "number"; input.step = spec.type === "integer" ? "1" : "any"; }
    if (spec.default !== undefined) input.value = String(spec.default);
    if (spec.description) input.placeholder = spec.description;
  }
  input.dataset.var = name;
  input.dataset.type = spec.type;
  label.append(input);
  return label;
}

function showVars() {
  const t = templates.find((x) => x.name === $("tpl-name").value);
  $("tpl-desc").textContent = t ? `${t.id}: ${t.description}` : "";
  $("tpl-vars").replaceChildren(...(t ? Object.entries(t.variables).map(([n, spec]) => field(n, spec)) : []));
}

export async function loadTemplates() {
  try {
    templates = (await api("/v1/templates")).data;
  } catch (e) { templates = []; }
  $("templates-open").hidden = templates.length === 0;
  $("tpl-name").replaceChildren(...templates.map((t) => { const o = document.createElement("option"); o.value = o.textContent = t.name; return o; }));
  showVars();
}

export function initTemplates() {
  $("tpl-name").addEventListener("change", showVars);
  $("tpl-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const variables = {};
    for (const el of $("tpl-vars").querySelectorAll("[data-var]")) {
      const t = el.dataset.type;
      if (t === "boolean") variables[el.dataset.var] = el.checked;
      else if (el.value === "") continue; // the template's default
      else variables[el.dataset.var] = t === "integer" || t === "number" ? Number(el.value) : el.value;
    }
    $("tpl-go").disabled = true;
    $("tpl-status").textContent = "Running…";
    try {
      const r = await api(`/v1/templates/${encodeURIComponent($("tpl-name").value)}/run`, json("POST", { variables }));
      $("tpl-out").textContent = r.value !== null && r.value !== undefined ? JSON.stringify(r.value, null, 2) : r.text;
      $("tpl-status").textContent = `${r.template} on ${r.model}, ${r.usage.completion_tokens} tokens.`;
    } catch (err) {
      $("tpl-status").textContent = err.message;
    } finally {
      $("tpl-go").disabled = false;
    }
  });
}
