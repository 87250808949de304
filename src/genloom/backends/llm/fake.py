"""A keyless, instant, deterministic LLM for tests and demos (spec ``fake:`` or ``fake:<fixed reply>``).

Tokens are words with their trailing whitespace. With no scripted replies it echoes the last user message.
With ``temperature > 0`` it shuffles the reply's words using the seed, so seeded sampling is repeatable and
different seeds can differ — enough to test the engine's plumbing without a model. Given tools, a scripted reply
written in the tool-call text format (``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``) comes back as
tool-call pieces, the way a real backend's calls do (a black box: the engine validates them).
"""

from __future__ import annotations

import random
import re
import zlib
from collections.abc import Iterator, Sequence
from typing import Any

from genloom.backends.llm.base import apply_stops
from genloom.structured.tools import CallParser, as_deltas
from genloom.types import Capabilities, Delta, FinishReason, Message, ModelInfo, SamplingParams, Usage

_TOKEN = re.compile(r"\S+\s*|\s+")


class FakeLLM:
    capabilities = Capabilities(streaming=True, seed=True, exact_tokens=True, logits=False, remote=False)

    def __init__(self, replies: Sequence[str] | None = None, context_length: int = 2048) -> None:
        self.replies = list(replies or [])
        self.context_length = context_length
        self.calls: list[list[Message]] = []  # what was asked, for assertions in tests
        self.constraints: list[Any] = []  # the constraint passed with each call (a black box ignores it)
        self._next = 0

    def info(self) -> ModelInfo:
        source = "scripted replies" if self.replies else "echo"
        return ModelInfo(id="fake:", backend="fake", context_length=self.context_length, source=source)

    def tokenize(self, text: str) -> list[int]:
        return [zlib.crc32(t.encode()) & 0xFFFF for t in _TOKEN.findall(text)]

    def count_prompt_tokens(self, messages: Sequence[Message]) -> int:
        # "<role>: " header = 2 tokens per message, like a tiny chat template
        return sum(len(_TOKEN.findall(m.content)) + 2 for m in messages)

    def _reply(self, messages: Sequence[Message]) -> str:
        if self.replies:
            reply = self.replies[self._next % len(self.replies)]
            self._next += 1
            return reply
        last = next((m.content for m in reversed(messages) if m.role == "user"), "")
        return f"You said: {last}"

    def stream(
        self, messages: Sequence[Message], params: SamplingParams, *, constraint: Any = None
    ) -> Iterator[Delta]:
        self.calls.append(list(messages))
        self.constraints.append(constraint)
        words = _TOKEN.findall(self._reply(messages))
        if params.temperature > 0:
            random.Random(params.seed).shuffle(words)
        prompt_tokens = self.count_prompt_tokens(messages)
        budget = words[: params.max_tokens]
        produced = 0

        def pieces() -> Iterator[str]:
            nonlocal produced
            for w in budget:
                produced += 1
                yield w

        parser = CallParser() if constraint is not None and constraint.kind == "tools" else None
        stopped = False
        for text, stopped in apply_stops(pieces(), params.stop):  # noqa: B007 (read after the loop)
            if text and parser is None:
                yield Delta(text)
            elif text and parser is not None:
                yield from as_deltas(parser.feed(text))
                if parser.done:
                    break
        if parser is not None:
            yield from as_deltas(parser.finish())
        finish: FinishReason = "stop" if stopped or len(words) <= params.max_tokens else "length"
        if parser is not None and parser.calls and finish == "stop":
            finish = "tool_calls"
        yield Delta("", finish_reason=finish, usage=Usage(prompt_tokens, produced))
