"""A GGUF LoRA adapter folded into its base GGUF: one model file that decodes at the base model's speed.

    path = merge_adapter(base_gguf, adapter_gguf, out)          # W' = W + (alpha / r) * B @ A

Why: llama.cpp applies an adapter at run time as two extra small matmuls per adapted projection (7 per
layer for genloom's LoRA); on a 135M model those ops cost as much as the projections themselves
(measured: 0.52-0.74x the base decode rate, docs/benchmarks.md "Fine-tuning"). Merged, the model is the base's
graph again.

Precision: every adapted projection is dequantized, the low-rank delta added in float32, and the result
stored as ``qtype`` (default Q8_0). The base's 4-bit types would round most of a small LoRA delta away: a
Q4_1 step is ~1/16 of a block's range while the delta is a fraction of a percent of it. Untouched
tensors (norms, the token embedding) are copied as they are. The adapter's q/k rows are already in llama.cpp's
permuted order (genloom.tune.export), so the delta is added to the stored tensors directly.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from genloom.errors import UserError

_SKIP = {"GGUF.version", "GGUF.tensor_count", "GGUF.kv_count", "general.architecture"}


def _deltas(adapter_gguf: Path) -> dict[str, np.ndarray]:
    from gguf import GGUFReader

    r = GGUFReader(str(adapter_gguf))
    if r.fields.get("adapter.type") is None or r.fields["adapter.type"].contents() != "lora":
        raise UserError(f"{adapter_gguf} is not a GGUF LoRA adapter", hint="export one: genloom tune export")
    alpha = float(r.fields["adapter.lora.alpha"].contents())
    parts: dict[str, dict[str, np.ndarray]] = {}
    for t in r.tensors:
        base, _, ab = t.name.rpartition(".lora_")
        parts.setdefault(base, {})[ab] = np.asarray(t.data, dtype=np.float32)
    out = {}
    for name, p in parts.items():
        a, b = p["a"], p["b"]  # a: (rank, n_in), b: (n_out, rank) as numpy arrays
        out[name] = (alpha / a.shape[0]) * (b @ a)
    return out


def merge_adapter(
    base_gguf: str | Path, adapter_gguf: str | Path, out: str | Path, qtype: str = "Q8_0"
) -> Path:
    """Write ``out``: ``base_gguf`` with ``adapter_gguf`` added into its weights; returns the path."""
    from gguf import GGMLQuantizationType, GGUFReader, GGUFValueType, GGUFWriter
    from gguf.quants import dequantize, quantize

    base_gguf, adapter_gguf, out = Path(base_gguf), Path(adapter_gguf), Path(out)
    try:
        target = GGMLQuantizationType[qtype]
    except KeyError:
        raise UserError(f"unknown tensor type {qtype!r}", hint="use Q8_0, F16 or F32") from None
    deltas = _deltas(adapter_gguf)
    r = GGUFReader(str(base_gguf))
    names = {t.name for t in r.tensors}
    missing = sorted(set(deltas) - names)
    if missing:
        raise UserError(f"the adapter adapts tensors the base does not have: {missing[:3]}",
                        hint="merge an adapter into the base it was trained on")  # fmt: skip
    arch = r.fields["general.architecture"].contents()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")  # two builders never share a half-written file
    w = GGUFWriter(str(tmp), arch=arch)
    for key, field in r.fields.items():
        if key in _SKIP:
            continue
        vtype = GGUFValueType(field.types[0])
        sub = GGUFValueType(field.types[1]) if vtype == GGUFValueType.ARRAY and len(field.types) > 1 else None
        w.add_key_value(key, field.contents(), vtype, sub)
    w.add_string("genloom.merged_adapter", adapter_gguf.name)
    for t in r.tensors:
        if t.name not in deltas:
            w.add_tensor(t.name, t.data, raw_shape=t.data.shape, raw_dtype=t.tensor_type)
            continue
        weight = dequantize(t.data, t.tensor_type).astype(np.float32) + deltas[t.name]
        if target == GGMLQuantizationType.F32:
            w.add_tensor(t.name, weight)
        elif target == GGMLQuantizationType.F16:
            w.add_tensor(t.name, weight.astype(np.float16))
        else:
            q = quantize(weight, target)
            w.add_tensor(t.name, q, raw_shape=q.shape, raw_dtype=target)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    tmp.replace(out)
    return out
