"""The OpenAI-compatible endpoints: /v1/models, /v1/chat/completions, /v1/completions.

A model id is either an LLM the server was started with (e.g. ``llamacpp:``) or ``rag:<kb>``: a grounded
answer from that knowledge base, whose message carries ``[n]`` markers plus ``citations`` and ``refused``
(streaming: in the final chunk), so any OpenAI client can use it unchanged.

Reproducible completions are cached (see genloom.serve.openai_reply): a repeated request is answered from the cache
without the queue or the engine, with a fresh ``id``/``created`` and the header ``x-genloom-cache: hit``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import asdict, replace
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse

from genloom.errors import GuardViolation, UserError
from genloom.guard.runner import for_key
from genloom.guard.stream import OutputGuard, check_input, input_text
from genloom.rag import ANSWER_PARAMS, answer_model
from genloom.serve import routing
from genloom.serve import schemas as S
from genloom.serve.audit import AuditRecord
from genloom.serve.auth import Principal
from genloom.serve.deps import caller
from genloom.serve.embed_input import embedding_names
from genloom.serve.errors import APIError, to_api_error
from genloom.serve.logprobs import chat_block, chat_requested, completion_block
from genloom.serve.manifests import sign_reply
from genloom.serve.openai_reply import Reply, cache_slot, from_cache, sse, store_reply
from genloom.serve.state import State, get_state
from genloom.serve.worker import Cancelled, Generation, Piece, text_of
from genloom.structured import Tools, from_response_format, parse_tools
from genloom.types import Delta, Message, SamplingParams, ToolCall

router = APIRouter(tags=["openai"])
ERRORS: dict[int | str, dict[str, Any]] = {
    c: {"model": S.ErrorResponse} for c in (400, 401, 403, 404, 413, 429, 502, 503)
}
# a route that streams with "stream": true: its 200 is JSON or server-sent events
STREAMS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}, "description": "JSON, or SSE"},
}


def _cards(st: State) -> list[S.ModelCard]:
    """The LLMs, the embedder and the ``rag:<kb>`` models of the knowledge bases this caller may see."""
    ids = [*st.models, st.embedder_id(), *(f"rag:{kb}" for kb in st.kb_lister())]
    return [S.ModelCard(id=m, created=st.started, owned_by="genloom") for m in dict.fromkeys(ids)]


@router.get("/v1/models", response_model=S.ModelList, responses=ERRORS)
async def list_models(request: Request, who: Principal = Depends(caller)) -> S.ModelList:
    return S.ModelList(data=_cards(get_state(request)))


@router.get("/v1/models/{model_id:path}", response_model=S.ModelCard, responses=ERRORS)
async def get_model(model_id: str, request: Request, who: Principal = Depends(caller)) -> S.ModelCard:
    """One model, as listed (an embedder also by its bare name, e.g. ``minilm``); 404 for any other id."""
    st = get_state(request)
    for card in _cards(st):
        if model_id == card.id or (card.id == st.embedder_id() and model_id in embedding_names(card.id)):
            return card
    raise APIError(404, f"The model {model_id!r} does not exist (GET /v1/models lists them)",
                   "invalid_request_error", code="model_not_found", param="model")  # fmt: skip


def _params(
    req: S._Sampling,
    st: State,
    max_tokens: int | None,
    logprobs: int | None = None,
    base: SamplingParams | None = None,
) -> SamplingParams:
    """The request's sampling over ``base`` (the defaults: SamplingParams', or a grounded answer's)."""
    limit = st.settings.max_tokens_limit
    if max_tokens is not None and max_tokens > limit:
        raise APIError(
            400,
            f"max_tokens is {max_tokens}, above this server's limit of {limit}",
            "invalid_request_error",
            param="max_tokens",
        )
    base = base or SamplingParams()
    p = replace(base, max_tokens=min(max_tokens or base.max_tokens, limit), stop=req.stops(),
                seed=base.seed if req.seed is None else req.seed, logprobs=logprobs)  # fmt: skip
    for src, dst in (
        ("temperature", "temperature"),
        ("top_p", "top_p"),
        ("top_k", "top_k"),
        ("min_p", "min_p"),
    ):
        if getattr(req, src) is not None:
            setattr(p, dst, getattr(req, src))
    if (penalty := req.repetition_penalty or req.repeat_penalty) is not None:
        p.repeat_penalty = penalty
    return p.validate()


