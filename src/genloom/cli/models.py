"""``genloom models``: which models are configured or available, with context length and source."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from genloom.backends.llm import resolve_llm
from genloom.cli._common import console, print_json
from genloom.errors import GenloomError
from genloom.settings import get_settings


def _candidates() -> list[str]:
    s = get_settings()
    specs = [s.model, "llamacpp:"]
    models_dir = s.home / "models"
    if models_dir.is_dir():
        specs += [f"llamacpp:{p}" for p in sorted(Path(models_dir).glob("*.gguf"))]
    seen: list[str] = []
    for spec in specs:
        if spec not in seen:
            seen.append(spec)
    return seen


def models(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the configured model, the bundled model and GGUF files in $GENLOOM_HOME/models."""
    default = get_settings().model
    rows: list[dict[str, Any]] = []
    for spec in _candidates():
        try:
            info = resolve_llm(spec).info()
            rows.append(
                {
                    "spec": spec,
                    "default": spec == default,
                    "id": info.id,
                    "backend": info.backend,
                    "context_length": info.context_length,
                    "source": info.source,
                    "details": info.details,
                    "available": True,
                }
            )
        except GenloomError as e:
            rows.append({"spec": spec, "default": spec == default, "available": False, "error": str(e)})
    if as_json:
        print_json(rows)
        return
    table = Table("model", "backend", "context", title="models")
    table.add_column("source", overflow="fold")
    for r in rows:
        name = r["spec"] + (" [green](default)[/]" if r["default"] else "")
        if r["available"]:
            table.add_row(name, r["backend"], str(r["context_length"]), r["source"])
        else:
            table.add_row(name, "-", "-", f"[red]unavailable:[/] {r['error']}")
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command()(models)
