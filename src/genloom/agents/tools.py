"""Tools an agent can call: a name, a description, a JSON Schema of the arguments, and a callable.

    @tool
    def add(a: float, b: float) -> float:
        '''Add two numbers.

        Args:
            a: the first number
            b: the second number
        '''
        return a + b

    add.to_openai()           # {"type": "function", "function": {"name": "add", "description": ..., "parameters": ...}}
    add.run('{"a": 1, "b": 2}')  # ToolResult(ok=True, content="3.0", ...)

Arguments are validated before the function runs (Pydantic for Python functions, JSON Schema for tools that
only come with a schema, such as an MCP server's); a validation error or an exception inside the tool becomes
a ``ToolResult`` with ``ok=False`` whose content the model reads as its observation. Nothing here raises.
"""

from __future__ import annotations

import inspect
import json
import re
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from genloom.errors import UserError

MAX_OUTPUT_CHARS = 2000  # what one observation may add to the prompt; a small model's context is 2-8k tokens
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # what OpenAI accepts as a function name


@dataclass(slots=True)
class ToolOutput:
    """What a tool may return instead of plain data: the text the model reads and the KB hits behind it."""

    text: str
    hits: list[Any] = field(
        default_factory=list
    )  # genloom Hits (or hit-like) the text quotes: citable sources


@dataclass(slots=True)
class ToolResult:
    ok: bool
    content: str  # the observation the model reads (truncated to the tool's budget)
    error: str | None = None  # "arguments" | "exception" | "refused" | "unknown_tool"
    truncated: bool = False
    hits: list[Any] = field(default_factory=list)


class ToolArgumentError(ValueError):
    """The model's arguments do not fit the tool's schema; the message names the field."""


class Tool:
    def __init__(
        self,
        name: str,
        description: str,
        parameters: dict[str, Any],
        fn: Callable[..., Any],
        *,
        model: type[BaseModel] | None = None,
        max_output: int = MAX_OUTPUT_CHARS,
    ) -> None:
        if not _NAME.match(name):
            raise UserError(f"tool name {name!r} is not valid", hint="use 1-64 letters, digits, '_' or '-'")
        if parameters.get("type") != "object":
            raise UserError(f"tool {name!r}: the parameters schema must be a JSON object schema")
        if max_output < 100:
            raise UserError(f"tool {name!r}: max_output must be at least 100 characters")
        self.name, self.description, self.parameters = name, description.strip(), parameters
        self.fn, self.model, self.max_output = fn, model, max_output
        self._validator = None if model is not None else jsonschema.Draft202012Validator(parameters)

    def __repr__(self) -> str:
        return f"Tool({self.name!r})"

    # -- building ------------------------------------------------------------------------------------------
    @classmethod
    def from_function(
        cls, fn: Callable[..., Any], *, name: str | None = None, description: str | None = None,
        max_output: int = MAX_OUTPUT_CHARS,
    ) -> Tool:  # fmt: skip
        """A tool from a function's signature (annotations required) and docstring (Google-style ``Args:``)."""
        tool_name = name or fn.__name__
        summary, arg_docs = parse_docstring(inspect.getdoc(fn) or "")
        hints = typing.get_type_hints(fn)
        fields: dict[str, Any] = {}
        for p in inspect.signature(fn).parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise UserError(f"tool {tool_name!r}: *args/**kwargs cannot be described to a model",
                                hint="give the function named, annotated parameters")  # fmt: skip
            if p.name not in hints:
                raise UserError(f"tool {tool_name!r}: parameter {p.name!r} has no type annotation",
                                hint=f"annotate it, e.g. {p.name}: str")  # fmt: skip
            default = ... if p.default is p.empty else p.default
            fields[p.name] = (hints[p.name], Field(default, description=arg_docs.get(p.name)))
        model = create_model(f"{tool_name}_arguments", __config__=ConfigDict(extra="forbid"), **fields)
        desc = description or summary
        if not desc:
            raise UserError(f"tool {tool_name!r} has no description", hint="give the function a docstring")
        return cls(tool_name, desc, _schema(model), fn, model=model, max_output=max_output)

    @classmethod
    def from_model(
        cls, model: type[BaseModel], fn: Callable[..., Any], *, name: str, description: str | None = None,
        max_output: int = MAX_OUTPUT_CHARS,
    ) -> Tool:  # fmt: skip
        """A tool whose arguments are the fields of a Pydantic model; ``fn`` is called with them as keywords."""
        desc = description or inspect.getdoc(model) or ""
        if not desc:
            raise UserError(
                f"tool {name!r} has no description", hint="pass description= or document the model"
            )
        return cls(name, desc, _schema(model), fn, model=model, max_output=max_output)

    def to_openai(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }

    # -- calling -------------------------------------------------------------------------------------------
    def validate(self, arguments: str | dict[str, Any] | None) -> dict[str, Any]:
        """Parse and check the arguments; raise ToolArgumentError naming the offending field."""
        if arguments is None or (isinstance(arguments, str) and not arguments.strip()):
            arguments = {}
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except json.JSONDecodeError as e:
                raise ToolArgumentError(
                    f"the arguments are not valid JSON ({e.msg} at char {e.pos})"
                ) from None
        if not isinstance(arguments, dict):
            raise ToolArgumentError("the arguments must be a JSON object of named fields")
        if self.model is not None:
            try:
                return dict(self.model.model_validate(arguments))
            except ValidationError as e:
                problems = [f"field {'.'.join(map(str, err['loc'])) or '(root)'!r}: {err['msg']}"
                            for err in e.errors()]  # fmt: skip
                raise ToolArgumentError("; ".join(problems)) from None
        assert self._validator is not None
        errors = sorted(self._validator.iter_errors(arguments), key=lambda err: list(err.path))
        if errors:
            problems = [
                f"field {'.'.join(map(str, err.path)) or '(root)'!r}: {err.message}" for err in errors
            ]
            raise ToolArgumentError("; ".join(problems))
        return arguments

    def run(self, arguments: str | dict[str, Any] | None) -> ToolResult:
        """Validate, call, and turn the outcome (a value, a ToolOutput or an exception) into an observation."""
        try:
            kwargs = self.validate(arguments)
        except ToolArgumentError as e:
            return self._result(False, f"invalid arguments for tool {self.name!r}: {e}", "arguments")
        try:
            value = self.fn(**kwargs)
        except Exception as e:  # the tool's failure is the model's observation, never a crash
            message = getattr(e, "message", None) or str(e) or type(e).__name__
            hint = getattr(e, "hint", None)
            text = f"tool {self.name!r} failed: {message}" + (f" ({hint})" if hint else "")
            return self._result(False, text, "exception")
        if isinstance(value, ToolOutput):
            return self._result(True, value.text, None, value.hits)
        return self._result(True, value if isinstance(value, str) else _to_text(value), None)

    def _result(self, ok: bool, text: str, error: str | None, hits: list[Any] | None = None) -> ToolResult:
        content, truncated = truncate(text, self.max_output)
        return ToolResult(ok, content, error, truncated, list(hits or []))


