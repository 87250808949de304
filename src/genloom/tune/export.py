"""A PEFT LoRA adapter -> a GGUF LoRA adapter that llama.cpp loads over the base GGUF.

    path = export_adapter(run.adapter_dir, run.out / "adapter.gguf", base_gguf)

Tensor names follow llama.cpp (``blk.N.attn_q.weight.lora_a`` / ``.lora_b``, ...); ``adapter.lora.alpha``
carries PEFT's alpha, so llama.cpp's scale alpha / rank equals PEFT's. One detail matters and fails
silently: llama.cpp stores the q and k projections of LLaMA models with the rows of each head permuted
(the converter's rotary layout), so the ``lora_b`` of q and k must be row-permuted the same way. Without it
the adapter still loads and "works", just worse; tests/test_tune.py compares llama.cpp's logit changes with
the merged torch model's to catch exactly this.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from genloom.errors import UserError

_NAMES = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
_KEY = re.compile(
    r"^(?:base_model\.model\.)?model\.layers\.(\d+)\.(\w+\.\w+)\.lora_([AB])(?:\.default)?\.weight$"
)


def permute_rows(w: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's q/k row order: within each head, the two rotary halves are interleaved."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _heads(base_gguf: Path) -> tuple[int, int]:
    from genloom.backends.llm import gguf

    meta = gguf.read_metadata(base_gguf)
    arch = meta.get("general.architecture")
    if arch != "llama":
        raise UserError(
            f"exporting adapters is implemented for llama-architecture models, this base is {arch!r}",
            hint="fine-tune the bundled SmolLM2 (a llama model) or another llama-architecture GGUF",
        )
    n_head = int(meta["llama.attention.head_count"])
    return n_head, int(meta.get("llama.attention.head_count_kv", n_head))


def export_adapter(adapter_dir: str | Path, out: str | Path, base_gguf: str | Path) -> Path:
    """Write ``out`` (a GGUF LoRA adapter) from a PEFT adapter folder; returns its path."""
    from gguf import GGUFWriter
    from safetensors.numpy import load_file

    adapter_dir, out, base_gguf = Path(adapter_dir), Path(out), Path(base_gguf)
    cfg_file, weights = adapter_dir / "adapter_config.json", adapter_dir / "adapter_model.safetensors"
    if not cfg_file.exists() or not weights.exists():
        raise UserError(
            f"{adapter_dir} is not a PEFT adapter folder", hint="train one first: genloom tune train"
        )
    cfg = json.loads(cfg_file.read_text(encoding="utf-8"))
    if cfg.get("use_rslora") or cfg.get("use_dora"):
        raise UserError("rsLoRA / DoRA adapters are not exportable to GGUF here", hint="train plain LoRA")
    n_head, n_kv = _heads(base_gguf)
    tensors: dict[str, dict[str, np.ndarray]] = {}
    for key, value in load_file(str(weights)).items():
        m = _KEY.match(key)
        if m is None or m[2] not in _NAMES:
            raise UserError(f"unexpected tensor {key!r} in the adapter", hint="train with genloom tune train")
        tensors.setdefault(f"blk.{m[1]}.{_NAMES[m[2]]}.weight", {})[m[3]] = value.astype(np.float32)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    writer = GGUFWriter(str(tmp), arch="llama")
    writer.add_type("adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", float(cfg["lora_alpha"]))
    writer.add_string("general.name", f"genloom LoRA r{cfg['r']}")
    for name in sorted(tensors, key=_order):
        ab = tensors[name]
        if set(ab) != {"A", "B"}:
            raise UserError(f"{name}: the adapter has only lora_{''.join(ab)}", hint="re-train the adapter")
        b = ab["B"]
        if ".attn_q." in name:
            b = permute_rows(b, n_head)
        elif ".attn_k." in name:
            b = permute_rows(b, n_kv)
        writer.add_tensor(name + ".lora_a", np.ascontiguousarray(ab["A"]))
        writer.add_tensor(name + ".lora_b", np.ascontiguousarray(b))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp.replace(out)
    return out


def _order(name: str) -> tuple[int, str]:
    parts = name.split(".")
    return int(parts[1]), parts[2]


def adapter_info(path: str | Path) -> dict[str, Any]:
    """Metadata and tensor count of a GGUF adapter (for checks and ``genloom models``)."""
    from gguf import GGUFReader

    r = GGUFReader(str(path))
    fields = {k: r.fields[k] for k in ("general.type", "adapter.type", "adapter.lora.alpha") if k in r.fields}
    out: dict[str, Any] = {k: f.contents() for k, f in fields.items()}
    out["tensors"] = len(r.tensors)
    return out
