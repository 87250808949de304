"""The generation engine: validate, fit the context window, stream, time and count.

Every caller (CLI, Python API, later the server and the RAG path) generates through here, so
every backend gets the same checks, the same seed handling and the same usage/timing report.

    engine = Engine("llamacpp:")
    for piece in (s := engine.stream("Name three colours.", SamplingParams(seed=1))):
        print(piece, end="")
    s.completion.usage.completion_tokens
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Generator, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from genloom import tracing
from genloom.backends.llm import LLMBackend, resolve_llm
from genloom.errors import UserError
from genloom.generate.context import Fitted, fit
from genloom.settings import Settings
from genloom.structured import Constraint, as_constraint, parse_tools
from genloom.structured.check import Checked, instruct
from genloom.structured.tools import CallAccumulator
from genloom.structured.tools import render as render_tools
from genloom.types import (
    Completion,
    Delta,
    Message,
    SamplingParams,
    Timings,
    TokenLogprob,
    Usage,
    as_messages,
)

if TYPE_CHECKING:
    from genloom.generate.constrained import Structured

Prompt = str | Sequence[Message] | Sequence[dict[str, Any]]


class Stream:
    """Iterate it for text pieces as they are produced (or :meth:`deltas` for text and tool-call pieces);
    ``completion`` is set once it is exhausted. ``close()`` (or leaving a ``with`` block) stops the generation.
    """

    def __init__(self, deltas: Iterator[Delta], model: str, seed: int, fitted: Fitted, t0: float) -> None:
        self._deltas = deltas
        self.model = model
        self.seed = seed
        self.fitted = fitted
        self._t0 = t0
        self.completion: Completion | None = None
        self._reader: Generator[Delta, None, None] | None = None

    def __iter__(self) -> Iterator[str]:
        reader = self.deltas()
        try:
            for d in reader:
                if d.text:
                    yield d.text
        finally:
            reader.close()  # closing this iterator early cancels the generation

    def deltas(self) -> Generator[Delta, None, None]:
        """Every piece: text, tool-call fragments, and the last one with finish_reason and usage."""
        self._reader = self._read()
        return self._reader

    def _read(self) -> Generator[Delta, None, None]:
        parts: list[str] = []
        calls = CallAccumulator()
        logprobs: list[TokenLogprob] | None = None
        t_first: float | None = None
        finish, usage = "stop", Usage(self.fitted.prompt_tokens, 0)
        route = None
        try:
            for d in self._deltas:
                if (d.text or d.tool_calls) and t_first is None:
                    t_first = time.perf_counter()
                if d.text:
                    parts.append(d.text)
                if d.tool_calls:
                    calls.add(d.tool_calls)
                if d.route is not None:  # issue 21: a cascade says which model answered
                    route = d.route
                if d.logprobs is not None:
                    logprobs = [] if logprobs is None else logprobs
                    logprobs.extend(d.logprobs)
                if d.finish_reason is not None:
                    finish = d.finish_reason
                    usage = d.usage or usage
                yield d
        except GeneratorExit:
            finish = "cancelled"
            raise
        finally:
            self._deltas.close()  # type: ignore[attr-defined]
            t_end = time.perf_counter()
            self.completion = Completion(
                text="".join(parts),
                model=self.model,
                finish_reason=finish,  # type: ignore[arg-type]
                usage=usage,
                timings=_timings(self._t0, t_first, t_end, usage.completion_tokens),
                seed=self.seed,
                tool_calls=calls.calls,
                route=route,
                logprobs=logprobs,
            )
            tracing.record_completion(self.completion, self._t0)  # issue 21: a no-op unless tracing is on

    @property
    def value(self) -> Any:
        """The validated value of a constrained stream once it is exhausted (None without a constraint)."""
        return getattr(self._deltas, "value", None)

    def close(self) -> None:
        """Stop the generation; ``completion`` then says ``cancelled`` if it had not finished."""
        if self._reader is not None:
            self._reader.close()
        self._deltas.close()  # type: ignore[attr-defined]

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _timings(t0: float, t_first: float | None, t_end: float, n: int) -> Timings:
    ttft = None if t_first is None else t_first - t0
    rate = None
    if t_first is not None and n > 1 and t_end > t_first:
        rate = (n - 1) / (t_end - t_first)  # tokens after the first, over the time after the first
    return Timings(time_to_first_token=ttft, total=t_end - t0, tokens_per_second=rate)


class Engine:
    def __init__(self, model: str | LLMBackend | None = None, settings: Settings | None = None) -> None:
        self._spec = model if isinstance(model, str) or model is None else None
        self._backend = None if isinstance(model, str) or model is None else model
        self._settings = settings

    @property
    def backend(self) -> LLMBackend:
        if self._backend is None:
            self._backend = resolve_llm(self._spec, self._settings)
        return self._backend

    @property
    def context_length(self) -> int:
        return self.backend.info().context_length

    def prepare(
        self,
        prompt: Prompt,
        params: SamplingParams,
        *,
        system: str | None = None,
        truncate: bool = False,
        drop_history: bool = False,
    ) -> tuple[Fitted, SamplingParams]:
        """Validate and fit; return the messages to send and params with max_tokens capped to the room left."""
        params.validate()
        messages = as_messages(prompt, system)  # type: ignore[arg-type]
        if not messages or not any(m.content.strip() or m.tool_calls for m in messages if m.role != "system"):
            raise UserError("the prompt is empty", hint="pass some text, or '-' to read it from stdin")
        limit = self.context_length
        reserve = min(params.max_tokens, max(1, limit // 4)) if (drop_history or truncate) else 1
        fitted = fit(self.backend, messages, limit, reserve, drop_history=drop_history, truncate=truncate)
        room = limit - fitted.prompt_tokens
        if params.max_tokens > room:
            params = replace(params, max_tokens=room)
        if params.seed is None:
            params = replace(params, seed=secrets.randbelow(2**31))  # reported, so any run can be replayed
        return fitted, params

    def stream(
        self,
        prompt: Prompt,
        params: SamplingParams | None = None,
        *,
        system: str | None = None,
        truncate: bool = False,
        drop_history: bool = False,
        constraint: Constraint | None = None,
        tools: Any = None,
        tool_choice: Any = None,
        parallel_tool_calls: bool | None = None,
        hooks: Sequence[Any] = (),
    ) -> Stream:
        """Stream the reply.

        ``constraint``: the output is forced (steerable backends) or checked (black-box backends) to fit it;
        ``Stream.value`` is then the parsed value. ``tools`` (OpenAI tool dicts or a :class:`Tools`) with
        ``tool_choice``/``parallel_tool_calls``: the reply is text or calls of those functions, valid by
        construction on steerable backends and validated on black-box ones; ``completion.tool_calls`` has them.
        ``hooks``: logits hooks for a steerable backend (genloom.backends.llm.llamacpp.LogitsHook).
        """
        t0 = time.perf_counter()
        backend = self.backend
        steerable = backend.capabilities.logits
        toolset = parse_tools(tools, tool_choice, parallel_tool_calls)
        if toolset is not None and toolset.choice != "none":
            constraint = Constraint.tool_calls(toolset, text=constraint)
        wants_logprobs = params is not None and params.logprobs is not None
        if wants_logprobs and not (steerable or backend.capabilities.remote):
            raise UserError(
                f"{backend.info().id} does not report token log-probs (logprobs)",
                hint="use a llama.cpp model (llamacpp:) or an openai: backend, or leave logprobs out",
            )
        if hooks and not steerable:
            raise UserError(
                f"{backend.info().id} cannot be steered token by token (logits hooks)",
                hint="use a llama.cpp model (llamacpp:) for watermarks and logit rules",
            )
        messages = as_messages(prompt, system)  # type: ignore[arg-type]
        if steerable and (toolset is not None or any(m.tool_calls or m.role == "tool" for m in messages)):
            messages = render_tools(messages, toolset if constraint is not None else None)
        elif constraint is not None and not steerable:
            messages = instruct(messages, constraint)
        fitted, p = self.prepare(
            messages, params or SamplingParams(), truncate=truncate, drop_history=drop_history
        )
        kwargs: dict[str, Any] = {}
        if constraint is not None:
            kwargs["constraint"] = constraint
        if hooks:
            kwargs["hooks"] = hooks
        deltas: Iterator[Delta] = backend.stream(fitted.messages, p, **kwargs)
        if constraint is not None:
            deltas = Checked(deltas, constraint, p.max_tokens)
        assert p.seed is not None
        return Stream(deltas, backend.info().id, p.seed, fitted, t0)

    def generate(
        self,
        prompt: Prompt,
        params: SamplingParams | None = None,
        *,
        system: str | None = None,
        truncate: bool = False,
        tools: Any = None,
        tool_choice: Any = None,
        parallel_tool_calls: bool | None = None,
    ) -> Completion:
        s = self.stream(prompt, params, system=system, truncate=truncate, tools=tools, tool_choice=tool_choice,
                        parallel_tool_calls=parallel_tool_calls)  # fmt: skip
        for _ in s.deltas():
            pass
        assert s.completion is not None
        return s.completion

    def structured(
        self,
        prompt: Prompt,
        target: Any,
        params: SamplingParams | None = None,
        *,
        system: str | None = None,
        truncate: bool = False,
    ) -> Structured:
        """Generate a value that satisfies ``target`` (a Constraint, JSON Schema dict or Pydantic class).

        Returns ``Structured(value, completion, attempts)``; black-box backends get one retry."""
        from genloom.generate.constrained import generate_structured

        return generate_structured(
            self, prompt, as_constraint(target), params, system=system, truncate=truncate
        )

    def count_tokens(self, text: str) -> int:
        return len(self.backend.tokenize(text))
