"""What an output must look like: a JSON Schema, any JSON object, a regular expression, or one of N choices.

A :class:`Constraint` knows two things: the llguidance grammar that forces it token by token (steerable
backends), and how to validate finished text (every backend; black-box ones rely on it alone).

    Constraint.json_schema({"type": "object", ...})  or  Constraint.json_schema(MyPydanticModel)
    Constraint.regex(r"\\d{3}-\\d{4}"),  Constraint.choice(["yes", "no"]),  Constraint.json_object()
    from_response_format({"type": "json_schema", "json_schema": {"name": "x", "schema": {...}}})
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from genloom.errors import UserError
from genloom.structured.schema import checked_keywords, load_schema, maskable

if TYPE_CHECKING:
    from genloom.structured.tools import Tools

Kind = Literal["json_schema", "json_object", "regex", "choice", "tools"]
# JSON is generated compactly with a space after ':' and ',' -- natural for models, and it stops a small
# model from wandering off into endless whitespace, which flexible-whitespace grammars allow.
JSON_STYLE = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}


@dataclass(frozen=True, eq=False)
class Constraint:
    kind: Kind
    schema: dict[str, Any] | None = None  # json_schema / json_object
    pattern: str | None = None  # regex
    choices: tuple[str, ...] = ()  # choice
    name: str = "output"
    model: Any = None  # a Pydantic model class: validate() returns an instance of it
    tools: Tools | None = None  # tools: text (or ``text``'s format) or calls of these functions
    text: Constraint | None = None  # tools: the format of a plain-text answer (a response_format)
    _grammar: list[str] = field(default_factory=list, repr=False)  # computed once

    # -- constructors ---------------------------------------------------------------------------
    @classmethod
    def json_schema(cls, schema: Any, name: str | None = None) -> Constraint:
        """From a JSON Schema dict/string or a Pydantic model class; invalid schemas raise InvalidSchema."""
        model = schema if isinstance(schema, type) and hasattr(schema, "model_validate_json") else None
        checked = load_schema(schema)
        default_name = model.__name__ if model else str(checked.get("title") or "output")
        return cls("json_schema", schema=checked, name=name or default_name, model=model)

    @classmethod
    def json_object(cls) -> Constraint:
        """Any JSON object (OpenAI's ``{"type": "json_object"}``)."""
        return cls("json_object", schema={"type": "object"}, name="json_object")

    @classmethod
    def regex(cls, pattern: str) -> Constraint:
        if not pattern:
            raise UserError("the regex is empty", hint="pass a pattern such as '[0-9]{3}'")
        try:
            re.compile(pattern)
        except re.error as e:
            raise UserError(f"invalid regex {pattern!r}: {e}", hint="check the pattern's syntax") from None
        return cls("regex", pattern=pattern, name="regex")

    @classmethod
    def tool_calls(cls, tools: Tools, text: Constraint | None = None) -> Constraint:
        """Calls of ``tools`` (valid by construction on steerable backends), or text, as ``tools.choice`` says."""
        if text is not None and text.kind not in ("json_schema", "json_object"):
            raise UserError("with tools, a text format must be a JSON Schema", hint="use response_format")
        return cls("tools", tools=tools, text=text, name="tools")

    @classmethod
    def choice(cls, choices: Any) -> Constraint:
        items = tuple(str(c) for c in choices)
        if not items or not all(items):
            raise UserError(
                "choices must be a non-empty list of non-empty strings", hint="e.g. --choice yes,no"
            )
        return cls("choice", choices=tuple(dict.fromkeys(items)), name="choice")

    @property
    def checked(self) -> tuple[str, ...]:
        """Keywords of the schema the grammar cannot enforce: the output is validated and resampled for them."""
        if self.kind == "tools":
            return self.text.checked if self.text is not None else ()
        return checked_keywords(self.schema) if self.kind == "json_schema" and self.schema else ()

    # -- the grammar (steerable backends) -------------------------------------------------------
    def grammar(self) -> str:
        """The llguidance grammar text for this constraint (computed once)."""
        if not self._grammar:
            from llguidance import LLMatcher

            if self.kind == "tools":
                from genloom.structured.tools import grammar

                assert self.tools is not None
                text = None
                if self.text is not None:
                    closed = enforced(self.text.schema, close=self.text.kind == "json_schema")
                    text = "%json " + json.dumps({**closed, "x-guidance": JSON_STYLE})
                g = LLMatcher.grammar_from_lark(grammar(self.tools, text))
            elif self.kind == "regex":
                g = LLMatcher.grammar_from_regex(self.pattern or "")
            elif self.kind == "choice":
                g = LLMatcher.grammar_from_lark("start: " + " | ".join(json.dumps(c) for c in self.choices))
            else:
                closed = enforced(self.schema, close=self.kind == "json_schema")
                g = LLMatcher.grammar_from_json_schema(closed, overrides=JSON_STYLE)  # type: ignore[arg-type]
            self._grammar.append(g)
        return self._grammar[0]

    # -- validation (every backend) -------------------------------------------------------------
    def validate(self, text: str) -> Any:
        """The parsed value of ``text`` (dict/list/..., a Pydantic instance, or the string itself).

        Raises ValueError with a one-line reason when ``text`` does not satisfy the constraint.
        """
        if self.kind == "tools":  # the calls are validated from the completion (structured.tools)
            return self.text.validate(text) if self.text is not None and text else text
        if self.kind == "regex":
            if re.fullmatch(self.pattern or "", text) is None:
                raise ValueError(f"{text[:80]!r} does not match /{self.pattern}/")
            return text
        if self.kind == "choice":
            if text not in self.choices:
                raise ValueError(f"{text[:80]!r} is not one of {list(self.choices)}")
            return text
        try:
            value = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"not valid JSON ({e.msg} at position {e.pos})") from None
        check_instance(value, self.schema or {})
        if self.model is not None:
            from pydantic import ValidationError

            try:
                return self.model.model_validate(value)
            except ValidationError as e:
                raise ValueError(f"does not fit {self.model.__name__}: {e.errors()[0]['msg']}") from None
        return value

    def describe(self) -> str:
        """A short prompt-ready description (used to tell black-box models what is wanted)."""
        if self.kind == "tools":
            return self.text.describe() if self.text is not None else ""
        if self.kind == "regex":
            return f"Reply with text matching the regular expression /{self.pattern}/ and nothing else."
        if self.kind == "choice":
            return "Reply with exactly one of: " + ", ".join(self.choices) + "."
        if self.kind == "json_object":
            return "Reply with a single JSON object and nothing else."
        return (
            "Reply with a single JSON value that validates against this JSON Schema, and nothing else:\n"
            + (json.dumps(self.schema, separators=(",", ":")))
        )