def _messages(msgs: list[S.ChatMessage]) -> list[Message]:
    role = {"developer": "system"}
    return [
        Message(
            role.get(m.role, m.role),  # type: ignore[arg-type]
            m.text(),
            [ToolCall(c.id, c.function.name, c.function.arguments) for c in m.tool_calls]
            if m.tool_calls
            else None,
            m.tool_call_id,
            m.name,
        )
        for m in msgs
    ]


def _tools(req: S.ChatCompletionRequest) -> Tools | None:
    """The request's tools, checked (a bad one is a 400 naming it)."""
    if req.tools is None and req.tool_choice is None and req.parallel_tool_calls is None:
        return None
    choice = (
        req.tool_choice.model_dump() if isinstance(req.tool_choice, S.NamedToolChoice) else req.tool_choice
    )
    tools = [t.model_dump(exclude_none=True) for t in req.tools] if req.tools is not None else None
    try:
        return parse_tools(tools, choice, req.parallel_tool_calls)
    except UserError as e:
        raise APIError(400, str(e), "invalid_request_error", param="tools") from None


def _fill_from_completion(rec: AuditRecord, gen: Generation, text: str) -> str:
    c = getattr(gen.source, "completion", None)
    rec.output = text
    if c is None:
        return "stop"
    if c.tool_calls:  # the audit keeps what the model asked to call
        calls = json.dumps([t.to_dict() for t in c.tool_calls], ensure_ascii=False)
        rec.output = f"{text}\n{calls}" if text else calls
    rec.prompt_tokens, rec.completion_tokens = c.usage.prompt_tokens, c.usage.completion_tokens
    rec.finish_reason = "stop" if c.finish_reason == "cancelled" else c.finish_reason
    rec.route = routing.merge(rec.route, c.route)  # issue 21: a cascade's decision
    return rec.finish_reason


def _fill_from_answer(rec: AuditRecord, gen: Generation, text: str) -> dict[str, Any]:
    a = getattr(gen.source, "answer", None)
    rec.output = text
    if a is None:
        return {"citations": [], "refused": False, "refusal": None, "claims": [], "query": None, "guard": []}
    rec.prompt_tokens, rec.completion_tokens = a.usage.prompt_tokens, a.usage.completion_tokens
    rec.template, rec.finish_reason = a.template, "stop"
    rec.route = routing.merge(rec.route, getattr(gen.source, "route", None))  # issue 21: a grounded cascade
    rec.chunk_ids = list(
        dict.fromkeys([*getattr(gen.source, "hit_ids", []), *(c.chunk_id for c in a.citations)])
    )
    if a.model:
        rec.model = f"{rec.model} ({a.model})"
    cites = [asdict(c) for c in a.citations]
    rec.guard = a.guard  # what the guards found (issue 14): audited, counted, and sent as ``guard``
    # claims (the verifier's dropped ones included) and the searched query: the web UI shows them (issue 13)
    return {"citations": cites, "refused": a.refused, "refusal": a.refusal_reason if a.refused else None,
            "claims": [asdict(c) for c in a.claims], "query": a.query, "guard": a.guard}  # fmt: skip


def _guard_input(rep: Reply, text: str) -> None:
    """The input guards (issue 14): a blocked request is audited, then answered 400 ``content_filter``."""
    r = check_input(for_key(rep.st.settings, rep.who.guard), text)  # the key's own policy, if it has one
    rep.rec.guard += r.to_list()
    try:
        r.raise_if_blocked()
    except GuardViolation as e:
        rep.done(None, error=e)
        raise


