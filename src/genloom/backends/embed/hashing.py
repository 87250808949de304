"""A deterministic, dependency-free embedder for tests and demos: feature hashing of words and
character trigrams. Texts that share words or word pieces get near vectors, so retrieval tests mean
something, and the same text gives the same vector in every process (crc32, not Python's salted hash).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from genloom.backends.embed.base import normalize

_WORD = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder:
    def __init__(self, dim: int = 384) -> None:
        self._dim = dim
        self._features: dict[str, list[tuple[int, float]]] = {}

    @property
    def dim(self) -> int:
        return self._dim

    def _word_features(self, word: str) -> list[tuple[int, float]]:
        cached = self._features.get(word)
        if cached is None:
            grams = [word] + [f"#{g}" for g in _trigrams(word)]
            cached = []
            for i, g in enumerate(grams):
                h = zlib.crc32(g.encode("utf-8"))
                sign = 1.0 if (h >> 31) & 1 else -1.0
                cached.append((h % self._dim, sign * (1.0 if i == 0 else 0.5)))
            if len(self._features) < 200_000:
                self._features[word] = cached
        return cached

    def _one(self, text: str) -> np.ndarray:
        v = np.zeros(self._dim, dtype=np.float32)
        for word in _WORD.findall(text.lower()):
            for idx, weight in self._word_features(word):
                v[idx] += weight
        return v

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        return normalize(np.stack([self._one(t) for t in texts]))

    def embed_query(self, text: str) -> np.ndarray:
        return normalize(self._one(text)[None, :])[0]

    def info(self) -> dict[str, Any]:
        return {"id": f"hash:{self._dim}", "dim": self._dim, "kind": "feature hashing (words + trigrams)"}


def _trigrams(word: str) -> list[str]:
    w = f"<{word}>"
    return [w[i : i + 3] for i in range(len(w) - 2)] if len(w) > 3 else []
