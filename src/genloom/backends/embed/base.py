"""The embedder seam: text in, L2-normalized float32 vectors out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit vectors so that a dot product is a cosine similarity."""

    @property
    def dim(self) -> int: ...

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Shape ``(len(texts), dim)``, float32, each row L2-normalized."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """Shape ``(dim,)``, float32, L2-normalized."""
        ...

    def info(self) -> dict[str, Any]:
        """At least ``{"id": spec, "dim": n}``; the id is stored with a KB so vectors never get mixed."""
        ...


def normalize(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float32)
    norms = np.linalg.norm(m, axis=-1, keepdims=True)
    norms[norms == 0] = 1.0
    return (m / norms).astype(np.float32, copy=False)