async def _respond(
    rep: Reply, gen: Generation, stream: bool, include_usage: bool, rag: bool, text_completion: bool = False
) -> Any:
    """Run ``gen`` and answer as JSON or as an SSE stream (errors before the first piece get a status code)."""
    if not stream:
        try:
            text = await gen.collect(rep.request)
        except Cancelled as e:  # nobody is listening: record it, answer 499 into the void
            rep.rec.finish_reason = "cancelled"
            rep.done(gen, error=e)
            return Response(status_code=499)
        except BaseException as e:
            rep.done(gen, error=e)
            raise
        extra = _fill_from_answer(rep.rec, gen, text) if rag else {}
        finish = "stop" if rag else _fill_from_completion(rep.rec, gen, text)
        if not rag:  # the output guards (issue 14): redacted text, or finish_reason content_filter
            whole = OutputGuard(for_key(rep.st.settings, rep.who.guard))
            text = whole.feed(text) + whole.finish()
            rep.rec.guard += whole.to_list()
            finish = "content_filter" if whole.blocked else finish
        content = (extra["refusal"] if extra["refused"] else text.strip()) if rag else text
        manifest = sign_reply(rep, gen, content, rag)  # issue 16: None unless the setting manifest = 1
        rep.done(gen)
        usage = rep.usage()
        lps = getattr(getattr(gen.source, "completion", None), "logprobs", None)
        if text_completion:
            choice = {"index": 0, "text": text, "logprobs": completion_block(lps), "finish_reason": finish}
            body = {"id": rep.id, "object": "text_completion", "created": rep.created, "model": rep.model,
                    "system_fingerprint": None, "choices": [choice], "usage": usage}  # fmt: skip
            if manifest is not None:
                body["genloom_manifest"] = manifest
            await store_reply(rep, gen, body)
            return routing.respond(body, rep.rec.route)
        msg: dict[str, Any] = (
            {"role": "assistant", "content": content, **extra}
            if rag
            else {"role": "assistant", "content": content, "refusal": None}
        )
        if not rag and rep.rec.guard:  # what the guards found (issue 14), only when they found something
            msg["guard"] = rep.rec.guard
        calls = getattr(getattr(gen.source, "completion", None), "tool_calls", None)
        if not rag and calls:
            msg.update(content=content or None, tool_calls=[c.to_dict() for c in calls])
        choice = {"index": 0, "message": msg, "logprobs": chat_block(lps), "finish_reason": finish}
        body = {"id": rep.id, "object": "chat.completion", "created": rep.created, "model": rep.model,
                "system_fingerprint": None, "choices": [choice], "usage": usage}  # fmt: skip
        if manifest is not None:
            body["genloom_manifest"] = manifest
        if not rag and finish != "content_filter":
            await store_reply(rep, gen, body)
        return routing.respond(body, rep.rec.route)

    try:
        first = await gen.first(rep.request)
    except Cancelled as e:
        rep.rec.finish_reason = "cancelled"
        rep.done(gen, error=e)
        return Response(status_code=499)
    except BaseException as e:
        rep.done(gen, error=e)
        raise

    og = None if rag else OutputGuard(for_key(rep.st.settings, rep.who.guard))  # rag: sentence by sentence
    offset = 0  # of the next piece in the text (completions' text_offset)

    def piece(item: Piece) -> str | None:
        """The SSE event of one piece (None for a piece with nothing to send, e.g. the closing Delta)."""
        nonlocal offset
        text = item if isinstance(item, str) else item.text
        text = og.feed(text) if og is not None else text
        lps = item.logprobs if isinstance(item, Delta) else None
        if isinstance(item, Delta) and item.tool_calls:
            delta: dict[str, Any] = {"tool_calls": [t.to_dict() for t in item.tool_calls]}
            if text:
                delta["content"] = text
            return rep.chunk(delta, logprobs=chat_block(lps))
        if not text and not lps:
            return None
        if text_completion:
            block, offset = completion_block(lps, offset), offset + len(text)
            return sse({"id": rep.id, "object": "text_completion", "created": rep.created, "model": rep.model,
                         "choices": [{"index": 0, "text": text, "logprobs": block, "finish_reason": None}]})  # fmt: skip
        return rep.chunk({"content": text}, logprobs=chat_block(lps))

    async def events() -> AsyncIterator[str]:
        parts: list[str] = []
        error: BaseException | None = None
        try:
            if not text_completion:
                yield rep.chunk({"role": "assistant", "content": "", "refusal": None})
            if first is not None:
                parts.append(text_of(first))
                if (ev := piece(first)) is not None:
                    yield ev
            async for p in gen.rest():
                if og is not None and og.blocked:
                    break
                parts.append(text_of(p))
                if (ev := piece(p)) is not None:
                    yield ev
            if og is not None and not og.blocked and (tail := og.finish()):
                yield sse({"id": rep.id, "object": "text_completion", "created": rep.created, "model": rep.model,
                           "choices": [{"index": 0, "text": tail, "logprobs": None, "finish_reason": None}]}
                          ) if text_completion else rep.chunk({"content": tail})  # fmt: skip
            if og is not None and og.blocked:  # issue 14: finish_reason content_filter, then the error
                gen.cancel()
                rep.rec.guard += og.to_list()
                rep.rec.output, rep.rec.finish_reason = "".join(parts), "content_filter"
                yield rep.chunk({}, "content_filter")
                yield sse(og.error())
                yield "data: [DONE]\n\n"
                return
            if og is not None:
                rep.rec.guard += og.to_list()
            text = "".join(parts)
            signed: dict[str, Any] = {}  # issue 16: the manifest rides in the last chunk (manifest = 1)
            if rag:
                extra = _fill_from_answer(rep.rec, gen, text)
                if extra["refused"]:
                    yield rep.chunk({"content": extra["refusal"]})
                if m := sign_reply(rep, gen, text + (extra["refusal"] if extra["refused"] else ""), rag):
                    signed["genloom_manifest"] = m
                # issue 13 (web UI): claims and the searched query ride along with citations and refused
                final = {k: extra[k] for k in ("citations", "refused", "claims", "query", "guard")}
                yield rep.chunk(final, "stop", **routing.extra(rep.rec.route), **signed)
            else:
                finish = _fill_from_completion(rep.rec, gen, text)
                if (m := sign_reply(rep, gen, text, rag)) is not None:
                    signed["genloom_manifest"] = m
                if text_completion:
                    yield sse({"id": rep.id, "object": "text_completion", "created": rep.created, "model": rep.model,
                                "choices": [{"index": 0, "text": "", "logprobs": None, "finish_reason": finish}],
                                **signed})  # fmt: skip
                else:
                    yield rep.chunk({}, finish, **routing.extra(rep.rec.route), **signed)
            if include_usage:
                yield rep.chunk(None, usage=rep.usage())
            yield "data: [DONE]\n\n"
        except Exception as e:  # mid-stream failure: OpenAI sends an error event, then ends the stream
            error = e
            yield sse(to_api_error(e).body())
            yield "data: [DONE]\n\n"
        finally:
            rep.rec.output = rep.rec.output or "".join(parts)
            if gen.cancelled or (error is None and rep.rec.finish_reason is None and not rag):
                rep.rec.status, rep.rec.finish_reason = 499, "cancelled"  # the client went away
            rep.done(gen, rep.rec.status if error is None else 500, error)

    route = routing.merge(rep.rec.route, getattr(first, "route", None) or getattr(gen.source, "route", None))
    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", **routing.headers(route)})  # fmt: skip


