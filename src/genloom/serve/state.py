"""What the routes share: settings, keys, limits, queue, metrics, audit log and the injectable seams."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from genloom.generate import Engine
from genloom.serve.audit import AuditLog, AuditRecord
from genloom.serve.auth import KeyStore, Principal
from genloom.serve.errors import APIError
from genloom.serve.limits import RateLimiter
from genloom.serve.metrics import Metrics
from genloom.serve.queue import GenerationQueue, QueueFull
from genloom.serve.worker import Generation
from genloom.settings import Settings

KBFactory = Callable[[str, bool], Any]  # (name, create) -> KnowledgeBase
AnswerFactory = Callable[
    ..., Iterable[str]
]  # (question, kb=, principals=, k=, model=, history=, mode=) -> AnswerStream


@dataclass
class State:
    settings: Settings
    models: list[str]  # model ids clients may ask for (LLM specs); the first is the default
    keys: KeyStore
    limiter: RateLimiter
    queue: GenerationQueue
    metrics: Metrics
    audit: AuditLog
    engine_factory: Callable[[str], Engine]
    kb_factory: KBFactory
    kb_lister: Callable[[], list[str]]
    answer_factory: AnswerFactory
    embedder_factory: Callable[[], Any]
    started: int = field(default_factory=lambda: int(time.time()))
    _engines: dict[str, Engine] = field(default_factory=dict)

    def engine(self, model: str) -> Engine:
        if model not in self.models:
            raise APIError(
                404,
                f"The model {model!r} does not exist; use one of {', '.join(self.models)} or rag:<kb>"
                " (GET /v1/models lists them)",
                "invalid_request_error",
                code="model_not_found",
                param="model",
            )
        if model not in self._engines:
            self._engines[model] = self.engine_factory(model)
        return self._engines[model]

    def start(self, make: Callable[[], Iterable[str]]) -> Generation:
        """Admit a generation to the bounded queue (503 when full)."""
        try:
            ticket = self.queue.admit()
        except QueueFull as e:
            raise APIError(
                503, str(e), "server_error", code="queue_full", retry_after=e.retry_after
            ) from None
        return Generation(ticket, make, self.metrics.cancelled.inc)

    def limits_for(self, who: Principal) -> tuple[int, int]:
        rpm = who.rpm if who.rpm is not None else self.settings.rate_limit_rpm
        tpm = who.tpm if who.tpm is not None else self.settings.rate_limit_tpm
        return rpm, tpm

    def finish(self, who: Principal, rec: AuditRecord, t0: float) -> None:
        """After a request: charge its tokens, count them, write its audit row."""
        rec.latency_ms = round((time.perf_counter() - t0) * 1000, 2)
        total = rec.prompt_tokens + rec.completion_tokens
        self.limiter.charge(who.key_id, total, self.limits_for(who)[1])
        if rec.model:
            self.metrics.count_tokens(rec.model, rec.prompt_tokens, rec.completion_tokens)
        self.audit.write(rec)


def get_state(request: Request) -> State:
    state: State = request.app.state.genloom
    return state
