"""Prometheus metrics for one app instance (its own registry, so several apps can live in one process)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
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

    def count_tokens(self, model: str, prompt: int, completion: int) -> None:
        self.tokens.labels("in", model).inc(prompt)
        self.tokens.labels("out", model).inc(completion)

    def render(self) -> bytes:
        return generate_latest(self.registry)
