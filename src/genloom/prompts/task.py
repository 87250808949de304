"""Task templates: a prompt as a versioned product (issue 21).

A task template is one file, ``<name>/v<N>.jinja``: TOML front matter between ``+++`` lines, then the
user message as a Jinja body. The front matter declares everything a run needs::

    +++
    description = "A product description for a web shop"
    model = "llamacpp:"                       # default model spec (optional; the run may override it)
    system = "You write {{ tone }} copy."    # optional, Jinja too
    [sampling]                                # optional defaults: any SamplingParams field
    temperature = 0.7
    [vars.keyword]                            # typed input variables
    type = "string"                           # string | integer | number | boolean
    required = true
    [vars.tone]
    type = "string"
    choices = ["friendly", "formal"]
    default = "friendly"
    [[examples]]                              # optional few-shot turns: vars -> the expected output
    vars = { keyword = "tea" }
    output = "..."
    [output]                                  # optional: the reply is JSON valid against this schema
    schema = { type = "object", properties = { title = { type = "string" } }, required = ["title"] }
    +++
    Write about {{ keyword }} for {{ audience }}.

Bodies render in Jinja's sandbox with undefined names as errors, so a typo fails loudly instead of
sending an empty hole to the model. ``sha256`` covers the file's bytes: a version's identity.
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from genloom.errors import UserError
from genloom.types import Message, SamplingParams

FENCE = "+++"
TYPES = ("string", "integer", "number", "boolean")
_VAR_KEYS = {"type", "description", "required", "default", "choices", "min", "max", "max_length"}
_TOP_KEYS = {"description", "model", "system", "sampling", "vars", "examples", "output"}
_SAMPLING = {f.name for f in fields(SamplingParams)}
_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


@dataclass(frozen=True)
class Variable:
    name: str
    type: str = "string"
    description: str = ""
    required: bool = False
    default: Any = None
    choices: tuple[Any, ...] = ()
    min: float | None = None
    max: float | None = None
    max_length: int | None = None

    def parse(self, raw: str) -> Any:
        """A value given as text (``--var k=v``) converted to this variable's type, then checked."""
        try:
            if self.type == "integer":
                value: Any = int(raw)
            elif self.type == "number":
                value = float(raw)
            elif self.type == "boolean":
                low = raw.strip().lower()
                if low not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(raw)
                value = low in ("true", "1", "yes")
            else:
                value = raw
        except ValueError:
            raise UserError(
                f"variable {self.name!r} must be {_article(self.type)}, got {raw!r}",
                hint=f"pass --var {self.name}=<{self.type}>",
            ) from None
        return self.check(value)

    def check(self, value: Any) -> Any:
        """Raise a UserError naming the variable when ``value`` is not a valid value of it; return it."""
        ok = {
            "string": isinstance(value, str),
            "integer": isinstance(value, int) and not isinstance(value, bool),
            "number": isinstance(value, (int, float))
            and not isinstance(value, bool)
            and math.isfinite(value),
            "boolean": isinstance(value, bool),
        }[self.type]
        if not ok:
            raise UserError(
                f"variable {self.name!r} must be {_article(self.type)}, got {value!r}",
                hint=f"pass a {self.type} for {self.name!r}",
            )
        if self.choices and value not in self.choices:
            raise UserError(
                f"variable {self.name!r} must be one of {list(self.choices)}, got {value!r}",
                hint=f"pick one of: {', '.join(map(str, self.choices))}",
            )
        if self.min is not None and self.type in ("integer", "number") and value < self.min:
            raise UserError(f"variable {self.name!r} must be >= {self.min:g}, got {value}", hint="raise it")
        if self.max is not None and self.type in ("integer", "number") and value > self.max:
            raise UserError(f"variable {self.name!r} must be <= {self.max:g}, got {value}", hint="lower it")
        if self.max_length is not None and isinstance(value, str) and len(value) > self.max_length:
            raise UserError(
                f"variable {self.name!r} is {len(value)} characters, more than its {self.max_length}",
                hint="shorten it",
            )
        return value

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": self.type, "required": self.required}
        for k in ("description", "default", "min", "max", "max_length"):
            if getattr(self, k) not in (None, ""):
                d[k] = getattr(self, k)
        if self.choices:
            d["choices"] = list(self.choices)
        return d


