"""Structured outputs and tool calls: grammars and validation only (this package never imports the engine).

schema.py      check a schema: JSON pointer for invalid ones, the feature's name for unsupported ones
constraint.py  Constraint (grammar + validation) and from_response_format (OpenAI's response_format)
tools.py       OpenAI tools/tool_choice, the tool-call text format, its grammar, parser and validation
grammar.py     llguidance matchers for a backend's tokenizer
check.py       validate a finished stream; describe the constraint to black-box models
The engine (genloom.generate) owns stream -> validate -> retry; steerable backends apply grammars as hooks.
"""

from genloom.structured.constraint import Constraint, as_constraint, from_response_format
from genloom.structured.errors import InvalidOutput, InvalidSchema, OutputIncomplete, UnsupportedSchemaFeature
from genloom.structured.schema import check_schema, load_schema
from genloom.structured.tools import Tools, parse_tools

__all__ = [
    "Constraint",
    "InvalidOutput",
    "InvalidSchema",
    "OutputIncomplete",
    "Tools",
    "UnsupportedSchemaFeature",
    "as_constraint",
    "check_schema",
    "from_response_format",
    "load_schema",
    "parse_tools",
]
