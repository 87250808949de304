"""The OpenAPI document (``GET /openapi.json``): FastAPI's, made to say what this server accepts.

Two things FastAPI's generator cannot know are written in: the server's ``max_tokens_limit`` (a larger
``max_tokens`` is a 400 naming it) as each generation request's ``maximum``; and that a request that fails
validation is a 400 with the OpenAI error body (serve/errors.py), not FastAPI's 422 ``HTTPValidationError``,
whose schema is dropped. (The one 422 genloom answers, an upload that stored nothing, is declared on its route.)
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

# the request fields that the server's max_tokens_limit caps, by schema
LIMITED = {
    "ChatCompletionRequest": ("max_tokens", "max_completion_tokens"),
    "CompletionRequest": ("max_tokens",),
    "TemplateRunRequest": ("max_tokens",),
}
_FASTAPI_422 = "#/components/schemas/HTTPValidationError"


def _cap(prop: dict[str, Any], limit: int) -> None:
    for member in prop.get("anyOf", [prop]):
        if member.get("type") == "integer":
            member["maximum"] = limit


def _is_fastapi_422(response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return bool(schema.get("$ref") == _FASTAPI_422)


def build(app: FastAPI, max_tokens_limit: int) -> dict[str, Any]:
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schemas = doc.get("components", {}).get("schemas", {})
    for name, fields in LIMITED.items():
        for field in fields:
            _cap(schemas[name]["properties"][field], max_tokens_limit)
    for path in doc.get("paths", {}).values():
        for op in path.values():
            responses = op.get("responses", {})
            if "422" in responses and _is_fastapi_422(responses["422"]):
                del responses["422"]
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    return doc


def install(app: FastAPI, max_tokens_limit: int) -> None:
    """``app.openapi()`` answers this document (built once, on first use)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app, max_tokens_limit)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
