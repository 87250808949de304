// The Images panel: POST /v1/images/generations (OpenAI shape, b64_json) and a grid of the results. Hidden
// when the server has no such endpoint (it answers 404).
"use strict";
import { $, api, json } from "./api.js";

export async function probeImages(models) {
  let available = false;
  try {
    // the route takes POST only: an existing endpoint answers 405 (or 4xx for the empty body), a missing one 404
    const r = await fetch("/v1/images/generations", { method: "GET" });
    available = r.status !== 404;
  } catch (e) { available = false; }
  $("images-open").hidden = !available;
  $("image-models").replaceChildren(...models.filter((m) => !m.startsWith("rag:")).map((m) => {
    const o = document.createElement("option"); o.value = m; return o;
  }));
  return available;
}

export function initImages() {
  $("image-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const prompt = $("image-prompt").value.trim();
    if (!prompt) return;
    const body = { prompt, n: Number($("image-n").value) || 1, size: $("image-size").value, response_format: "b64_json" };
    if ($("image-model").value.trim()) body.model = $("image-model").value.trim();
    $("image-go").disabled = true;
    $("image-status").textContent = "Generating…";
    try {
      const { data } = await api("/v1/images/generations", json("POST", body));
      const grid = $("image-grid");
      grid.replaceChildren(...data.map((d, i) => {
        const fig = document.createElement("figure");
        const img = document.createElement("img");
        img.src = `data:image/png;base64,${d.b64_json}`;
        img.alt = `${prompt} (image ${i + 1} of ${data.length})`;
        const a = document.createElement("a");
        a.href = img.src;
        a.download = `genloom-${i + 1}.png`;
        a.textContent = "Download";
        fig.append(img, a);
        return fig;
      }));
      $("image-status").textContent = `${data.length} image${data.length === 1 ? "" : "s"} for “${prompt}”.`;
    } catch (err) {
      if (err.status === 404 && !/model/i.test(err.message)) $("images-open").hidden = true; // no such endpoint
      $("image-status").textContent = err.message;
    } finally {
      $("image-go").disabled = false;
    }
  });
}
