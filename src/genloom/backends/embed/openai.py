"""Any OpenAI-compatible ``/v1/embeddings`` endpoint as an embedder: ``openai:<base_url>#<model>``.

    openai:http://127.0.0.1:8000/v1#BAAI/bge-small-en-v1.5      vLLM (--task embed), TEI, Ollama, genloom serve

Texts go in batches of ``batch_size`` (one request each, retried like the LLM backend: see
genloom.backends.openai_http). Vectors are re-normalized here, so a dot product is a cosine whatever the
server does. The dimension is learned from the first answer (``dim`` asks the server once if needed).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import numpy as np

from genloom.backends.embed.base import normalize
from genloom.backends.openai_http import OpenAIClient, parse_spec
from genloom.errors import BackendError


class OpenAIEmbedder:
    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        batch_size: int = 64,
        timeout: float = 120.0,
        max_retries: int = 3,
        client: OpenAIClient | None = None,
    ) -> None:
        self.base_url, self.model = base_url.rstrip("/"), model
        self.batch_size = max(1, batch_size)
        self.client = client or OpenAIClient(self.base_url, api_key, timeout=timeout, max_retries=max_retries)
        self._dim: int | None = None
        self.requests = 0  # how many /embeddings calls were made (batching is observable)

    @classmethod
    def from_spec(cls, rest: str, **kwargs: Any) -> OpenAIEmbedder:
        base, model = parse_spec(rest, "embedding model")
        return cls(base, model, **kwargs)

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._embed(["dimension probe"])
        assert self._dim is not None
        return self._dim

    def info(self) -> dict[str, Any]:
        return {"id": f"openai:{self.base_url}#{self.model}", "dim": self.dim, "source": self.base_url}

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [self._embed(texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)]
        return np.concatenate(parts, axis=0)

    def embed_query(self, text: str) -> np.ndarray:
        return self._embed([text])[0]

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        body = {"model": self.model, "input": list(texts), "encoding_format": "base64"}
        answer = self.client.post_json("/embeddings", body)
        self.requests += 1
        url = f"{self.base_url}/embeddings"
        try:
            rows = sorted(answer["data"], key=lambda d: d["index"])
            vecs = [_vector(d["embedding"]) for d in rows]
        except (KeyError, TypeError, ValueError) as e:
            raise BackendError(f"{url} answered an unexpected shape: {e}") from None
        if len(vecs) != len(texts) or len({v.shape[0] for v in vecs}) != 1:
            raise BackendError(f"{url} returned {len(vecs)} vectors of mixed or wrong count for {len(texts)}")
        m = normalize(np.stack(vecs))
        if self._dim is None:
            self._dim = int(m.shape[1])
        elif m.shape[1] != self._dim:
            raise BackendError(f"{url} changed dimension from {self._dim} to {m.shape[1]}")
        return m


def _vector(emb: Any) -> np.ndarray:
    """A float list, or base64 little-endian float32 (servers that ignore encoding_format send lists)."""
    if isinstance(emb, str):
        return np.frombuffer(base64.b64decode(emb), dtype="<f4").astype(np.float32)
    return np.asarray(emb, dtype=np.float32)
