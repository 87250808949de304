"""OpenAI's ``logprobs`` request fields and response blocks (chat and legacy completions).

Chat asks with ``logprobs: true`` (+ ``top_logprobs: 0..20``) and gets
``{"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}]}``; completions ask with ``logprobs: N``
(0..5) and get ``{"tokens", "token_logprobs", "top_logprobs": [{token: logprob}], "text_offset"}``.
The values are the model's raw distribution (see genloom.backends.llm.llamacpp.logprob_hook).
"""

from __future__ import annotations

from typing import Any

from genloom.serve.errors import APIError
from genloom.types import TokenLogprob


def chat_requested(logprobs: bool | None, top: int | None) -> int | None:
    """How many alternatives a chat request asks for (None: no log-probs)."""
    if top is not None and not logprobs:
        raise APIError(
            400, "top_logprobs needs logprobs: true", "invalid_request_error", param="top_logprobs"
        )
    return (top or 0) if logprobs else None


def chat_block(items: list[TokenLogprob] | None) -> dict[str, Any] | None:
    return None if items is None else {"content": [t.to_openai() for t in items], "refusal": None}


def completion_block(items: list[TokenLogprob] | None, offset: int = 0) -> dict[str, Any] | None:
    if items is None:
        return None
    offsets, at = [], offset
    for t in items:
        offsets.append(at)
        at += len(t.token)
    return {
        "tokens": [t.token for t in items],
        "token_logprobs": [t.logprob for t in items],
        "top_logprobs": [dict(t.top) for t in items],
        "text_offset": offsets,
    }
