"""Any OpenAI-compatible chat server as a backend: ``openai:<base_url>#<model>``.

    openai:http://127.0.0.1:8000/v1#Qwen/Qwen2.5-7B-Instruct     vLLM
    openai:http://127.0.0.1:8080/v1#smollm2                      llama.cpp's server, or another genloom serve
    openai:https://api.openai.com/v1#gpt-4o-mini                 OpenAI (key from GENLOOM_OPENAI_API_KEY / OPENAI_API_KEY)

A black box (``capabilities.logits=False``): structured outputs are requested with ``response_format`` and
validated by genloom (see genloom.structured.run). The server owns the tokenizer, so ``tokenize`` and
``count_prompt_tokens`` are estimates (about 4 characters per token, ``exact_tokens=False``); the usage the
server reports at the end of a stream is exact and is what genloom reports.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from genloom.backends.llm.base import apply_stops
from genloom.backends.openai_http import OpenAIClient, parse_spec
from genloom.errors import UserError
from genloom.types import (
    Capabilities,
    Delta,
    FinishReason,
    Message,
    ModelInfo,
    SamplingParams,
    TokenLogprob,
    ToolCallDelta,
    Usage,
)

if TYPE_CHECKING:
    from genloom.structured.constraint import Constraint

CHARS_PER_TOKEN = 4  # a common rule of thumb for English with BPE tokenizers; only an estimate
PER_MESSAGE = 4  # chat-template overhead per message (role markers), estimated


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


class OpenAILLM:
    capabilities = Capabilities(streaming=True, seed=True, exact_tokens=False, logits=False, remote=True)

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        context_length: int = 4096,
        timeout: float = 120.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        client: OpenAIClient | None = None,
        concurrency: int = 8,
    ) -> None:
        self.base_url, self.model = base_url.rstrip("/"), model
        self.context_length = context_length
        # a remote server batches requests itself: the server admits this many at once to it
        self.capabilities = Capabilities(streaming=True, seed=True, exact_tokens=False, logits=False, remote=True,
                                         concurrency=concurrency)  # fmt: skip
        self.client = client or OpenAIClient(
            self.base_url, api_key, timeout=timeout, max_retries=max_retries, backoff=backoff
        )
        # top_k / min_p / repetition_penalty are understood by vLLM, llama.cpp and genloom, not by OpenAI
        self.extra_sampling = "api.openai.com" not in self.base_url
        self._rf_dialect = "openai"  # or "schema-in-json-object" (llama.cpp server) once we learn it

    @classmethod
    def from_spec(cls, rest: str, **kwargs: Any) -> OpenAILLM:
        base, model = parse_spec(rest, "model")
        return cls(base, model, **kwargs)

    def info(self) -> ModelInfo:
        return ModelInfo(
            id=f"openai:{self.base_url}#{self.model}",
            backend="openai",
            context_length=self.context_length,
            source=self.base_url,
            details={"model": self.model, "tokens": "estimated (chars/4) until the server reports usage"},
        )

    def tokenize(self, text: str) -> list[int]:
        """Not the server's tokens: placeholder ids, one per estimated token (``exact_tokens=False``)."""
        return list(range(estimate_tokens(text)))

    def count_prompt_tokens(self, messages: Sequence[Message]) -> int:
        return sum(estimate_tokens(m.content) + PER_MESSAGE for m in messages) + 2

    # -- the request ----------------------------------------------------------------------------
    def request_body(
        self, messages: Sequence[Message], params: SamplingParams, constraint: Constraint | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [m.to_dict() for m in messages],
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if params.seed is not None:
            body["seed"] = params.seed
        if params.logprobs is not None:  # passed through: the server's own log-probs come back per token
            body.update(logprobs=True, top_logprobs=params.logprobs)
        if params.stop:
            body["stop"] = list(params.stop)[:4]  # OpenAI accepts at most 4; all are also cut here
        if self.extra_sampling:
            body.update(top_k=params.top_k, min_p=params.min_p, repetition_penalty=params.repeat_penalty)
            body["repeat_penalty"] = params.repeat_penalty  # llama.cpp's server spells it this way
        if constraint is not None and constraint.kind == "tools":
            assert constraint.tools is not None
            body.update(constraint.tools.openai())
            constraint = constraint.text
        rf = self.response_format(constraint)
        if rf is not None:
            body["response_format"] = rf
        return body

    def response_format(self, constraint: Constraint | None) -> dict[str, Any] | None:
        """The ``response_format`` for a constraint; regex/choice have no standard one (validated only)."""
        if constraint is None or constraint.kind in ("regex", "choice"):
            return None
        if constraint.kind == "json_object":
            return {"type": "json_object"}
        if self._rf_dialect == "schema-in-json-object":
            return {"type": "json_object", "schema": constraint.schema}
        name = re.sub(r"[^A-Za-z0-9_-]", "_", constraint.name)[:64] or "output"
        return {"type": "json_schema", "json_schema": {"name": name, "schema": constraint.schema}}

    def stream(
        self, messages: Sequence[Message], params: SamplingParams, *, constraint: Constraint | None = None
    ) -> Iterator[Delta]:
        body = self.request_body(messages, params, constraint)
        try:
            yield from self._stream(body, messages, params)
        except UserError as e:
            # llama.cpp's server knows only {"type": "json_object", "schema": ...}: learn that once, retry once
            rf = body.get("response_format") or {}
            if rf.get("type") != "json_schema" or "response_format" not in e.message.replace(" ", "_"):
                raise
            self._rf_dialect = "schema-in-json-object"
            body = self.request_body(messages, params, constraint)
            yield from self._stream(body, messages, params)

    def _stream(
        self, body: dict[str, Any], messages: Sequence[Message], params: SamplingParams
    ) -> Iterator[Delta]:
        finish: FinishReason = "stop"
        usage: Usage | None = None
        pieces_seen = 0
        server_finish: str | None = None

        calls: list[ToolCallDelta] = []  # tool-call pieces, passed on as they come (in order, after any text)
        lps: list[TokenLogprob] | None = [] if params.logprobs is not None else None  # not yet passed on

        def take() -> list[TokenLogprob] | None:
            if lps is None:
                return None
            items = lps.copy()
            lps.clear()
            return items

        def pieces(events: Iterator[dict[str, Any]]) -> Iterator[str]:
            nonlocal usage, pieces_seen, server_finish
            for ev in events:
                if ev.get("usage"):
                    u = ev["usage"]
                    usage = Usage(int(u.get("prompt_tokens") or 0), int(u.get("completion_tokens") or 0))
                for choice in ev.get("choices") or []:
                    delta = choice.get("delta") or {}
                    text = delta.get("content") or ""
                    if choice.get("finish_reason"):
                        server_finish = choice["finish_reason"]
                    if lps is not None:
                        lps.extend(token_logprobs(choice.get("logprobs")))
                    for tc in delta.get("tool_calls") or []:
                        fn = tc.get("function") or {}
                        calls.append(ToolCallDelta(int(tc.get("index") or 0), tc.get("id"), fn.get("name"),
                                                   fn.get("arguments") or ""))  # fmt: skip
                        pieces_seen += 1
                    if text:
                        pieces_seen += 1
                        yield text
                    elif calls:
                        yield ""  # let the loop below pass the tool-call pieces on now

        stopped = False
        with self.client.stream_sse("/chat/completions", body) as events:
            for text, stopped in apply_stops(pieces(events), params.stop):  # noqa: B007 (read after the loop)
                if calls:
                    yield Delta(text, tool_calls=calls.copy(), logprobs=take())
                    calls.clear()
                elif text:
                    yield Delta(text, logprobs=take())
        if calls:
            yield Delta("", tool_calls=calls.copy(), logprobs=take())
        if server_finish == "length" and not stopped:
            finish = "length"
        elif server_finish == "tool_calls":
            finish = "tool_calls"
        if usage is None:  # the server did not report usage: estimate it, one token per streamed piece
            usage = Usage(self.count_prompt_tokens(messages), pieces_seen)
        yield Delta("", finish_reason=finish, usage=usage, logprobs=take())


def token_logprobs(block: Any) -> list[TokenLogprob]:
    """OpenAI's ``choice.logprobs`` (``{"content": [{"token", "logprob", "top_logprobs"}]}``) as TokenLogprobs."""
    items = (block or {}).get("content") or [] if isinstance(block, dict) else []
    return [
        TokenLogprob(
            str(it.get("token", "")),
            float(it.get("logprob", 0.0)),
            [(str(t.get("token", "")), float(t.get("logprob", 0.0))) for t in it.get("top_logprobs") or []],
        )
        for it in items
        if isinstance(it, dict)
    ]
