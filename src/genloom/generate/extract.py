"""``genloom.extract``: text in, a validated dict (or Pydantic instance) out.

from pydantic import BaseModel
class Person(BaseModel):
    name: str
    age: int
person = genloom.extract("John Smith is 42.", Person)           # -> Person(name='John Smith', age=42)
data = genloom.extract("...", {"type": "object", ...}, model="llamacpp:")   # -> dict
"""

from __future__ import annotations

import json
from typing import Any

from genloom.errors import UserError
from genloom.generate.constrained import Structured
from genloom.generate.engine import Engine
from genloom.structured.constraint import as_constraint
from genloom.types import SamplingParams

EXTRACT_SYSTEM = (
    "You extract information from the user's text into JSON. Use only facts stated in the text. "
    "The JSON must follow this schema:\n{schema}"
)
# Extraction wants the likeliest reading of the text, not variety: greedy, no repeat penalty (JSON repeats
# quotes and braces by design).
EXTRACT_PARAMS = SamplingParams(max_tokens=512, temperature=0.0, repeat_penalty=1.0)


def extract_structured(
    text: str,
    schema: Any,
    *,
    model: Any = None,
    params: SamplingParams | None = None,
    instructions: str | None = None,
) -> Structured:
    """Like :func:`extract`, but returns ``Structured(value, completion, attempts)`` (usage, timings)."""
    if not isinstance(text, str) or not text.strip():
        raise UserError("the text to extract from is empty", hint="pass some text, or '-' to read stdin")
    constraint = as_constraint(schema)
    if constraint.kind not in ("json_schema", "json_object"):
        raise UserError(
            "extract needs a JSON Schema or a Pydantic model", hint="use generate --regex/--choice"
        )
    engine = model if isinstance(model, Engine) else Engine(model)
    system = EXTRACT_SYSTEM.format(schema=json.dumps(constraint.schema, separators=(",", ":")))
    if instructions:
        system += f"\n{instructions}"
    return engine.structured(text, constraint, params or EXTRACT_PARAMS, system=system)


def extract(
    text: str,
    schema: Any,
    *,
    model: Any = None,
    params: SamplingParams | None = None,
    instructions: str | None = None,
) -> Any:
    """Extract a value that validates against ``schema`` (JSON Schema dict/string or Pydantic model class).

    ``model``: a spec string (default: the configured model), an LLM backend, or an Engine. Returns a dict
    (or list/...) for a JSON Schema, an instance for a Pydantic model. Raises InvalidSchema /
    UnsupportedSchemaFeature for bad schemas, OutputIncomplete when max_tokens runs out first.
    """
    return extract_structured(text, schema, model=model, params=params, instructions=instructions).value
