"""The app factory: ``create_app()`` wires settings, keys, limits, cache, queue, metrics, audit log and routes.

Every seam can be injected (tests pass fakes; the defaults import the real parts lazily):

    app = create_app(settings, models=["fake:"], kb_factory=..., embedder=..., answer_factory=...)
    uvicorn.run(app, host="127.0.0.1", port=8000)
"""

from __future__ import annotations

import hmac
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from genloom import __version__
from genloom.cache import Cache, cache_from_settings
from genloom.generate import Engine
from genloom.serve import errors, openapi_doc
from genloom.serve.access import guarded_answers, visible_lister
from genloom.serve.audit import AuditLog
from genloom.serve.auth import KeyStore, bearer
from genloom.serve.deps import identify, unauthorized
from genloom.serve.errors import APIError
from genloom.serve.limits import RateLimiter
from genloom.serve.limits_redis import limiter_from_settings
from genloom.serve.local_guard import LocalGuard
from genloom.serve.metrics import Metrics
from genloom.serve.schemas import ErrorResponse
from genloom.serve.state import AnswerFactory, KBFactory, State
from genloom.serve.uploads import process_dir
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
            self.metrics.requests.labels(path, self.metrics.method(scope["method"]), str(status[0])).inc()
            self.metrics.latency.labels(path).observe(time.perf_counter() - t0)
            if status[0] >= 400 and not path.startswith(("/v1/chat", "/v1/completions")):
                self.metrics.errors.labels(str(status[0]), "none").inc()  # generation routes count their own


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
        from genloom.route.rag_cascade import answer_stream  # an AnswerStream, or a cascade of two (issue 21)

        return answer_stream(question, settings=settings, **options)

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
    kb_factory = kb_factory or _default_kb_factory(s)
    key_store = keys if keys is not None else KeyStore.from_settings(s)
    state = State(
        settings=s,
        models=list(models or [s.model]),
        keys=key_store,
        limiter=limiter or limiter_from_settings(s),
        metrics=metrics,
        audit=AuditLog(s.ensure_home() / "audit.db", s),
        engine_factory=engine_factory or (lambda spec: Engine(spec, s)),
        kb_factory=kb_factory,
        # the KB names and rag answers a caller gets: only knowledge bases it may see (serve/access.py)
        kb_lister=visible_lister(kb_lister or _default_kb_lister(s), kb_factory),
        answer_factory=guarded_answers(
            answer_factory or _default_answer_factory(s), kb_factory, {f"key:{n}" for n in key_store.admins()}
        ),
        embedder_factory=(lambda: embedder) if embedder is not None else _default_embedder(s),
        embedder_id=(lambda: _embedder_id(embedder)) if embedder is not None else (lambda: s.embedder),
        # cache_ttl = 0 turns caching off, an injected cache included
        cache=None if s.cache_ttl == 0 else cache if cache is not None else cache_from_settings(s),
        min_concurrency=concurrency,
        uploads_dir=process_dir(s.ensure_home() / "uploads"),
    )
    metrics.models = {*state.models, state.embedder_id()}  # the model label's values (serve/metrics.py)
    app = FastAPI(
        title="genloom",
        version=__version__,
        description="OpenAI-compatible API over local models and grounded answers from your knowledge bases.",
        docs_url=None,  # /docs and /openapi.json are served below: behind a key when keys are configured
        redoc_url=None,
        openapi_url=None,
    )
    app.state.genloom = state
    errors.install(app)
    openapi_doc.install(app, s.max_tokens_limit)

    # the last added runs first: CORS, body limit, metrics (so refusals are counted too), the local guard
    if not state.keys.enabled:  # the local owner's mode: no DNS rebinding, no cross-site writes
        app.add_middleware(LocalGuard, hosts=s.names("allowed_hosts"), origins=s.names("cors_origins"))
    app.add_middleware(Observe, metrics=metrics)
    app.add_middleware(BodyLimit, limit=s.max_request_bytes)
    if s.names("cors_origins"):  # CORS is off unless origins are listed
        app.add_middleware(CORSMiddleware, allow_origins=s.names("cors_origins"), allow_credentials=False,
                           allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "Cache-Control"],
                           expose_headers=["x-genloom-cache", "Retry-After"])  # fmt: skip

    from genloom.serve import routes_agent, routes_embed, routes_images, routes_kb, routes_openai

    app.include_router(routes_openai.router)
    app.include_router(routes_embed.router)
    app.include_router(routes_kb.router)
    app.include_router(routes_agent.router)
    app.include_router(routes_images.router)
    from genloom.serve import routes_provenance  # watermark detection, manifest verification (issue 16)

    app.include_router(routes_provenance.router)

    # conversations + UI preferences (per key) and feedback on answers (in the audit database)
    from genloom.conversations import open_conversations
    from genloom.serve import routes_conversations, routes_feedback

    app.state.conversations = open_conversations(s)
    app.router.on_shutdown.append(app.state.conversations.close)
    app.include_router(routes_conversations.router)
    app.include_router(routes_feedback.router)

    # issue 21: task templates, usage and budgets (the price table is checked now: a typo fails the start)
    from genloom.cost import check as check_prices
    from genloom.serve import routes_templates, routes_usage

    check_prices(s)
    from genloom.serve.routing import check_routes

    check_routes(state)
    app.include_router(routes_templates.router)
    app.include_router(routes_usage.router)
    from genloom import tracing  # OpenTelemetry: off unless settings.tracing (or a test set an exporter up)

    if s.tracing and not tracing.enabled():
        tracing.setup(s)
    tracing.instrument(app)
    app.router.on_shutdown.append(tracing.flush)

    # Without a key only these answer: /healthz (status only), / and /static (the UI shell), /v1/config
    # (whether a key is needed). With a key (or without keys configured) the rest, including the details.
    @app.get("/healthz", tags=["ops"])
    async def healthz(request: Request) -> dict[str, Any]:
        if identify(request) is None:
            return {"status": "ok"}
        return {"status": "ok", "version": __version__, "models": state.models, "queue_depth": state.queue_depth,
                "auth": "keys" if state.keys.enabled else "local-only"}  # fmt: skip

    @app.get("/metrics", tags=["ops"], response_class=Response,
             responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                              "description": "Prometheus' text format"},
                        401: {"model": ErrorResponse}})  # fmt: skip
    async def prometheus(request: Request) -> Response:
        presented = bearer(request.headers.get("authorization")) or ""
        metrics_key = bool(s.metrics_key) and hmac.compare_digest(presented.encode(), s.metrics_key.encode())
        if not metrics_key and identify(request) is None:
            raise unauthorized()
        return Response(metrics.render(), media_type=metrics.content_type)

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(request: Request) -> JSONResponse:
        if identify(request) is None:
            raise unauthorized()
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        if identify(request) is None:
            raise unauthorized()
        return get_swagger_ui_html(openapi_url="/openapi.json", title="genloom API")

    static = resources.files("genloom.serve") / "static"

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(str(static / "index.html"))

    @app.get("/v1/config", include_in_schema=False)
    async def ui_config(request: Request) -> JSONResponse:
        if identify(request) is None:  # the UI asks before it has a key: only whether it needs one
            return JSONResponse({"auth": state.keys.enabled})
        return JSONResponse({"auth": state.keys.enabled, "models": state.models})

    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    app.router.on_shutdown.append(state.audit.close)
    app.router.on_shutdown.append(lambda: shutil.rmtree(state.uploads_dir, ignore_errors=True))
    return app
