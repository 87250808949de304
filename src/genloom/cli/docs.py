"""``genloom docs list|show|rm``: the documents of a knowledge base."""

from __future__ import annotations

import typer
from rich.table import Table

from genloom.cli._common import console, print_json
from genloom.cli._kbopts import KB_OPTION
from genloom.kb import KnowledgeBase

docs_app = typer.Typer(help="List, show and remove documents of a knowledge base.", no_args_is_help=True)


@docs_app.command("list")
def list_docs(kb: str = KB_OPTION, as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the documents of a knowledge base."""
    with KnowledgeBase.open(kb) as base:
        docs = base.documents()
    if as_json:
        print_json([d.to_dict() for d in docs])
        return
    table = Table("id", "chunks", "readers", "title", title=f"{kb}: {len(docs)} documents")
    table.add_column("source", overflow="fold")
    for d in docs:
        table.add_row(d.doc_id, str(d.n_chunks), ",".join(d.principals), d.title, d.source)
    console.print(table)


@docs_app.command("show")
def show(
    doc: str = typer.Argument(..., help="Document id (or a unique prefix, or its source path)."),
    kb: str = KB_OPTION,
    chunks: bool = typer.Option(False, "--chunks", help="Also list its chunks."),
    text: bool = typer.Option(False, "--text", help="Print the full extracted text."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show one document: source, title, readers, metadata, and optionally its chunks and text."""
    with KnowledgeBase.open(kb) as base:
        d = base.document(doc)
        cs = base.chunks(d.doc_id) if chunks else []
    if as_json:
        obj = d.to_dict(with_text=text)
        if chunks:
            obj["chunks"] = [
                {"chunk_id": c.chunk_id, "start": c.start, "end": c.end, "heading_path": c.heading_path,
                 "text": c.text} for c in cs
            ]  # fmt: skip
        print_json(obj)
        return
    for key, value in d.to_dict().items():
        console.print(f"[bold]{key}:[/] {value}", markup=True, highlight=False)
    for c in cs:
        console.print(f"[dim]{c.chunk_id} [{c.start}:{c.end}] {' > '.join(c.heading_path)}[/]")
        console.print("  " + " ".join(c.text.split())[:200], markup=False)
    if text:
        console.print(d.text, markup=False)


@docs_app.command("rm")
def rm(
    doc: list[str] = typer.Argument(..., help="Document ids (or unique prefixes, or source paths)."),
    kb: str = KB_OPTION,
) -> None:
    """Remove documents and all their chunks (each in one transaction)."""
    with KnowledgeBase.open(kb) as base:
        for ref in doc:
            d = base.remove(ref)
            console.print(f"removed {d.doc_id} {d.source} ({d.n_chunks} chunks)", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(docs_app, name="docs")