def tool(fn: Callable[..., Any] | None = None, **options: Any) -> Any:
    """Decorator: ``@tool`` or ``@tool(name=..., description=..., max_output=...)`` makes a Tool of a function."""
    if fn is None:
        return lambda f: Tool.from_function(f, **options)
    return Tool.from_function(fn, **options)


def truncate(text: str, budget: int) -> tuple[str, bool]:
    if len(text) <= budget:
        return text, False
    note = f"\n[... {len(text) - budget} more characters cut]"
    return text[: max(0, budget - len(note))] + note, True


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The summary (text before ``Args:``) and each argument's description from a Google-style docstring."""
    summary_lines: list[str] = []
    args: dict[str, str] = {}
    current: str | None = None
    section = "summary"
    for line in doc.splitlines():
        stripped = line.strip()
        if re.fullmatch(r"(Args|Arguments|Parameters):", stripped):
            section = "args"
            continue
        if re.fullmatch(r"(Returns|Raises|Yields|Examples?|Notes?):", stripped):
            section = "other"
            continue
        if section == "summary":
            summary_lines.append(line)
        elif section == "args" and stripped:
            m = re.match(r"^(\w+)\s*(\([^)]*\))?\s*:\s*(.*)$", stripped)
            if m and not line.startswith(" " * 8):
                current = m.group(1)
                args[current] = m.group(3).strip()
            elif current:
                args[current] = (args[current] + " " + stripped).strip()
    return "\n".join(summary_lines).strip(), args


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)  # "Query" beside "query" only spends the model's context
    return schema


def _to_text(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


def as_tools(items: Sequence[Tool | Callable[..., Any]]) -> list[Tool]:
    """Tools from Tool objects or plain functions (registered from their signature + docstring)."""
    return [t if isinstance(t, Tool) else Tool.from_function(t) for t in items]
