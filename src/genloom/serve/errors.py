"""Errors at the HTTP edge: genloom's error tree → OpenAI error objects with the status codes the SDK maps.

    {"error": {"message": "...", "type": "invalid_request_error", "param": null, "code": null}}

UserError 400 · NotFound 404 · Conflict 409 · AccessDenied 403 · BackendError 502 (503 if retryable) · GuardViolation 400 ·
unauthenticated 401 · rate limited 429 · queue full 503 · body too large 413. Every 429/503 has Retry-After.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from genloom.errors import (
    AccessDenied,
    BackendError,
    Conflict,
    ContextOverflow,
    GenloomError,
    GuardViolation,
    NotFound,
    UserError,
)
from genloom.serve.audit_refusals import record_refusal


class APIError(Exception):
    """An HTTP error with an OpenAI error body; ``retry_after`` (seconds) adds the Retry-After header."""

    def __init__(
        self,
        status: int,
        message: str,
        type: str,
        *,
        code: str | None = None,
        param: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type = status, message, type
        self.code, self.param, self.retry_after = code, param, retry_after

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def response(self) -> JSONResponse:
        headers = {}
        if self.retry_after is not None:
            headers["Retry-After"] = str(max(1, math.ceil(self.retry_after)))
        return JSONResponse(self.body(), status_code=self.status, headers=headers)


def from_genloom(e: GenloomError) -> APIError:
    """Map the library's error tree onto HTTP; the hint travels in the message."""
    msg = str(e)
    if isinstance(e, ContextOverflow):  # the CLI's hint names flags: an API client is told its own fields
        return APIError(400, f"{e.message}; shorten the messages or lower max_tokens", "invalid_request_error",
                        code="context_length_exceeded", param="messages")  # fmt: skip
    if isinstance(e, Conflict):
        return APIError(409, msg, "invalid_request_error", code="conflict")
    if isinstance(e, NotFound):
        return APIError(404, msg, "invalid_request_error", code="not_found")
    if isinstance(e, UserError):
        return APIError(400, msg, "invalid_request_error")
    if isinstance(e, AccessDenied):
        return APIError(403, msg, "permission_error", code="access_denied")
    if isinstance(e, GuardViolation):
        return APIError(400, msg, "invalid_request_error", code="content_filter")
    if isinstance(e, BackendError):
        if e.retryable:
            return APIError(503, msg, "server_error", code="backend_unavailable", retry_after=5)
        return APIError(502, msg, "server_error", code="backend_error")
    return APIError(500, msg, "server_error")


def to_api_error(e: BaseException) -> APIError:
    from genloom.serve.worker import Cancelled

    if isinstance(e, APIError):
        return e
    if isinstance(e, Cancelled):
        return APIError(499, "the client closed the request", "cancelled", code="client_closed_request")
    if isinstance(e, GenloomError):
        return from_genloom(e)
    return APIError(500, f"internal error ({type(e).__name__})", "server_error", code="internal_error")


_STATUS_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_exceeded",
}


def allowed_methods(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in request.app.routes:
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


_TAGS = {"str", "int", "float", "bool", "list", "dict", "none", "literal"}


def _tag(segment: Any) -> bool:
    """A union-member tag pydantic puts in an error's location (``str``, ``list[str]``, ``constrained-str``),
    not a field: dropped, so ``param`` names the field the client sent."""
    s = str(segment)
    return isinstance(segment, str) and (s in _TAGS or "[" in s or "-" in s)


def install(app: FastAPI) -> None:
    """Register handlers so every error leaves the server as an OpenAI error object."""

    @app.exception_handler(APIError)
    async def _api(request: Request, e: APIError) -> JSONResponse:
        record_refusal(request, e.status, e.code or e.type, e.message)  # 401 / 403 are audit rows
        return e.response()

    from genloom.serve.worker import Cancelled

    @app.exception_handler(Cancelled)
    async def _gone(request: Request, e: Cancelled) -> JSONResponse:
        return to_api_error(e).response()  # the client has left; nobody reads this

    @app.exception_handler(GenloomError)
    async def _genloom(request: Request, e: GenloomError) -> JSONResponse:
        api = from_genloom(e)
        record_refusal(request, api.status, api.code or api.type, api.message)
        return api.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, e: RequestValidationError) -> JSONResponse:
        errs = e.errors()
        first = errs[0] if errs else {}
        loc = [str(x) for x in first.get("loc", ()) if x not in ("body", "query", "path") and not _tag(x)]
        param = ".".join(loc) or None
        msg = f"{param + ': ' if param else ''}{first.get('msg', 'invalid request')}"
        if len(errs) > 1:
            msg += f" (and {len(errs) - 1} more problem{'s' if len(errs) > 2 else ''})"
        return APIError(400, msg, "invalid_request_error", param=param).response()

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, e: StarletteHTTPException) -> JSONResponse:
        kind = _STATUS_TYPES.get(
            e.status_code, "invalid_request_error" if e.status_code < 500 else "server_error"
        )
        response = APIError(e.status_code, str(e.detail), kind).response()
        response.headers.update(e.headers or {})
        if e.status_code == 405:  # Allow: every method of every route on this path (not only the first's)
            response.headers["Allow"] = ", ".join(allowed_methods(request))
        return response

    @app.exception_handler(Exception)
    async def _crash(request: Request, e: Exception) -> JSONResponse:
        return to_api_error(e).response()
