"""POST /v1/embeddings: float lists or base64 (little-endian float32), as OpenAI sends them."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from typing import Any

import numpy as np
from fastapi import APIRouter, Depends, Request

from genloom.serve import schemas as S
from genloom.serve.audit import AuditRecord
from genloom.serve.auth import Principal
from genloom.serve.deps import caller
from genloom.serve.errors import APIError
from genloom.serve.routes_openai import ERRORS
from genloom.serve.state import get_state

router = APIRouter(tags=["openai"])
MAX_INPUTS = 2048


def _count(embedder: Any, text: str) -> int:
    """Tokens of ``text`` by the embedder's tokenizer if it exposes one, else whitespace words."""
    for name in ("count_tokens", "tokenize"):
        fn = getattr(embedder, name, None)
        if callable(fn):
            n = fn(text)
            return n if isinstance(n, int) else len(n)
    return len(text.split())


@router.post("/v1/embeddings", response_model=S.EmbeddingList, responses=ERRORS)
async def embeddings(req: S.EmbeddingRequest, request: Request, who: Principal = Depends(caller)) -> Any:
    st = get_state(request)
    t0 = time.perf_counter()
    texts = [req.input] if isinstance(req.input, str) else list(req.input)
    if not texts or len(texts) > MAX_INPUTS:
        raise APIError(
            400, f"input must hold 1 to {MAX_INPUTS} strings", "invalid_request_error", param="input"
        )
    if any(not t.strip() for t in texts):
        raise APIError(400, "input strings must not be empty", "invalid_request_error", param="input")

    def work() -> tuple[np.ndarray, int]:
        emb = st.embedder_factory()
        vecs = np.asarray(emb.embed_documents(texts), dtype=np.float32)
        return vecs, sum(_count(emb, t) for t in texts)

    vecs, tokens = await asyncio.to_thread(work)
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
    rec = AuditRecord(f"emb-{uuid.uuid4().hex[:24]}", who.key_id, "/v1/embeddings", model=req.model,
                      prompt=texts, prompt_tokens=tokens)  # fmt: skip
    st.finish(who, rec, t0)
    return {
        "object": "list",
        "data": data,
        "model": req.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
