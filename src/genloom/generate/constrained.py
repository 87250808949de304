"""Constrained generation for any backend: forced (steerable), or described, validated and retried once.

value = Engine("llamacpp:").structured("Maria, 31", {"type": "object", ...}).value
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from genloom.structured import Constraint, InvalidOutput
from genloom.types import Completion, Message, SamplingParams, as_messages

if TYPE_CHECKING:
    from genloom.generate.engine import Engine, Prompt

CHECKED_ATTEMPTS = 5  # draws for a schema with checked keywords on a steerable backend
RESAMPLE_TEMPERATURE = 0.8  # at least this hot when resampling: greedy decoding would give the same value


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
            if not constraint.checked:
                raise
            return _resample(engine, prompt, constraint, params or SamplingParams(), system, truncate, first)
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


def _resample(
    engine: Engine, prompt: Prompt, constraint: Constraint, params: SamplingParams, system: str | None,
    truncate: bool, first: InvalidOutput,
) -> Structured:  # fmt: skip
    seed = params.seed if params.seed is not None else 0
    temperature = max(params.temperature, RESAMPLE_TEMPERATURE)
    last = first
    for attempt in range(2, CHECKED_ATTEMPTS + 1):
        p = replace(params, seed=(seed + attempt * 7919) % 2**32, temperature=temperature)
        stream = engine.stream(prompt, p, system=system, truncate=truncate, constraint=constraint)
        try:
            for _ in stream:
                pass
        except InvalidOutput as e:
            last = e
            continue
        assert stream.completion is not None
        return Structured(stream.value, stream.completion, attempts=attempt)
    raise InvalidOutput(
        f"{last.message.split(': ', 1)[-1]} (after {CHECKED_ATTEMPTS} draws; {', '.join(constraint.checked)} "
        "can only be checked, not forced)",
        last.text,
    )
