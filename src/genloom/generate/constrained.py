"""Constrained generation for any backend: forced (steerable), or described, validated and retried once.

value = Engine("llamacpp:").structured("Maria, 31", {"type": "object", ...}).value
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from genloom.structured import Constraint, InvalidOutput
from genloom.types import Completion, Message, SamplingParams, as_messages

if TYPE_CHECKING:
    from genloom.generate.engine import Engine, Prompt


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
        if engine.backend.capabilities.logits:
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
