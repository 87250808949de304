"""``genloom search QUERY``: hybrid, vector or keyword search in a knowledge base, with ACL and filters."""

from __future__ import annotations

import typer

from genloom.cli._common import console, print_json, read_text_arg
from genloom.cli._kbopts import KB_OPTION, parse_pairs
from genloom.errors import UserError
from genloom.kb import KnowledgeBase
from genloom.retrieve import MODES


def search(
    query: str = typer.Argument(..., help="What to look for, or '-' to read stdin."),
    kb: str = KB_OPTION,
    k: int = typer.Option(5, "-k", "--top-k", help="How many results."),
    as_principal: list[str] | None = typer.Option(
        None, "--as", help="Search as this principal (repeatable); default: public documents only."
    ),
    mode: str = typer.Option("hybrid", "--mode", help="hybrid, vector or keyword."),
    where: list[str] | None = typer.Option(None, "--where", help="key=value metadata filter (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print the hits as JSON."),
) -> None:
    """Find the chunks of a knowledge base that best match QUERY."""
    if mode not in MODES:
        raise UserError(f"unknown search mode {mode!r}", hint="use --mode hybrid, vector or keyword")
    text = read_text_arg(query, "query")
    with KnowledgeBase.open(kb) as base:
        hits = base.search(text, k=k, principals=as_principal, mode=mode, where=parse_pairs(where, "--where"))
    if as_json:
        print_json([h.to_dict() for h in hits])
        return
    if not hits:
        console.print("[dim]no results[/]")
        return
    for i, h in enumerate(hits, start=1):
        where_in = " > ".join(h.heading_path) or h.title
        console.print(
            f"[bold]{i}.[/] [cyan]{h.source}[/] [dim]{where_in} [{h.start}:{h.end}] score {h.score:.4f}[/]"
        )
        snippet = " ".join(h.text.split())
        console.print("   " + (snippet[:300] + ("…" if len(snippet) > 300 else "")), markup=False)


def register(app: typer.Typer) -> None:
    app.command()(search)
