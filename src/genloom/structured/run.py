"""Generation under a constraint, for any backend: steerable ones mask, black-box ones are validated.

steerable (capabilities.logits): backend.stream(..., constraint=c) masks token by token, so the output
    is valid by construction; it is still validated, and running out of max_tokens is OutputIncomplete.
black-box (everything else): the constraint is described in the system message and passed on to the
    backend (a remote one can send it as ``response_format``); the finished text is validated, and
    ``generate_structured`` retries once with the validation error before raising InvalidOutput.
"""

from __future__ import annotations

import inspect
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from genloom.structured.constraint import Constraint
from genloom.structured.errors import InvalidOutput, OutputIncomplete
from genloom.types import Completion, Delta, Message, SamplingParams, as_messages

if TYPE_CHECKING:
    from genloom.backends.llm import LLMBackend
    from genloom.generate.engine import Engine, Prompt


def steerable(backend: LLMBackend) -> bool:
    return bool(backend.capabilities.logits)


def _accepts_constraint(backend: LLMBackend) -> bool:
    try:
        return "constraint" in inspect.signature(backend.stream).parameters
    except (TypeError, ValueError):
        return False


def instruct(prompt: Prompt, system: str | None, constraint: Constraint) -> list[Message]:
    """Messages for a black-box model: the format request is added to the system message."""
    msgs = as_messages(prompt, system)  # type: ignore[arg-type]
    note = constraint.describe()
    if msgs and msgs[0].role == "system":
        return [Message("system", f"{msgs[0].content}\n\n{note}"), *msgs[1:]]
    return [Message("system", note), *msgs]


def backend_deltas(
    backend: LLMBackend, messages: Sequence[Message], params: SamplingParams, constraint: Constraint
) -> Checked:
    """The backend's deltas under ``constraint``, checked at the end."""
    if steerable(backend) or _accepts_constraint(backend):
        deltas = backend.stream(messages, params, constraint=constraint)
    else:  # a third-party backend written before constraints existed: validate only
        deltas = backend.stream(messages, params)
    return Checked(deltas, constraint, params.max_tokens)


class Checked:
    """Wraps a Delta iterator; when it ends, validates the whole text and keeps the parsed ``value``."""

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
        for d in self._deltas:
            if d.finish_reason is None:
                parts.append(d.text)
                yield d
                continue
            parts.append(d.text)
            text = "".join(parts)
            try:
                self.value = self.constraint.validate(text)
            except ValueError as e:
                if d.finish_reason == "length":
                    raise OutputIncomplete(self.max_tokens, text) from None
                raise InvalidOutput(str(e), text) from None
            yield d


@dataclass(slots=True)
class Structured:
    """A validated result: ``value`` (dict/list/str or a Pydantic instance) and the raw ``completion``."""

    value: Any
    completion: Completion
    attempts: int = 1


def generate_structured(
    engine: Engine,
    prompt: Prompt,
    constraint: Constraint,
    params: SamplingParams | None = None,
    *,
    system: str | None = None,
    truncate: bool = False,
) -> Structured:
    """Generate until a valid value is produced: at most one retry, and only on black-box backends."""
    stream = engine.stream(prompt, params, system=system, truncate=truncate, constraint=constraint)
    try:
        for _ in stream:
            pass
    except InvalidOutput as first:
        if steerable(engine.backend):
            raise
        retry = [
            *as_messages(prompt, system),  # type: ignore[arg-type]
            Message("assistant", first.text),
            Message("user", f"That reply was invalid: {first.message}. Try again. {constraint.describe()}"),
        ]
        stream = engine.stream(retry, params, truncate=True, constraint=constraint)
        for _ in stream:
            pass
        assert stream.completion is not None
        return Structured(stream.value, stream.completion, attempts=2)
    assert stream.completion is not None
    return Structured(stream.value, stream.completion)
