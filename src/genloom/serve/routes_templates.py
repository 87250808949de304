"""Task templates over the API (issue 21).

    GET  /v1/templates                 every template: name, versions, latest summary
    GET  /v1/templates/{name}          one version's summary (?version=N, default the latest)
    POST /v1/templates/{name}/run      {"version"?, "variables": {...}, "model"?, "stream"?, sampling...}

A run answers ``{"id", "object": "template.run", "template": "name@vN", "template_sha256", "model", "text",
"value", "finish_reason", "usage"}`` (``value``: the validated JSON when the template has an output schema), or
with ``stream: true`` server-sent events ``{"delta": "..."}`` then one ``{"finish_reason", "usage", "value"}``
and ``[DONE]``. The audit row names the template version that ran; the model is the request's, else the
template's default when this server serves it, else the server's default.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as FPath
from fastapi.responses import Response, StreamingResponse
from pydantic import Field

from genloom.errors import UserError
from genloom.prompts.catalog import NAME_PATTERN, Pins, load, names, versions
from genloom.prompts.run import prepare
from genloom.serve import routing
from genloom.serve.audit import AuditRecord
from genloom.serve.auth import Principal
from genloom.serve.body import JSON_INT, Body
from genloom.serve.deps import caller
from genloom.serve.errors import APIError, to_api_error
from genloom.serve.openai_reply import sse, usage_dict
from genloom.serve.routes_openai import ERRORS, STREAMS
from genloom.serve.state import State, get_state
from genloom.serve.usage import enforce_budget
from genloom.serve.worker import Cancelled, text_of

router = APIRouter(prefix="/v1/templates", tags=["templates"], responses=ERRORS)


TemplateName = Annotated[str, FPath(pattern=NAME_PATTERN)]  # what the catalog accepts, said in the document


class TemplateRunRequest(Body):
    version: Annotated[int, Field(ge=1), JSON_INT] | None = None
    variables: dict[str, Any] = Field(default_factory=dict)
    model: str | None = None
    stream: bool = False
    max_tokens: Annotated[int, Field(ge=1), JSON_INT] | None = None
    temperature: float | None = Field(default=None, ge=0)
    seed: Annotated[int, Field(ge=0, lt=2**32), JSON_INT] | None = None


def _ref(name: str, version: int | None) -> str:
    return name if version is None else f"{name}@v{version}"


@router.get("")
async def list_templates(request: Request, who: Principal = Depends(caller)) -> dict[str, Any]:
    s = get_state(request).settings
    data = [{**load(n, s).summary(), "versions": sorted(versions(n, s))} for n in names(s)]
    for d in data:
        d.pop("source", None)  # a server path is no business of the client's
    return {"object": "list", "data": data}


@router.get("/{name}")
async def get_template(
    name: TemplateName,
    request: Request,
    version: int | None = Query(default=None, ge=1),
    who: Principal = Depends(caller),
) -> dict[str, Any]:
    s = get_state(request).settings
    d = {**load(_ref(name, version), s).summary(), "versions": sorted(versions(name, s))}
    d.pop("source", None)
    return d


def _pins(request: Request, st: State) -> Pins:
    pins = getattr(request.app.state, "template_pins", None)
    if pins is None:
        pins = request.app.state.template_pins = Pins(st.settings)
        request.app.router.on_shutdown.append(pins.close)
    return pins


def _model(st: State, asked: str | None, default: str | None) -> str:
    if asked is not None:
        st.check_model(asked)
        return asked
    return default if default in st.models else st.models[0]


@router.post("/{name}/run", responses=STREAMS)
async def run_template(
    name: TemplateName, body: TemplateRunRequest, request: Request, who: Principal = Depends(caller)
) -> Any:
    st = get_state(request)
    enforce_budget(st.audit, st.settings, who.key_id)
    split = routing.ab_arm(st, who, name) if body.version is None else None  # online A/B: the key's version
    try:
        ref = _ref(name, body.version) if split is None else f"{name}@{split[0]}"
        run = prepare(ref, body.variables, settings=st.settings, pins=_pins(request, st),
                      max_tokens=body.max_tokens, temperature=body.temperature, seed=body.seed)  # fmt: skip
    except UserError as e:
        if type(e) is UserError:  # bad variables: a 400 naming them (NotFound stays a 404)
            raise APIError(400, str(e), "invalid_request_error", param="variables") from None
        raise
    limit = st.settings.max_tokens_limit
    if run.params.max_tokens > limit:
        raise APIError(400, f"max_tokens is {run.params.max_tokens}, above this server's limit of {limit}",
                       "invalid_request_error", param="max_tokens")  # fmt: skip
    model = _model(st, body.model, run.template.model)
    rid = f"tplrun-{uuid.uuid4().hex[:24]}"
    rec = AuditRecord(rid, who.key_id, "/v1/templates/run", model=model, template=run.template.id,
                      prompt=[m.to_dict() for m in run.messages])  # fmt: skip
    if split is not None:
        rec.route = {**split[1], "model": model}
    model = routing.choose(st, who, model, run.messages, rec, template=run.template.name)
    t0 = time.perf_counter()
    engine = st.engine(model)
    gen = st.start(lambda: run.stream(engine), model)
    head = {"id": rid, "template": run.template.id, "template_sha256": run.template.sha256, "model": model}

    def finish(status: int = 200, error: BaseException | None = None) -> dict[str, Any]:
        c = getattr(gen.source, "completion", None)
        if c is not None:
            rec.prompt_tokens, rec.completion_tokens = c.usage.prompt_tokens, c.usage.completion_tokens
            rec.finish_reason = c.finish_reason
            rec.route = routing.merge(rec.route, c.route)
        rec.status = status
        if error is not None:
            api = to_api_error(error)
            rec.status, rec.error_type = api.status, api.code or api.type
        st.finish(who, rec, t0)
        return {"finish_reason": rec.finish_reason, "value": getattr(gen.source, "value", None),
                "usage": usage_dict(rec.prompt_tokens, rec.completion_tokens) | {"cost": rec.cost},
                **routing.extra(rec.route)}  # fmt: skip

    if not body.stream:
        try:
            text = await gen.collect(request)
        except Cancelled as e:
            finish(499, e)
            return Response(status_code=499)
        except BaseException as e:
            finish(500, e)
            raise
        rec.output = text
        out = {**head, "object": "template.run", "text": text, **finish()}
        return routing.respond(out, rec.route)

    try:
        first = await gen.first(request)
    except Cancelled as e:
        finish(499, e)
        return Response(status_code=499)
    except BaseException as e:
        finish(500, e)
        raise

    async def events() -> AsyncIterator[str]:
        parts: list[str] = []
        error: BaseException | None = None
        try:
            yield sse({**head, "object": "template.run.chunk"})
            if first is not None and text_of(first):
                parts.append(text_of(first))
                yield sse({"delta": text_of(first)})
            async for p in gen.rest():
                if text_of(p):
                    parts.append(text_of(p))
                    yield sse({"delta": text_of(p)})
        except Exception as e:
            error = e
            yield sse(to_api_error(e).body())
        finally:
            rec.output = "".join(parts)
            end = finish(500 if error else 499 if gen.cancelled else 200, error)
        if error is None:
            yield sse(end)
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


__all__ = ["router"]
