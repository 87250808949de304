"""OpenTelemetry traces, as a thin helper that costs nothing when tracing is off (issue 21).

Off by default (setting ``tracing = ""``): :func:`span` is then a no-op and OpenTelemetry is never imported.
With ``tracing = "otlp"`` (extra ``genloom[tracing]``) spans go to ``otlp_endpoint`` (OTLP/HTTP, protobuf):

    server span (FastAPI) ─► rag.answer ─► rag.retrieve, rag.evidence, rag.generate ─► llm.generate, rag.verify
                                                                                     ─► guard

Attributes follow OpenTelemetry's GenAI conventions where one exists (``gen_ai.request.model``,
``gen_ai.usage.input_tokens``, ...); genloom's own are ``genloom.*``. Tests pass an exporter to :func:`setup`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

from genloom.errors import MissingDependency
from genloom.settings import Settings

_tracer: Any = None  # an opentelemetry Tracer while tracing is on
_provider: Any = None


class _Noop:
    def set(self, **attrs: Any) -> None:
        pass


class _Live:
    def __init__(self, span: Any) -> None:
        self.span = span

    def set(self, **attrs: Any) -> None:
        for k, v in attrs.items():
            if v is not None:
                self.span.set_attribute(k, v if isinstance(v, (str, bool, int, float)) else str(v))


_NOOP = _Noop()


def enabled() -> bool:
    return _tracer is not None


@contextlib.contextmanager
def span(name: str, **attrs: Any) -> Iterator[_Noop | _Live]:
    """A child span of the current one; ``.set(**attrs)`` adds attributes (None values are skipped)."""
    if _tracer is None:
        yield _NOOP
        return
    with _tracer.start_as_current_span(name) as s:
        live = _Live(s)
        live.set(**attrs)
        yield live


def record(name: str, start: float, end: float, **attrs: Any) -> None:
    """A finished span from ``start`` to ``end`` (``time.time()`` seconds) under the current span: for work
    timed as it ran (a lazily read stream), recorded once its numbers (tokens, finish reason) are known."""
    if _tracer is None:
        return
    s = _tracer.start_span(name, start_time=int(start * 1e9))
    _Live(s).set(**attrs)
    s.end(end_time=int(end * 1e9))


def record_completion(completion: Any, t0: float) -> None:
    """The span of one engine generation (``t0``: its ``time.perf_counter()`` start), model and tokens."""
    if _tracer is None or completion is None:
        return
    end = time.time()
    c = completion
    record("llm.generate", end - (time.perf_counter() - t0), end, **{
        "gen_ai.request.model": c.model, "gen_ai.usage.input_tokens": c.usage.prompt_tokens,
        "gen_ai.usage.output_tokens": c.usage.completion_tokens, "gen_ai.response.finish_reasons": c.finish_reason,
        "genloom.seed": c.seed, "genloom.time_to_first_token": c.timings.time_to_first_token})  # fmt: skip


def flush() -> None:
    if _provider is not None:
        _provider.force_flush()


def setup(settings: Settings, exporter: Any = None) -> bool:
    """Turn tracing on when the settings ask for it (or an ``exporter`` is given); return whether it is on.

    Spans are batched to the OTLP endpoint; a test's exporter gets each span as it ends."""
    global _tracer, _provider
    if not settings.tracing and exporter is None:
        return False
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    except ImportError:
        raise MissingDependency("opentelemetry-sdk", "tracing") from None
    from genloom import __version__

    provider = TracerProvider(
        resource=Resource.create({"service.name": "genloom", "service.version": __version__})
    )
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            raise MissingDependency("opentelemetry-exporter-otlp-proto-http", "tracing") from None
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otlp_endpoint)))
    shutdown()
    _provider, _tracer = provider, provider.get_tracer("genloom", __version__)
    return True


def instrument(app: Any) -> None:
    """Server spans for every request of a FastAPI app (when tracing is on)."""
    if _provider is None:
        return
    try:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    except ImportError:
        raise MissingDependency("opentelemetry-instrumentation-fastapi", "tracing") from None
    FastAPIInstrumentor.instrument_app(app, tracer_provider=_provider, exclude_spans=["receive", "send"])


def shutdown() -> None:
    """Flush and stop (spans still buffered are exported); tracing is off afterwards."""
    global _tracer, _provider
    if _provider is not None:
        _provider.shutdown()
    _tracer = _provider = None


__all__ = ["enabled", "flush", "instrument", "record", "record_completion", "setup", "shutdown", "span"]
