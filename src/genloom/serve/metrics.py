"""Prometheus metrics for one app instance (its own registry, so several apps can live in one process).

Every label takes values from a known, bounded set, never raw client input: ``model`` is one of the server's
models (or ``rag`` for every ``rag:<kb>``, ``other`` for anything else), ``method`` an HTTP method or
``other``, ``route`` a route template or ``unmatched``, and an error's ``code`` its code or ``none``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self, models: Iterable[str] = ()) -> None:
        self.models = set(models)  # the model label's values (the app sets them once it knows its models)
        r = self.registry = CollectorRegistry()
        self.requests = Counter(
            "genloom_requests", "HTTP requests served", ["route", "method", "status"], registry=r
        )
        self.latency = Histogram(
            "genloom_request_latency_seconds", "Request latency", ["route"], buckets=_LATENCY, registry=r
        )
        self.tokens = Counter("genloom_tokens", "Tokens processed", ["direction", "model"], registry=r)
        self.ttft = Histogram(
            "genloom_time_to_first_token_seconds",
            "Time from request to the first generated text",
            ["model"],
            buckets=_LATENCY,
            registry=r,
        )
        self.queue_depth = Gauge("genloom_queue_depth", "Generations running or waiting", registry=r)
        self.errors = Counter("genloom_errors", "Error responses by type", ["type", "code"], registry=r)
        self.cancelled = Counter(
            "genloom_generations_cancelled", "Generations stopped because the client went away", registry=r
        )
        self.cache = Counter(
            "genloom_cache_requests",
            "Cache lookups: cacheable chat and text completions, and embedding inputs (one per text)",
            ["kind", "result"],
            registry=r,
        )
        self.guard_actions = Counter(
            "genloom_guard_actions",
            "What the guards did (genloom.guard): allow = found and recorded, redact, block",
            ["guard", "where", "action"],
            registry=r,
        )

    def count_guard(self, findings: list[dict[str, Any]]) -> None:
        """Count the guards' actions of one request (labels: registered guard names, known places/actions)."""
        for f in findings:
            self.guard_actions.labels(f["guard"], f["where"], f["action"]).inc()

    def model(self, name: str) -> str:
        """The ``model`` label for a requested model name (bounded: see the module's doc)."""
        if name in self.models:
            return name
        return "rag" if name.startswith("rag:") else "other"

    @staticmethod
    def method(name: str) -> str:
        return name if name in METHODS else "other"

    @staticmethod
    def code(code: str | None) -> str:
        return code or "none"

    def count_tokens(self, model: str, prompt: int, completion: int) -> None:
        label = self.model(model)
        self.tokens.labels("in", label).inc(prompt)
        self.tokens.labels("out", label).inc(completion)

    def render(self) -> bytes:
        return generate_latest(self.registry)
