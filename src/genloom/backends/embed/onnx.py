"""all-MiniLM-L6-v2 run by ONNX Runtime: ``onnx:`` (fp32) and ``onnx:int8`` (MatMul weights quantized).

The same computation as sentence-transformers' pipeline for this model (the ``minilm:`` reference): the
model folder's own ``tokenizer.json`` (lower-casing WordPiece, cut at the folder's max_seq_length of 256),
the transformer exported to ONNX (genloom.backends.embed.onnx_export), mean pooling over the attention mask,
L2 normalisation. Texts are sorted by length before batching so a batch pads little; batches of 16 (32 took
~500 MiB more of ONNX Runtime's arena for the same texts/s, measured on 256 real chunks). ONNX Runtime releases
the GIL while it runs, so the ingest pipeline parses and writes on other threads meanwhile.

Vectors: ``onnx:`` agrees with ``minilm:`` to float rounding (tests/test_embed_onnx.py), so a knowledge base made
by either is searched and extended by the other; ``onnx:int8`` is its own vector space (docs/benchmarks.md
"ONNX embedder" has the measured agreement and retrieval cost).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from genloom.backends.embed.base import normalize
from genloom.backends.embed.onnx_export import bundled_model_dir, exported
from genloom.errors import BackendError, MissingDependency

_lock = threading.Lock()


class OnnxMiniLMEmbedder:
    def __init__(
        self, cache_dir: Path, variant: str = "fp32", threads: int = 1, batch_size: int = 16
    ) -> None:
        self._cache_dir = cache_dir
        self._variant = variant
        self._threads = max(1, threads)
        self._batch_size = max(1, batch_size)
        self._session: Any = None
        self._tokenizer: Any = None
        self._source = ""
        self._max_len = 256

    def _load(self) -> None:
        with _lock:
            if self._session is not None:
                return
            try:
                import onnxruntime as ort
                from tokenizers import Tokenizer
            except ImportError as e:
                raise MissingDependency(e.name or "onnxruntime", "embed") from None
            model_dir = bundled_model_dir()
            path = exported(model_dir, self._cache_dir, self._variant)
            self._max_len = _max_seq_length(model_dir)
            tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
            tok.enable_truncation(max_length=self._max_len)
            tok.no_padding()  # we pad per batch ourselves
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = self._threads
            opts.inter_op_num_threads = 1
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            opts.log_severity_level = 3  # no warnings on stderr
            try:
                session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
            except Exception as e:  # a truncated or foreign file in the cache
                raise BackendError(
                    f"could not load the ONNX model {path}: {e}",
                    hint=f"delete it and it is exported again on next use: rm {path}",
                ) from None
            self._tokenizer, self._source, self._session = tok, str(path), session

    @property
    def dim(self) -> int:
        return 384

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        self._load()
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for at in range(0, len(order), self._batch_size):
            idx = order[at : at + self._batch_size]
            out[idx] = self._batch([texts[i].strip() for i in idx])
        return normalize(out)

    def _batch(self, texts: list[str]) -> np.ndarray:
        encs = self._tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encs)
        ids = np.zeros((len(encs), width), dtype=np.int64)
        mask = np.zeros((len(encs), width), dtype=np.int64)
        for row, e in enumerate(encs):
            ids[row, : len(e.ids)] = e.ids
            mask[row, : len(e.ids)] = 1
        (hidden,) = self._session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )
        m = mask[:, :, None].astype(np.float32)
        return (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]

    def info(self) -> dict[str, Any]:
        self._load()
        return {
            "id": "onnx:" + ("int8" if self._variant == "int8" else ""),
            "dim": self.dim,
            "kind": f"all-MiniLM-L6-v2 on ONNX Runtime ({self._variant})",
            "source": self._source,
            "max_seq_length": self._max_len,
        }


def _max_seq_length(model_dir: Path) -> int:
    cfg = model_dir / "sentence_bert_config.json"
    try:
        return int(json.loads(cfg.read_text())["max_seq_length"]) if cfg.is_file() else 256
    except (ValueError, KeyError, TypeError):
        return 256
