"""Validate a stream of deltas against a constraint when it ends; tell black-box models what is wanted.

steerable backends mask token by token, so the output is valid by construction; it is still checked, and
running out of max_tokens is OutputIncomplete. black-box backends get the constraint described in the system
message (and passed on, e.g. as an OpenAI ``response_format`` or ``tools``); their finished output is checked
here and the engine retries once with the validation error (genloom.generate.constrained).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import Any

from genloom.structured.constraint import Constraint
from genloom.structured.errors import InvalidOutput, OutputIncomplete
from genloom.structured.tools import CallAccumulator, validate_calls
from genloom.types import Delta, Message


def instruct(messages: list[Message], constraint: Constraint) -> list[Message]:
    """Messages for a black-box model: the format request added to the system message."""
    note = constraint.describe()
    if not note:
        return messages
    if messages and messages[0].role == "system":
        return [Message("system", f"{messages[0].content}\n\n{note}"), *messages[1:]]
    return [Message("system", note), *messages]


class Checked:
    """Wraps a Delta iterator; when it ends, validates the text (and tool calls) and keeps the parsed ``value``."""

    def __init__(self, deltas: Iterator[Delta], constraint: Constraint, max_tokens: int) -> None:
        self._deltas = deltas
        self._it = self._run()
        self.constraint = constraint
        self.max_tokens = max_tokens
        self.value: Any = None

    def __iter__(self) -> Iterator[Delta]:
        return self._it

    def __next__(self) -> Delta:
        return next(self._it)

    def close(self) -> None:
        self._it.close()
        close = getattr(self._deltas, "close", None)
        if close is not None:
            close()

    def _run(self) -> Generator[Delta, None, None]:
        parts: list[str] = []
        calls = CallAccumulator()
        for d in self._deltas:
            parts.append(d.text)
            if d.tool_calls:
                calls.add(d.tool_calls)
            if d.finish_reason is None:
                yield d
                continue
            text = "".join(parts)
            c = self.constraint
            try:
                if c.kind == "tools" and calls.calls:
                    assert c.tools is not None
                    validate_calls(calls.calls, c.tools)
                    self.value = calls.calls
                else:
                    if c.kind == "tools" and c.tools is not None and c.tools.choice not in ("auto", "none"):
                        validate_calls([], c.tools)  # a call was required
                    self.value = c.validate(text)
            except ValueError as e:
                if d.finish_reason == "length":
                    raise OutputIncomplete(self.max_tokens, text) from None
                raise InvalidOutput(str(e), text) from None
            yield d