@dataclass(frozen=True)
class TaskTemplate:
    name: str
    version: int
    description: str
    body: str
    system: str = ""
    model: str | None = None
    sampling: dict[str, Any] = field(default_factory=dict)
    variables: tuple[Variable, ...] = ()
    examples: tuple[tuple[dict[str, Any], str], ...] = ()
    schema: dict[str, Any] | None = None
    source: str = ""
    sha256: str = ""

    @property
    def id(self) -> str:
        return f"{self.name}@v{self.version}"

    def values(self, given: dict[str, Any], *, as_text: bool = False) -> dict[str, Any]:
        """Defaults filled in, every value checked; unknown and missing required variables are errors.
        ``as_text``: the values are strings to convert (the CLI's ``--var k=v``)."""
        known = {v.name: v for v in self.variables}
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise UserError(
                f"template {self.id} has no variable {', '.join(map(repr, unknown))}",
                hint=f"its variables: {', '.join(known) or '(none)'}",
            )
        out: dict[str, Any] = {}
        for name, var in known.items():
            if name in given:
                raw = given[name]
                out[name] = var.parse(raw) if as_text and isinstance(raw, str) else var.check(raw)
            elif var.default is not None:
                out[name] = var.default
            elif var.required:
                raise UserError(
                    f"template {self.id} needs the variable {name!r}",
                    hint=f"pass --var {name}=... ({var.description or var.type})",
                )
        return out

    def render(self, given: dict[str, Any], *, as_text: bool = False) -> list[Message]:
        """The messages to send: system, the few-shot examples as user/assistant turns, then the request."""
        values = self.values(given, as_text=as_text)
        msgs: list[Message] = []
        system = _render(self, self.system, values).strip()
        if system:
            msgs.append(Message("system", system))
        for ex_vars, output in self.examples:
            msgs.append(Message("user", _render(self, self.body, self.values(ex_vars)).strip()))
            msgs.append(Message("assistant", output))
        msgs.append(Message("user", _render(self, self.body, values).strip()))
        return msgs

    def params(self, **overrides: Any) -> SamplingParams:
        """The template's sampling defaults with ``overrides`` (None = keep) on top, validated."""
        merged = {**self.sampling, **{k: v for k, v in overrides.items() if v is not None}}
        return SamplingParams(**merged).validate()

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "id": self.id,
            "description": self.description,
            "model": self.model,
            "variables": {v.name: v.to_dict() for v in self.variables},
            "examples": len(self.examples),
            "schema": self.schema,
            "sampling": dict(self.sampling),
            "sha256": self.sha256,
            "source": self.source,
        }


def _article(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _render(t: TaskTemplate, text: str, values: dict[str, Any]) -> str:
    if not text:
        return ""
    try:
        return _env.from_string(text).render(**values)
    except TemplateError as e:
        raise UserError(f"template {t.id} did not render: {e}", hint=f"fix {t.source}") from None


def parse(text: str, name: str, version: int, source: str = "") -> TaskTemplate:
    """Read a template file's text; every mistake is a UserError naming the file and the field."""
    where = source or f"{name}@v{version}"
    lines = text.split("\n")
    if not lines or lines[0].strip() != FENCE or FENCE not in (ln.strip() for ln in lines[1:]):
        raise UserError(
            f"{where} has no front matter", hint=f"start the file with a {FENCE} line, TOML, {FENCE}"
        )
    end = next(i for i in range(1, len(lines)) if lines[i].strip() == FENCE)
    try:
        meta = tomllib.loads("\n".join(lines[1:end]))
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"{where}: the front matter is not valid TOML: {e}", hint="fix the TOML") from None
    body = "\n".join(lines[end + 1 :]).strip("\n")
    if not body.strip():
        raise UserError(f"{where} has an empty body", hint="write the user message after the front matter")
    unknown = sorted(set(meta) - _TOP_KEYS)
    if unknown:
        raise UserError(
            f"{where}: unknown field {', '.join(unknown)}", hint=f"known: {', '.join(sorted(_TOP_KEYS))}"
        )
    sampling = _table(meta, "sampling", where)
    bad = sorted(set(sampling) - _SAMPLING)
    if bad:
        raise UserError(
            f"{where}: unknown sampling field {', '.join(bad)}", hint=f"known: {', '.join(sorted(_SAMPLING))}"
        )
    try:
        SamplingParams(**sampling).validate()
    except TypeError as e:
        raise UserError(f"{where}: bad [sampling]: {e}", hint="see genloom.types.SamplingParams") from None
    variables = tuple(_variable(n, spec, where) for n, spec in _table(meta, "vars", where).items())
    schema = _schema(_table(meta, "output", where), where)
    t = TaskTemplate(
        name=name,
        version=version,
        description=_str(meta, "description", where),
        body=body,
        system=_str(meta, "system", where),
        model=_str(meta, "model", where) or None,
        sampling=sampling,
        variables=variables,
        schema=schema,
        source=source,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )
    examples = meta.get("examples", [])
    if not isinstance(examples, list) or not all(isinstance(e, dict) for e in examples):
        raise UserError(
            f"{where}: examples must be [[examples]] tables", hint="each with vars = {...}, output"
        )
    parsed = []
    for i, ex in enumerate(examples):
        out = ex.get("output")
        if out is None or not isinstance(ex.get("vars", {}), dict) or set(ex) - {"vars", "output"}:
            raise UserError(
                f"{where}: examples[{i}] needs vars = {{...}} and output", hint="see genloom prompts show"
            )
        text_out = out if isinstance(out, str) else json.dumps(out, ensure_ascii=False)
        if schema is not None:
            _check_example(schema, text_out, where, i)
        parsed.append((dict(ex.get("vars", {})), text_out))
    t = TaskTemplate(**{**t.__dict__, "examples": tuple(parsed)})
    for ex_vars, _ in t.examples:  # examples must fit the declared variables (and render)
        t.render(ex_vars)
    return t