@router.post("/v1/chat/completions", response_model=S.ChatCompletion, responses=STREAMS)
async def chat_completions(
    req: S.ChatCompletionRequest, request: Request, response: Response, who: Principal = Depends(caller)
) -> Any:
    st = get_state(request)
    include_usage = bool(req.stream_options and req.stream_options.include_usage)
    messages = _messages(req.messages)
    rep = Reply(st, who, request, req.model, [m.to_dict() for m in messages], "chat")
    make: Callable[[], Iterable[str]]
    # structured outputs: masked token by token on llama.cpp, validated (black-box) elsewhere; bad formats -> 400
    rf = req.response_format.model_dump(by_alias=True, exclude_none=True) if req.response_format else None
    constraint = from_response_format(rf)
    tools = _tools(req)
    if req.model.startswith("rag:"):
        if constraint is not None:
            raise APIError(400, "response_format is not supported with rag:<kb> models (answers carry citations)",
                           "invalid_request_error", param="response_format")  # fmt: skip
        if tools is not None:
            raise APIError(400, "tools are not supported with rag:<kb> models; use a plain model, or an agent "
                           "with the knowledge-base tools", "invalid_request_error", param="tools")  # fmt: skip
        if req.logprobs:
            raise APIError(400, "logprobs are not supported with rag:<kb> models", "invalid_request_error",
                           param="logprobs")  # fmt: skip
        kb = req.model[4:] or "default"
        rep.rec.kb = kb
        users = [i for i, m in enumerate(messages) if m.role == "user"]
        if not users:
            raise APIError(400, "a rag:<kb> request needs a user message (the question)", "invalid_request_error",
                           param="messages")  # fmt: skip
        question, history = (
            messages[users[-1]].content,
            [m for m in messages[: users[-1]] if m.role != "system"],
        )
        # the request's sampling (max_tokens, temperature, seed, stop...) over the grounded-answer defaults
        params = _params(req, st, req.token_limit(), base=ANSWER_PARAMS)
        rep.kind, rep.params = "rag", params
        model = routing.choose(st, who, st.models[0], messages, rep.rec, kb=kb)  # issue 21: the router
        # the bundled model answers as its grounded-tuned version (setting answer_model); admitted through the
        # served model's queue
        opts = {"kb": kb, "principals": who.acl, "k": req.k or 5, "model": answer_model(model, st.settings),
                "history": history, "mode": req.rag_mode or "auto", "params": params}  # fmt: skip
        make = lambda: st.answer_factory(question, **opts)  # noqa: E731
        return await _respond(rep, st.start(make, model), bool(req.stream), include_usage, rag=True)
    st.check_model(req.model)
    _guard_input(rep, input_text(messages))
    params = _params(req, st, req.token_limit(), chat_requested(req.logprobs, req.top_logprobs))
    rep.params = params
    if constraint is not None:
        rep.kind = "structured"
    inputs = {"messages": rep.rec.prompt, "response_format": rf,
              "tools": tools.openai() if tools is not None else None}  # fmt: skip
    slot = cache_slot(st, request, who, "chat", req, params, inputs)
    if slot is not None and (hit := await from_cache(rep, slot, response)) is not None:
        return hit
    model = routing.choose(st, who, req.model, messages, rep.rec)  # issue 21: the router
    engine = st.engine(model)
    make = lambda: engine.stream(messages, params, constraint=constraint, tools=tools)  # noqa: E731
    return await _respond(rep, st.start(make, model), bool(req.stream), include_usage, rag=False)


@router.post("/v1/completions", response_model=S.TextCompletion, responses=STREAMS)
async def completions(
    req: S.CompletionRequest, request: Request, response: Response, who: Principal = Depends(caller)
) -> Any:
    """A plain completion. The seam generates from messages, so the prompt is sent as one user turn."""
    st = get_state(request)
    prompts = [req.prompt] if isinstance(req.prompt, str) else req.prompt  # one, by the schema
    st.check_model(req.model)
    params = _params(req, st, req.max_tokens, req.logprobs)
    rep = Reply(st, who, request, req.model, prompts[0], "completion")
    _guard_input(rep, prompts[0])
    rep.params = params
    inputs = {"prompt": prompts[0]}
    slot = cache_slot(st, request, who, "completion", req, params, inputs)
    if slot is not None and (hit := await from_cache(rep, slot, response)) is not None:
        return hit
    engine = st.engine(req.model)
    include_usage = bool(req.stream_options and req.stream_options.include_usage)
    make = lambda: engine.stream(prompts[0], params)  # noqa: E731
    return await _respond(
        rep, st.start(make, req.model), bool(req.stream), include_usage, rag=False, text_completion=True
    )


__all__ = ["Cancelled", "router"]
