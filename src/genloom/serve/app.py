"""The app factory: ``create_app()`` wires settings, keys, limits, cache, queue, metrics, audit log and routes.

Every seam can be injected (tests pass fakes; the defaults import the real parts lazily):

    app = create_app(settings, models=["fake:"], kb_factory=..., embedder=..., answer_factory=...)
    uvicorn.run(app, host="127.0.0.1", port=8000)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from importlib import resources
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from genloom import __version__
from genloom.cache import Cache, cache_from_settings
from genloom.generate import Engine
from genloom.serve import errors
from genloom.serve.audit import AuditLog
from genloom.serve.auth import KeyStore
from genloom.serve.errors import APIError
from genloom.serve.limits import RateLimiter
from genloom.serve.limits_redis import limiter_from_settings
from genloom.serve.metrics import Metrics
from genloom.serve.queue import GenerationQueue
from genloom.serve.state import AnswerFactory, KBFactory, State
from genloom.settings import Settings, get_settings


class BodyLimit:
    """413 for request bodies above ``limit`` bytes, whether or not Content-Length is sent."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        too_big = APIError(413, f"the request body is larger than {self.limit} bytes", "invalid_request_error",
                           code="request_too_large")  # fmt: skip
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            return await too_big.response()(scope, receive, send)
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.limit:
                    raise too_big
            return msg

        await self.app(scope, counted, send)


class Observe:
    """Count every request and time it to its last byte (a whole stream, for SSE), by route and status.

    Pure ASGI rather than BaseHTTPMiddleware: it does not buffer streams or hide client disconnects.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0, status = time.perf_counter(), [500]

        async def sending(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                status[0] = msg["status"]
            await send(msg)

        try:
            await self.app(scope, receive, sending)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(path, scope["method"], str(status[0])).inc()
            self.metrics.latency.labels(path).observe(time.perf_counter() - t0)
            if status[0] >= 400 and not path.startswith(("/v1/chat", "/v1/completions")):
                self.metrics.errors.labels(str(status[0]), "").inc()  # generation routes count their own


def _default_kb_factory(settings: Settings) -> KBFactory:
    def open_kb(name: str, create: bool) -> Any:
        from genloom.kb import KnowledgeBase

        return KnowledgeBase.open(name, settings=settings, create=create)

    return open_kb


def _default_kb_lister(settings: Settings) -> Callable[[], list[str]]:
    def names() -> list[str]:
        try:
            from genloom.kb import KnowledgeBase
        except ImportError:
            return []
        out = []
        for k in KnowledgeBase.list(settings):
            out.append(k if isinstance(k, str) else getattr(k, "name", None) or k["name"])
        return out

    return names


def _default_answer_factory(settings: Settings) -> AnswerFactory:
    def answer(question: str, **options: Any) -> Iterable[str]:
        from genloom.rag import AnswerStream

        return AnswerStream(question, settings=settings, **options)

    return answer


def _default_embedder(settings: Settings) -> Callable[[], Any]:
    cache: list[Any] = []

    def get() -> Any:
        if not cache:
            from genloom.backends.embed import resolve_embedder

            cache.append(resolve_embedder(getattr(settings, "embedder", None)))
        return cache[0]

    return get


def _embedder_id(embedder: Any) -> str:
    """An injected embedder's id for cache keys: its ``info()["id"]`` (the Embedder protocol's), else its class."""
    info = getattr(embedder, "info", None)
    if callable(info):
        return str(info()["id"])
    return f"{type(embedder).__module__}.{type(embedder).__qualname__}"


def create_app(
    settings: Settings | None = None,
    *,
    models: Sequence[str] | None = None,
    keys: KeyStore | None = None,
    limiter: RateLimiter | None = None,
    cache: Cache | None = None,
    engine_factory: Callable[[str], Engine] | None = None,
    kb_factory: KBFactory | None = None,
    kb_lister: Callable[[], list[str]] | None = None,
    answer_factory: AnswerFactory | None = None,
    embedder: Any = None,
    concurrency: int = 1,
) -> FastAPI:
    s = settings or get_settings()
    metrics = Metrics()
    state = State(
        settings=s,
        models=list(models or [s.model]),
        keys=keys if keys is not None else KeyStore.from_settings(s),
        limiter=limiter or limiter_from_settings(s),
        queue=GenerationQueue(s.queue_size, concurrency, on_change=metrics.queue_depth.set),
        metrics=metrics,
        audit=AuditLog(s.ensure_home() / "audit.db"),
        engine_factory=engine_factory or (lambda spec: Engine(spec, s)),
        kb_factory=kb_factory or _default_kb_factory(s),
        kb_lister=kb_lister or _default_kb_lister(s),
        answer_factory=answer_factory or _default_answer_factory(s),
        embedder_factory=(lambda: embedder) if embedder is not None else _default_embedder(s),
        embedder_id=(lambda: _embedder_id(embedder)) if embedder is not None else (lambda: s.embedder),
        # cache_ttl = 0 turns caching off, an injected cache included
        cache=None if s.cache_ttl == 0 else cache if cache is not None else cache_from_settings(s),
    )
    app = FastAPI(
        title="genloom",
        version=__version__,
        description="OpenAI-compatible API over local models and grounded answers from your knowledge bases.",
    )
    app.state.genloom = state
    errors.install(app)

    app.add_middleware(Observe, metrics=metrics)
    app.add_middleware(BodyLimit, limit=s.max_request_bytes)

    from genloom.serve import routes_embed, routes_images, routes_kb, routes_openai

    app.include_router(routes_openai.router)
    app.include_router(routes_embed.router)
    app.include_router(routes_kb.router)
    app.include_router(routes_images.router)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "models": state.models, "queue_depth": state.queue.depth,
                "auth": "keys" if state.keys.enabled else "local-only"}  # fmt: skip

    @app.get("/metrics", tags=["ops"], response_class=Response)
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=metrics.content_type)

    static = resources.files("genloom.serve") / "static"

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(str(static / "index.html"))

    @app.get("/v1/config", include_in_schema=False)
    async def ui_config() -> JSONResponse:
        return JSONResponse({"auth": state.keys.enabled, "models": state.models})

    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    app.router.on_shutdown.append(state.audit.close)
    return app
