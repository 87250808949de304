"""Check a JSON Schema before anything is compiled: invalid -> JSON pointer; unsupported -> the feature's name.

Accepts a dict, a JSON string, or a Pydantic model class (its ``model_json_schema()``). Checks, in order:
meta-validation against the schema's draft (default 2020-12), local ``$ref`` targets, keywords that token
masking cannot enforce, and unknown string formats. Returns the schema as a plain dict.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from genloom.structured.errors import InvalidSchema, UnsupportedSchemaFeature

# Keywords the grammar engine cannot mask token by token but a finished value can be checked against: the
# grammar enforces the rest of the schema and the output is validated against all of it and resampled
# ("checked sampling", genloom.generate.constrained). They are never silently ignored.
CHECKED = (
    "not",
    "if",
    "then",
    "else",
    "contains",
    "minContains",
    "maxContains",
    "uniqueItems",
    "propertyNames",
    "dependentRequired",
    "dependentSchemas",
    "dependencies",
)
# Keywords rejected by name: neither maskable nor meaningful to check one generated value against.
UNSUPPORTED = ("unevaluatedProperties", "unevaluatedItems", "$dynamicRef", "$recursiveRef")
# String formats the grammar engine turns into exact patterns.
FORMATS = frozenset(
    {"date", "time", "date-time", "duration", "email", "hostname", "ipv4", "ipv6", "uuid", "uri", "unknown"}
)
# Keywords whose value is a schema, a list of schemas, or a map of name -> schema.
_ONE = ("items", "additionalProperties", "additionalItems")
_MANY = ("anyOf", "oneOf", "allOf", "prefixItems")
_MAP = ("properties", "$defs", "definitions", "patternProperties")


def load_schema(source: Any) -> dict[str, Any]:
    """A dict from a dict, a JSON string, or a Pydantic model class; then :func:`check_schema`."""
    if isinstance(source, type) and hasattr(source, "model_json_schema"):
        source = source.model_json_schema()
    elif isinstance(source, str | bytes):
        try:
            source = json.loads(source)
        except json.JSONDecodeError as e:
            raise InvalidSchema(
                f"not valid JSON ({e.msg} at line {e.lineno} column {e.colno})",
                hint="the schema file must contain one JSON object",
            ) from None
    if isinstance(source, bool):
        raise InvalidSchema(
            "boolean schemas (true/false) cannot describe an output", hint="use an object schema"
        )
    if not isinstance(source, dict):
        raise InvalidSchema(
            f"a schema must be a JSON object, got {type(source).__name__}",
            hint="pass a dict such as {'type': 'object', 'properties': {...}} or a Pydantic model class",
        )
    return check_schema(source)


def pointer(parts: Any) -> str:
    """RFC 6901 JSON pointer of a path of keys/indexes ('' is the root)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def check_schema(schema: dict[str, Any]) -> dict[str, Any]:
    import jsonschema
    from jsonschema.validators import validator_for

    cls = validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as e:
        raise InvalidSchema(e.message, pointer=pointer(e.path)) from None
    for path, sub in walk(schema):
        for key in UNSUPPORTED:
            if key in sub:
                raise UnsupportedSchemaFeature(key, pointer=pointer([*path, key]))
        ref = sub.get("$ref")
        if isinstance(ref, str):
            _check_ref(schema, ref, pointer([*path, "$ref"]))
        fmt = sub.get("format")
        if isinstance(fmt, str) and fmt not in FORMATS:
            raise UnsupportedSchemaFeature(
                f"format: {fmt}",
                pointer=pointer([*path, "format"]),
                hint=f"use one of {', '.join(sorted(FORMATS - {'unknown'}))}, or a 'pattern' instead",
            )
    return schema


def checked_keywords(schema: dict[str, Any]) -> tuple[str, ...]:
    """The CHECKED keywords the schema uses (sorted), enforced by validation rather than by the grammar."""
    return tuple(sorted({k for _, sub in walk(schema) for k in CHECKED if k in sub}))


def maskable(schema: Any) -> Any:
    """A copy without the CHECKED keywords: what the grammar enforces (every value valid under the full
    schema is valid under this one)."""
    if isinstance(schema, list):
        return [maskable(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    return {k: v if k in ("enum", "const", "default", "examples") else maskable(v)
            for k, v in schema.items() if k not in CHECKED}  # fmt: skip


def walk(schema: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], dict[str, Any]]]:
    """Every subschema (dicts only) with its path from the root."""
    if not isinstance(schema, dict):
        return
    yield path, schema
    for key in _ONE:
        if key in schema:
            yield from walk(schema[key], (*path, key))
    for key in _MANY:
        if isinstance(schema.get(key), list):
            for i, sub in enumerate(schema[key]):
                yield from walk(sub, (*path, key, i))
    for key in _MAP:
        if isinstance(schema.get(key), dict):
            for name, sub in schema[key].items():
                yield from walk(sub, (*path, key, name))


def _check_ref(root: dict[str, Any], ref: str, where: str) -> None:
    if not ref.startswith("#"):
        raise UnsupportedSchemaFeature(
            f"remote $ref {ref!r}", pointer=where, hint="inline the referenced schema under $defs"
        )
    node: Any = root
    for raw in ref[1:].split("/")[1:] if ref != "#" else []:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise InvalidSchema(
                f"$ref {ref!r} points to nothing", pointer=where, hint="define it under $defs"
            )
