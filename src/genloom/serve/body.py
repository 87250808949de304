"""The base of every JSON request body: exact types, unknown fields rejected by name.

A body's JSON types are taken as the OpenAPI document states them, so a value the document calls invalid is
a 400 and one it calls valid is accepted: a boolean is ``true``/``false`` (not ``1`` or ``"true"``), a number
is a JSON number (not ``false`` or ``"1.5"``), a string is a string. An integer is a JSON number with no
fractional part: ``5`` and ``5.0`` (JSON Schema's integers) but not ``true`` or ``"5"``. Integer fields say so
with :data:`JSON_INT`, after their constraints (pydantic documents a constraint written after it wrongly)::

    k: Annotated[int, Field(ge=1, le=50), JSON_INT] | None = None
"""

from __future__ import annotations

from typing import Any, cast

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler
from pydantic_core import PydanticCustomError, core_schema

# Python's whitespace (str.isspace: what str.split and str.strip take away) in escapes that JSON Schema, Python's
# re and pydantic's regex all read alike (their \s do not agree: pydantic's leaves out \x1c-\x1f)
SPACE = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NOT_BLANK = f"[^{SPACE}]"  # a pattern: the string holds something else


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # an unknown field is a 400 that names it


def _no_bool_or_text(value: Any) -> Any:
    if isinstance(value, bool | str):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


class _JsonInteger:
    """``int`` as JSON Schema means it inside a strict :class:`Body`: integral floats pass, bools and text don't."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        inner = handler(source)
        if inner.get("type") != "int":
            raise TypeError(f"JSON_INT annotates int fields, not {source!r}")
        cast(core_schema.IntSchema, inner)["strict"] = False  # 5.0 is an integer in JSON Schema
        return core_schema.no_info_before_validator_function(_no_bool_or_text, inner)


JSON_INT = _JsonInteger()
