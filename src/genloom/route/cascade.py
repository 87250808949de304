"""The ``cascade:SMALL|BIG`` model spec: the small model answers first, genloom's own check decides whether
its answer stands, and only when it does not does the request go to the big model.

    cascade:llamacpp:|openai:http://127.0.0.1:8001/v1#big      both sides are ordinary model specs

The checks (the reason is recorded, the response says which model answered and why):
- structured output (a JSON Schema / regex / choice constraint): the small reply validates, and finished;
- tool calls: the calls validate against the tools;
- plain chat: the small reply's mean token log-prob (genloom.route.confidence) is at least the setting
  ``cascade_min_logprob``; a model that cannot score its reply gives no signal, and the big model answers.
Grounded answers (``rag:`` with a cascade model) are checked by claim support instead: genloom.route.rag_cascade.

The small reply is generated whole before it is judged, so a cascade streams the accepted reply at once (or the
big model's as it is produced). The route travels on the first Delta and lands in ``Completion.route``:
``{"model", "reason", "cascade": [{"model", "accepted", "signal", "prompt_tokens", "completion_tokens"}]}``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from genloom.backends.llm.base import LLMBackend
from genloom.errors import UserError
from genloom.route.confidence import mean_logprob
from genloom.settings import Settings
from genloom.structured.tools import CallAccumulator, validate_calls
from genloom.types import Capabilities, Delta, Message, ModelInfo, SamplingParams


def parse_spec(rest: str) -> tuple[str, str]:
    """``SMALL|BIG`` -> (small spec, big spec)."""
    parts = [p.strip() for p in rest.split("|")]
    if len(parts) != 2 or not all(parts):
        raise UserError(
            f"cascade spec 'cascade:{rest}' needs exactly two model specs separated by '|'",
            hint="write cascade:SMALL_SPEC|BIG_SPEC, e.g. cascade:llamacpp:|openai:http://host/v1#model",
        )
    if any(p.startswith("cascade:") for p in parts):
        raise UserError("a cascade cannot contain a cascade", hint="list two plain model specs")
    return parts[0], parts[1]


def threshold(s: Settings, name: str) -> float:
    raw = getattr(s, name)
    try:
        v = float(raw)
    except ValueError:
        v = math.nan
    if not math.isfinite(v):
        raise UserError(f"{name} must be a number, got {raw!r}", hint=f"set GENLOOM_{name.upper()}")
    return v


class CascadeLLM:
    def __init__(
        self, small: LLMBackend, big: LLMBackend, specs: tuple[str, str], min_logprob: float
    ) -> None:
        self.small, self.big, self.specs, self.min_logprob = small, big, specs, min_logprob
        a, b = small.capabilities, big.capabilities
        self.capabilities = Capabilities(
            streaming=True, seed=a.seed and b.seed, exact_tokens=a.exact_tokens and b.exact_tokens,
            logits=a.logits and b.logits, remote=a.remote or b.remote, tools=a.tools and b.tools,
            logprobs=False, concurrency=max(1, min(a.concurrency, b.concurrency)),
        )  # fmt: skip

    def info(self) -> ModelInfo:
        si, bi = self.small.info(), self.big.info()
        return ModelInfo(
            id=f"cascade:{self.specs[0]}|{self.specs[1]}",
            backend="cascade",
            context_length=min(si.context_length, bi.context_length),
            source=f"{si.source} | {bi.source}",
            details={"small": si.id, "big": bi.id, "min_logprob": self.min_logprob},
        )

    def tokenize(self, text: str) -> list[int]:
        return self.small.tokenize(text)

    def count_prompt_tokens(self, messages: Sequence[Message]) -> int:
        return max(self.small.count_prompt_tokens(messages), self.big.count_prompt_tokens(messages))

    def judge(
        self, messages: Sequence[Message], deltas: list[Delta], constraint: Any
    ) -> tuple[bool, str, float | None]:
        """(accept, reason, signal) for the small model's whole reply."""
        text = "".join(d.text for d in deltas)
        finish = next((d.finish_reason for d in reversed(deltas) if d.finish_reason), None)
        calls = CallAccumulator()
        for d in deltas:
            if d.tool_calls:
                calls.add(d.tool_calls)
        if constraint is not None and constraint.kind == "tools" and calls.calls:
            assert constraint.tools is not None
            try:
                validate_calls(calls.calls, constraint.tools)
            except ValueError as e:
                return False, f"the small model's tool calls are invalid: {e}", None
            return True, "the small model's tool calls are valid", None
        if constraint is not None and constraint.kind != "tools":
            if finish == "length":
                return False, "the small model's structured output did not finish", None
            try:
                constraint.validate(text)
            except ValueError as e:
                return False, f"the small model's output is invalid: {e}", None
            return True, "the small model's output is valid against the schema", None
        if not text.strip():
            return False, "the small model gave an empty reply", None
        lp = mean_logprob(self.small, messages, text)
        if lp is None:
            return False, "no confidence signal from the small model", None
        if lp >= self.min_logprob:
            return True, f"mean token log-prob {lp:.3f} >= {self.min_logprob}", lp
        return False, f"mean token log-prob {lp:.3f} < {self.min_logprob}", lp

    def stream(
        self, messages: Sequence[Message], params: SamplingParams, *, constraint: Any = None, **kwargs: Any
    ) -> Iterator[Delta]:
        extra = {"constraint": constraint} if constraint is not None else {}
        small = list(self.small.stream(messages, params, **extra, **kwargs))
        ok, reason, signal = self.judge(messages, small, constraint)
        usage = next((d.usage for d in reversed(small) if d.usage is not None), None)
        tried = {"model": self.specs[0], "accepted": ok, "signal": None if signal is None else round(signal, 4),
                 "reason": reason, "prompt_tokens": usage.prompt_tokens if usage else 0,
                 "completion_tokens": usage.completion_tokens if usage else 0}  # fmt: skip
        if ok:
            route = {"model": self.specs[0], "reason": reason, "cascade": [tried]}
            yield from _with_route(iter(small), route)
            return
        route = {"model": self.specs[1], "reason": f"escalated: {reason}", "cascade": [tried]}
        yield from _with_route(self.big.stream(messages, params, **extra, **kwargs), route)


def _with_route(deltas: Iterator[Delta], route: dict[str, Any]) -> Iterator[Delta]:
    first = True
    try:
        for d in deltas:
            yield replace(d, route=route) if first else d
            first = False
        if first:  # nothing at all came: still say who answered
            yield Delta("", route=route)
    finally:
        close = getattr(deltas, "close", None)
        if close is not None:
            close()


def make(rest: str, s: Settings) -> CascadeLLM:
    from genloom.backends.llm import resolve_llm

    small, big = parse_spec(rest)
    return CascadeLLM(
        resolve_llm(small, s), resolve_llm(big, s), (small, big), threshold(s, "cascade_min_logprob")
    )


__all__ = ["CascadeLLM", "make", "parse_spec", "threshold"]