def enforced(schema: dict[str, Any] | None, *, close: bool = True) -> dict[str, Any]:
    """What a grammar enforces of ``schema``: the checked keywords left to validation (schema.maskable) and,
    with ``close``, declared objects closed (:func:`close_objects`)."""
    masked = maskable(schema or {})
    return close_objects(masked) if close else masked


def close_objects(schema: Any) -> Any:
    """A copy where objects that declare ``properties`` but say nothing of ``additionalProperties`` get
    ``additionalProperties: false``: the model fills in the declared fields instead of inventing keys.
    Anything generated under the closed schema is still valid under the original one."""
    if isinstance(schema, list):
        return [close_objects(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {
        k: close_objects(v) if k not in ("enum", "const", "default", "examples") else v
        for k, v in schema.items()
    }
    declared = isinstance(schema.get("properties"), dict)
    if declared and "additionalProperties" not in schema and "patternProperties" not in schema:
        out["additionalProperties"] = False
    return out


def check_instance(value: Any, schema: dict[str, Any]) -> None:
    import jsonschema
    from jsonschema.validators import validator_for

    cls = validator_for(schema, default=jsonschema.Draft202012Validator)
    error = jsonschema.exceptions.best_match(
        cls(schema, format_checker=cls.FORMAT_CHECKER).iter_errors(value)
    )
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path)
        raise ValueError(f"{error.message}" + (f" at /{where}" if where else ""))


def as_constraint(target: Any) -> Constraint:
    """A Constraint from a Constraint, a JSON Schema dict/string, or a Pydantic model class."""
    return target if isinstance(target, Constraint) else Constraint.json_schema(target)


def from_response_format(response_format: Any) -> Constraint | None:
    """The constraint for an OpenAI ``response_format`` (None for ``{"type": "text"}`` or None).

    Accepts ``{"type": "json_schema", "json_schema": {"name", "schema", "strict", "description"}}``,
    ``{"type": "json_object"}`` and ``{"type": "text"}``; anything else raises a UserError.
    """
    if response_format is None:
        return None
    if not isinstance(response_format, dict):
        raise UserError("response_format must be an object", hint='e.g. {"type": "json_object"}')
    kind = response_format.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return Constraint.json_object()
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        if not isinstance(spec, dict):
            raise UserError(
                "response_format.json_schema must be an object with 'name' and 'schema'",
                hint='e.g. {"type": "json_schema", "json_schema": {"name": "person", "schema": {...}}}',
            )
        name = spec.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name):
            raise UserError(
                "response_format.json_schema.name must be 1-64 letters, digits, '_' or '-'",
                hint='give the schema a name such as "person"',
            )
        if "schema" not in spec:
            raise UserError("response_format.json_schema.schema is missing", hint="put the JSON Schema there")
        return Constraint.json_schema(spec["schema"], name=name)
    raise UserError(
        f"unknown response_format type {kind!r}", hint="use 'text', 'json_object' or 'json_schema'"
    )
