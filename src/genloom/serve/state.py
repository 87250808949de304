"""What the routes share: settings, keys, limits, cache, queue, metrics, audit log and the injectable seams."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.requests import Request

from genloom.cache import Cache
from genloom.cost import request_cost
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
    metrics: Metrics
    audit: AuditLog
    engine_factory: Callable[[str], Engine]
    kb_factory: KBFactory
    kb_lister: Callable[[], list[str]]
    answer_factory: AnswerFactory
    embedder_factory: Callable[[], Any]
    embedder_id: Callable[[], str]  # names the embedder in cache keys without loading it (the spec)
    cache: Cache | None = None  # None: caching is off (cache_ttl = 0)
    min_concurrency: int = 1  # generations at once per backend, at least (a backend may allow more)
    started: int = field(default_factory=lambda: int(time.time()))
    uploads_dir: Path = field(default_factory=lambda: Path("uploads"))  # this process's upload temp folder
    draining: threading.Event = field(default_factory=threading.Event)  # set on SIGTERM: cancel ingests
    _engines: dict[str, Engine] = field(default_factory=dict)
    _queues: dict[str, GenerationQueue] = field(default_factory=dict)

    def check_model(self, model: str) -> None:
        """404 unless the server was started with ``model`` (checked before the cache is asked, so a model
        another server sharing the cache serves is not served here)."""
        if model not in self.models:
            raise APIError(
                404,
                f"The model {model!r} does not exist; use one of {', '.join(self.models)} or rag:<kb>"
                " (GET /v1/models lists them)",
                "invalid_request_error",
                code="model_not_found",
                param="model",
            )

    def engine(self, model: str) -> Engine:
        self.check_model(model)
        if model not in self._engines:
            self._engines[model] = self.engine_factory(model)
        return self._engines[model]

    def queue(self, model: str, concurrency: int | None = None) -> GenerationQueue:
        """The admission queue of ``model``'s backend. Each backend has its own: a local llama.cpp model runs
        as many generations at once as it can (``capabilities.concurrency``), a remote ``openai:`` one as many
        as ``openai_concurrency`` allows, and neither waits behind the other."""
        q = self._queues.get(model)
        if q is None:
            n = (
                concurrency
                if concurrency is not None
                else self.engine(model).backend.capabilities.concurrency
            )
            q = self._queues[model] = GenerationQueue(
                self.settings.queue_size, max(n, self.min_concurrency), on_change=self._depth_changed
            )
        return q

    @property
    def queue_depth(self) -> int:
        return sum(q.depth for q in self._queues.values())

    def _depth_changed(self, _depth: int) -> None:
        self.metrics.queue_depth.set(self.queue_depth)

    def start(self, make: Callable[[], Iterable[Any]], model: str) -> Generation:
        """Admit a generation to ``model``'s bounded queue (503 when full)."""
        try:
            ticket = self.queue(model).admit()
        except QueueFull as e:
            raise APIError(
                503, str(e), "server_error", code="queue_full", retry_after=e.retry_after
            ) from None
        return Generation(ticket, make, self.metrics.cancelled.inc)

    def limits_for(self, who: Principal) -> tuple[int, int]:
        rpm = who.rpm if who.rpm is not None else self.settings.rate_limit_rpm
        tpm = who.tpm if who.tpm is not None else self.settings.rate_limit_tpm
        return rpm, tpm

    def finish(
        self, who: Principal, rec: AuditRecord, t0: float, computed: tuple[int, int] | None = None
    ) -> None:
        """After a request: charge its tokens, count them, write its audit row.

        ``computed`` is the (prompt, completion) tokens this server actually processed when that is less than
        the response reports (answers from the cache): only those are charged and counted as work done.
        """
        rec.latency_ms = round((time.perf_counter() - t0) * 1000, 2)
        prompt, completion = computed if computed is not None else (rec.prompt_tokens, rec.completion_tokens)
        rec.cost = request_cost(rec.model, prompt, completion, rec.route, self.settings)  # issue 21
        self.limiter.charge(who.key_id, prompt + completion, self.limits_for(who)[1])
        if rec.model:
            self.metrics.count_tokens(rec.model, prompt, completion)
        self.metrics.count_guard(rec.guard)
        self.audit.write(rec)


def get_state(request: Request) -> State:
    state: State = request.app.state.genloom
    return state
