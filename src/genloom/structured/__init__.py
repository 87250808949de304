"""Structured outputs: JSON Schema / Pydantic / regex / choice constraints, forced or validated.

schema.py      check a schema: JSON pointer for invalid ones, the feature's name for unsupported ones
constraint.py  Constraint (grammar + validation) and from_response_format (OpenAI's response_format)
grammar.py     llguidance tokenizer (from the llama.cpp vocab) and matchers, cached
sampler.py     genloom's seeded sampler over masked logits
steer.py       the steerable path: token masking on llama.cpp
run.py         any backend: steerable -> masked; black-box -> described, validated, retried once
api.py         extract(text, schema) -> validated value
"""

from genloom.structured.api import extract, extract_structured
from genloom.structured.constraint import Constraint, as_constraint, from_response_format
from genloom.structured.errors import InvalidOutput, InvalidSchema, OutputIncomplete, UnsupportedSchemaFeature
from genloom.structured.run import Structured, generate_structured
from genloom.structured.schema import check_schema, load_schema

__all__ = [
    "Constraint",
    "InvalidOutput",
    "InvalidSchema",
    "OutputIncomplete",
    "Structured",
    "UnsupportedSchemaFeature",
    "as_constraint",
    "check_schema",
    "extract",
    "extract_structured",
    "from_response_format",
    "generate_structured",
    "load_schema",
]
