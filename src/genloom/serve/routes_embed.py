"""POST /v1/embeddings: float lists or base64 (little-endian float32), as OpenAI sends them.

Each input text's vector is cached (key: API key, embedder id, text): a request embeds only the texts the
cache does not hold, in one batch, and reports usage for all of them as if it had embedded them all.
"""

from __future__ import annotations

import asyncio
import base64
import struct
import time
import uuid
from typing import Any

import numpy as np
from fastapi import APIRouter, Depends, Request

from genloom.cache import cache_key, get_many, set_many
from genloom.serve import schemas as S
from genloom.serve.audit import AuditRecord
from genloom.serve.auth import Principal
from genloom.serve.deps import caller
from genloom.serve.embed_input import check_model, texts_of
from genloom.serve.errors import APIError
from genloom.serve.routes_openai import ERRORS
from genloom.serve.state import State, get_state

router = APIRouter(tags=["openai"])


def _count(embedder: Any, text: str) -> int:
    """Tokens of ``text`` by the embedder's tokenizer if it exposes one, else whitespace words."""
    for name in ("count_tokens", "tokenize"):
        fn = getattr(embedder, name, None)
        if callable(fn):
            n = fn(text)
            return n if isinstance(n, int) else len(n)
    return len(text.split())


def _pack(vec: np.ndarray, tokens: int) -> bytes:
    """A cached embedding: its token count (uint32) then the full vector (little-endian float32)."""
    return struct.pack("<I", tokens) + vec.astype("<f4").tobytes()


def _unpack(raw: bytes | None, dim: int | None) -> tuple[np.ndarray, int] | None:
    if raw is None or len(raw) < 8 or (len(raw) - 4) % 4:
        return None
    vec = np.frombuffer(raw, dtype="<f4", offset=4).astype(np.float32)
    if dim is not None and vec.shape[0] != dim:
        return None
    return vec, struct.unpack_from("<I", raw)[0]


def _cached(st: State, keys: list[str]) -> dict[int, tuple[np.ndarray, int]]:
    """The inputs the cache holds, by position; all of one width (a stray other width is a miss)."""
    out: dict[int, tuple[np.ndarray, int]] = {}
    if st.cache is None:
        return out
    dim = None
    for i, raw in enumerate(get_many(st.cache, keys)):
        got = _unpack(raw, dim)
        if got is not None:
            out[i], dim = got, got[0].shape[0]
    return out


@router.post("/v1/embeddings", response_model=S.EmbeddingList, responses=ERRORS)
async def embeddings(req: S.EmbeddingRequest, request: Request, who: Principal = Depends(caller)) -> Any:
    st = get_state(request)
    t0 = time.perf_counter()
    model = check_model(req.model, st.embedder_id())
    texts = texts_of(req.input)  # token ids decoded (see genloom.serve.embed_input)

    keys: list[str] = []
    if st.cache is not None:
        spec = st.embedder_id()
        keys = [cache_key("emb", {"key_id": who.key_id, "embedder": spec, "text": t}) for t in texts]
    hits = await asyncio.to_thread(_cached, st, keys) if keys else {}

    def work(todo: list[str]) -> dict[str, tuple[np.ndarray, int]]:
        emb = st.embedder_factory()
        vecs = np.asarray(emb.embed_documents(todo), dtype=np.float32)
        return {t: (v, _count(emb, t)) for t, v in zip(todo, vecs, strict=True)}

    todo = list(dict.fromkeys(t for i, t in enumerate(texts) if i not in hits))  # each missing text once
    fresh = await asyncio.to_thread(work, todo) if todo else {}
    if hits and fresh and len(next(iter(fresh.values()))[0]) != len(next(iter(hits.values()))[0]):
        hits, todo = {}, list(dict.fromkeys(texts))  # the embedder changed under the same id: embed all anew
        fresh = await asyncio.to_thread(work, todo)
    if st.cache is not None:
        key_of = dict(zip(texts, keys, strict=True))
        items = {key_of[t]: _pack(v, n) for t, (v, n) in fresh.items()}
        await asyncio.to_thread(set_many, st.cache, items, st.settings.cache_ttl)
        st.metrics.cache.labels("embedding", "hit").inc(len(hits))
        st.metrics.cache.labels("embedding", "miss").inc(len(texts) - len(hits))
    rows = [hits[i] if i in hits else fresh[t] for i, t in enumerate(texts)]
    vecs, tokens = np.stack([v for v, _ in rows]), sum(n for _, n in rows)
    if req.dimensions is not None:
        if req.dimensions > vecs.shape[1]:
            raise APIError(400, f"dimensions must be at most {vecs.shape[1]} for this model",
                           "invalid_request_error", param="dimensions")  # fmt: skip
        vecs = vecs[:, : req.dimensions]
        vecs = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    data: list[dict[str, Any]] = []
    for i, v in enumerate(vecs):
        if req.encoding_format == "base64":
            emb: Any = base64.b64encode(v.astype("<f4").tobytes()).decode("ascii")
        else:
            emb = v.tolist()
        data.append({"object": "embedding", "index": i, "embedding": emb})
    rec = AuditRecord(f"emb-{uuid.uuid4().hex[:24]}", who.key_id, "/v1/embeddings", model=model,
                      prompt=texts, prompt_tokens=tokens, cache_hit=not fresh)  # fmt: skip
    # only the texts embedded here are charged and counted; usage reports them all
    st.finish(who, rec, t0, computed=(sum(n for _, n in fresh.values()), 0))
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
