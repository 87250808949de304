"""``genloom kb list|stats|drop``: knowledge bases."""

from __future__ import annotations

import sys

import typer
from rich.table import Table

from genloom.cli._common import console, print_json
from genloom.errors import UserError
from genloom.kb import KnowledgeBase

kb_app = typer.Typer(help="List, inspect and drop knowledge bases.", no_args_is_help=True)


@kb_app.command("list")
def list_kbs(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List knowledge bases with their document and chunk counts."""
    rows = []
    for name in KnowledgeBase.list():
        with KnowledgeBase.open(name) as base:
            rows.append(base.stats())
    if as_json:
        print_json(rows)
        return
    table = Table("name", "documents", "chunks", "embedder", title="knowledge bases")
    for r in rows:
        table.add_row(r["name"], str(r["documents"]), str(r["chunks"]), str(r["embedder"]))
    console.print(table)


@kb_app.command("stats")
def stats(
    name: str = typer.Argument("default", help="Knowledge base name."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Counts, size on disk and embedder of one knowledge base."""
    with KnowledgeBase.open(name) as base:
        s = base.stats()
    if as_json:
        print_json(s)
        return
    for key, value in s.items():
        console.print(f"[bold]{key}:[/] {value}")


@kb_app.command("drop")
def drop(
    name: str = typer.Argument(..., help="Knowledge base name."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete a knowledge base and everything in it."""
    base = KnowledgeBase.open(name)
    if not yes:
        if not sys.stdin.isatty():
            base.close()
            raise UserError(
                f"dropping {name!r} needs confirmation", hint=f"pass --yes: genloom kb drop {name} --yes"
            )
        if not typer.confirm(f"drop knowledge base {name!r} and all its documents?"):
            base.close()
            raise typer.Exit(1)
    base.drop()
    console.print(f"dropped {name}")


def register(app: typer.Typer) -> None:
    app.add_typer(kb_app, name="kb")