def _table(meta: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    v = meta.get(key, {})
    if not isinstance(v, dict):
        raise UserError(f"{where}: {key} must be a table", hint=f"write it as [{key}]")
    return v


def _str(meta: dict[str, Any], key: str, where: str) -> str:
    v = meta.get(key, "")
    if not isinstance(v, str):
        raise UserError(f"{where}: {key} must be a string", hint=f'write {key} = "..."')
    return v


def _variable(name: str, spec: Any, where: str) -> Variable:
    if not isinstance(spec, dict):
        raise UserError(f"{where}: vars.{name} must be a table", hint=f'write [vars.{name}] type = "string"')
    bad = sorted(set(spec) - _VAR_KEYS)
    if bad:
        raise UserError(
            f"{where}: vars.{name} has unknown field {', '.join(bad)}",
            hint=f"known: {', '.join(sorted(_VAR_KEYS))}",
        )
    kind = spec.get("type", "string")
    if kind not in TYPES:
        raise UserError(f"{where}: vars.{name}.type is {kind!r}", hint=f"use one of {', '.join(TYPES)}")
    choices = spec.get("choices", [])
    if not isinstance(choices, list):
        raise UserError(f"{where}: vars.{name}.choices must be a list", hint='e.g. choices = ["a", "b"]')
    var = Variable(
        name,
        kind,
        str(spec.get("description", "")),
        bool(spec.get("required", False)),
        spec.get("default"),
        tuple(choices),
        spec.get("min"),
        spec.get("max"),
        spec.get("max_length"),
    )
    try:
        for c in var.choices:
            Variable(name, kind).check(c)
        if var.default is not None:
            var.check(var.default)
    except UserError as e:
        raise UserError(f"{where}: vars.{name}: {e.message}", hint="fix its default or choices") from None
    return var


def _schema(output: dict[str, Any], where: str) -> dict[str, Any] | None:
    if not output:
        return None
    if set(output) != {"schema"} or not isinstance(output["schema"], dict):
        raise UserError(
            f"{where}: [output] takes one field, schema (a JSON Schema table)", hint="see the docs"
        )
    from genloom.structured import Constraint, InvalidSchema

    try:
        Constraint.json_schema(output["schema"])
    except InvalidSchema as e:
        raise UserError(
            f"{where}: output.schema is not a usable JSON Schema: {e}", hint="fix the schema"
        ) from None
    return dict(output["schema"])


def _check_example(schema: dict[str, Any], text: str, where: str, i: int) -> None:
    import jsonschema

    try:
        jsonschema.validate(json.loads(text), schema)
    except (ValueError, jsonschema.ValidationError) as e:
        msg = getattr(e, "message", str(e))
        raise UserError(
            f"{where}: examples[{i}].output does not fit output.schema: {msg}", hint="fix the example"
        ) from None


def read(path: Path, name: str, version: int) -> TaskTemplate:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read template {path}: {e}", hint="check the file") from None
    return parse(text, name, version, str(path))


__all__ = ["TaskTemplate", "Variable", "parse", "read"]
