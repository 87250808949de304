"""One OpenAI-style reply's bookkeeping (ids, SSE chunks, audit record) and the response cache around it.

Reproducible completions are cached (see :func:`cache_slot`): a repeated request is answered from the cache
without the queue or the engine, with a fresh ``id``/``created`` and the header ``x-genloom-cache: hit``.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from genloom.cache import cache_key
from genloom.cost import request_cost
from genloom.serve import schemas as S
from genloom.serve.audit import AuditRecord
from genloom.serve.auth import Principal
from genloom.serve.errors import to_api_error
from genloom.serve.state import State
from genloom.serve.usage import enforce_budget
from genloom.serve.worker import Generation
from genloom.types import SamplingParams


def sse(obj: dict[str, Any]) -> str:
    return f"data: {json.dumps(obj, ensure_ascii=False, separators=(',', ':'))}\n\n"


def usage_dict(p: int, c: int) -> dict[str, int]:
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


@dataclass
class Slot:
    """Where a cacheable request's response lives in the cache, and whether to read and write it there."""

    key: str
    kind: str  # "chat" | "completion": the metrics label
    read: bool
    write: bool


def cache_slot(
    st: State, request: Request, who: Principal, kind: str, req: S._Sampling, params: SamplingParams,
    inputs: dict[str, Any],
) -> Slot | None:  # fmt: skip
    """The cache slot of a request whose response is reproducible, else None.

    Reproducible means: not streamed, and greedy (temperature 0) or seeded; ``rag:`` answers are never asked
    here (they depend on a knowledge base that changes). The key covers everything that can change the output:
    the model, the input as the engine gets it, the effective sampling parameters (max_tokens, stop and seed
    included), the other OpenAI fields, and the API key, so a hit never tells one key what another asked.
    ``Cache-Control: no-cache`` skips the lookup; ``no-store`` skips the lookup and the write.
    """
    if st.cache is None or req.stream or not (params.temperature == 0 or params.seed is not None):
        return None
    parts = {"key_id": who.key_id, "model": req.model, **inputs, "params": asdict(params),
             "penalties": [req.frequency_penalty, req.presence_penalty]}  # fmt: skip
    directives = {
        d.split("=")[0].strip().lower() for d in request.headers.get("cache-control", "").split(",")
    }
    no_store = "no-store" in directives
    return Slot(
        cache_key(kind, parts), kind, read=not (no_store or "no-cache" in directives), write=not no_store
    )


async def from_cache(rep: Reply, slot: Slot, response: Response) -> dict[str, Any] | None:
    """The cached response body with this request's id and created, audited as a cache hit; None on a miss.

    A hit has counted against the key's request limit (in ``caller``) but charges no tokens: none were
    generated. The audit row keeps the cached usage and output, marked ``cache_hit``. Cache calls run in a
    thread: a Redis round trip must not hold up the event loop."""
    st, rec = rep.st, rep.rec
    rep.slot = slot
    raw = await asyncio.to_thread(st.cache.get, slot.key) if slot.read and st.cache is not None else None
    body: dict[str, Any] | None = None
    if raw is not None:
        try:
            data: Any = json.loads(raw)
            choice, usage = data["choices"][0], data["usage"]
            rec.output = (choice["message"]["content"] if slot.kind == "chat" else choice["text"]) or ""
            rec.prompt_tokens, rec.completion_tokens = usage["prompt_tokens"], usage["completion_tokens"]
            rec.finish_reason, body = choice["finish_reason"], data
            if data.get("genloom_manifest"):  # the manifest signed when it was generated (issue 16)
                rec.manifest = json.dumps(data["genloom_manifest"], ensure_ascii=False)
        except (ValueError, KeyError, IndexError, TypeError):  # not a response body of ours: a miss
            rec.output, rec.prompt_tokens, rec.completion_tokens, rec.finish_reason = "", 0, 0, None
    result = "miss" if body is None else "hit"
    st.metrics.cache.labels(slot.kind, result).inc()
    response.headers["x-genloom-cache"] = result
    if body is None:
        return None
    body["id"], body["created"], rec.cache_hit = rep.id, rep.created, True
    st.finish(rep.who, rec, rep.t0, computed=(0, 0))
    return body


async def store_reply(rep: Reply, gen: Generation, body: dict[str, Any]) -> None:
    """Keep a finished response for the next identical request: only complete answers (finish_reason stop
    or length as the engine reported it, so a cancelled one never is)."""
    slot, cache = rep.slot, rep.st.cache
    done = getattr(gen.source, "completion", None)
    complete = getattr(done, "finish_reason", None) in ("stop", "length")
    if slot is None or not slot.write or cache is None or not complete:
        return
    value = json.dumps(body, ensure_ascii=False).encode("utf-8")
    await asyncio.to_thread(cache.set, slot.key, value, rep.st.settings.cache_ttl)


class Reply:
    """One chat request's bookkeeping: ids, chunk builder, audit record, metrics."""

    def __init__(
        self, st: State, who: Principal, request: Request, model: str, prompt: Any, kind: str
    ) -> None:
        self.st, self.who, self.request, self.model = st, who, request, model
        self.t0 = time.perf_counter()
        prefix = "chatcmpl" if kind == "chat" else "cmpl"
        self.id, self.created = f"{prefix}-{uuid.uuid4().hex[:24]}", int(time.time())
        path = "/v1/chat/completions" if kind == "chat" else "/v1/completions"
        self.rec = AuditRecord(self.id, who.key_id, path, model=model, prompt=prompt)
        self.slot: Slot | None = None  # set when the request is cacheable
        self.kind = (
            kind  # the manifest's kind: chat | completion | rag | structured (genloom.serve.manifests)
        )
        self.params: SamplingParams | None = None
        enforce_budget(st.audit, st.settings, who.key_id)  # issue 21: 429 once the key's budget is spent

    def usage(self) -> dict[str, Any]:
        """The usage block: tokens, and their cost in USD by the price table (issue 21)."""
        p, c = self.rec.prompt_tokens, self.rec.completion_tokens
        return usage_dict(p, c) | {
            "cost": request_cost(self.rec.model, p, c, self.rec.route, self.st.settings)
        }

    def chunk(
        self, delta: dict[str, Any] | None, finish: str | None = None, logprobs: Any = None, **extra: Any
    ) -> str:
        choices = (
            []
            if delta is None
            else [{"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}]
        )
        return sse({"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                     "model": self.model, "system_fingerprint": None, "choices": choices, **extra})  # fmt: skip

    def done(self, gen: Generation | None, status: int = 200, error: BaseException | None = None) -> None:
        self.rec.status = status
        if error is not None:
            api = to_api_error(error)
            self.rec.status, self.rec.error_type = api.status, api.code or api.type
            self.st.metrics.errors.labels(api.type, self.st.metrics.code(api.code)).inc()
        if gen is not None and gen.ttft is not None:
            self.st.metrics.ttft.labels(self.st.metrics.model(self.model)).observe(gen.ttft)
        self.st.finish(self.who, self.rec, self.t0)
