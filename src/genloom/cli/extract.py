"""``genloom extract --schema FILE [TEXT|-]``: text in, JSON that validates against the schema out."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

import typer

from genloom.cli._common import MODEL_OPTION, print_json, read_text_arg
from genloom.errors import NotFound, UserError
from genloom.generate.extract import EXTRACT_PARAMS, extract_structured
from genloom.types import SamplingParams


def load_schema_file(path: Path) -> Any:
    """The JSON text of a schema file (checked later, so errors carry JSON pointers)."""
    if not path.is_file():
        raise NotFound(f"no schema file at {path}", hint="pass the path of a JSON Schema file")
    return path.read_text(encoding="utf-8")


def load_pydantic(target: str) -> Any:
    """A Pydantic model class from ``module:Model`` (the current directory is importable)."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise UserError(
            f"--pydantic wants module:Model, got {target!r}", hint="e.g. --pydantic models:Invoice"
        )
    if "" not in sys.path:
        sys.path.insert(0, "")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise UserError(
            f"cannot import {module_name!r}: {e}", hint="run from the folder that has it"
        ) from None
    model = getattr(module, attr, None)
    if not (isinstance(model, type) and hasattr(model, "model_json_schema")):
        raise UserError(f"{target!r} is not a Pydantic model class", hint="point at a BaseModel subclass")
    return model


def extract(
    text: str | None = typer.Argument(None, help="The text to extract from, or '-' to read stdin."),
    schema: Path | None = typer.Option(None, "--schema", help="A JSON Schema file."),
    pydantic: str | None = typer.Option(None, "--pydantic", help="A Pydantic model as module:Model."),
    max_tokens: int = typer.Option(EXTRACT_PARAMS.max_tokens, "--max-tokens", "-n", help="Most tokens."),
    temperature: float = typer.Option(0.0, "--temperature", "-t", help="0 = greedy (default)."),
    seed: int | None = typer.Option(None, "--seed", help="Fix the seed for temperature > 0."),
    instructions: str | None = typer.Option(None, "--instructions", help="Extra guidance for the model."),
    model: str | None = MODEL_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Also print usage, timings and model."),
) -> None:
    """Extract JSON that validates against a schema from TEXT (always valid, or a clear error)."""
    if (schema is None) == (pydantic is None):
        raise UserError("pass exactly one of --schema FILE or --pydantic module:Model", hint="see --help")
    target = load_schema_file(schema) if schema is not None else load_pydantic(pydantic or "")
    params = SamplingParams(
        max_tokens=max_tokens, temperature=temperature, repeat_penalty=1.0, seed=seed
    ).validate()
    body = read_text_arg(text, "text")
    result = extract_structured(body, target, model=model, params=params, instructions=instructions)
    value = result.value.model_dump(mode="json") if hasattr(result.value, "model_dump") else result.value
    if not as_json:
        sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")
        return
    c = result.completion
    print_json(
        {
            "value": value,
            "model": c.model,
            "seed": c.seed,
            "attempts": result.attempts,
            "usage": c.usage.to_dict(),
            "timings": c.timings.to_dict(),
        }
    )


def register(app: typer.Typer) -> None:
    app.command()(extract)
