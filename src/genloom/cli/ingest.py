"""``genloom ingest PATH...``: add files, directories and globs to a knowledge base."""

from __future__ import annotations

from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from genloom.cli._common import console, console_err, print_json
from genloom.cli._kbopts import KB_OPTION, parse_pairs
from genloom.ingest import FileResult
from genloom.kb import KnowledgeBase

# the exit status when any file failed (the rest were still ingested); skipped files (a folder's unsupported
# types) do not count. 1-5 are genloom's error classes (genloom.errors).
FILES_FAILED = 6

_COLOURS = {"added": "green", "updated": "cyan", "unchanged": "dim", "failed": "red", "skipped": "yellow"}


def ingest(
    paths: list[str] = typer.Argument(..., help="Files, directories (recursive) or glob patterns."),
    kb: str = KB_OPTION,
    principal: list[str] | None = typer.Option(
        None, "--principal", "-p", help="Who may read these documents (repeatable); default: everyone."
    ),
    meta: list[str] | None = typer.Option(
        None, "--meta", help="key=value metadata for --where (repeatable)."
    ),
    embedder: str | None = typer.Option(
        None, "--embedder", help="Embedder for a new KB: 'minilm:' (default) or 'hash:'."
    ),
    max_file_mb: int | None = typer.Option(None, "--max-file-mb", help="Skip files larger than this."),
    bulk: bool | None = typer.Option(
        None,
        "--bulk/--no-bulk",
        help="Postgres: build the vector index once at the end (default: only into an empty KB).",
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Print one line per file as it is done."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Ingest documents (.txt .md .html .pdf .docx); unchanged files are skipped, re-runs resume."""
    base = KnowledgeBase.open(kb, create=True, embedder=embedder)
    show_bar = console_err.is_terminal and not verbose
    bar = Progress(
        TextColumn("[bold]ingest[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files · {task.fields[chunks]} chunks · {task.fields[rate]} chunks/s"),
        TimeElapsedColumn(),
        console=console_err,
        disable=not show_bar,
        transient=True,
    )
    task = bar.add_task("ingest", total=None, chunks=0, rate="-")
    state: dict[str, Any] = {"chunks": 0}

    def on_event(kind: str, value: Any) -> None:
        if kind == "total":
            bar.update(task, total=value)
            return
        r: FileResult = value
        state["chunks"] += r.chunks
        elapsed = bar.tasks[0].elapsed or 0.0
        rate = f"{state['chunks'] / elapsed:.0f}" if elapsed > 0 else "-"
        bar.update(task, advance=1, chunks=state["chunks"], rate=rate)
        if verbose:
            reason = f" ({r.reason})" if r.reason else ""
            console_err.print(f"{r.status} {r.source} {r.chunks} chunks{reason}", markup=False)

    try:
        with bar:
            report = base.ingest(paths, principals=principal, progress=on_event,
                                 metadata=parse_pairs(meta, "--meta"), max_file_mb=max_file_mb, bulk=bulk)  # fmt: skip
    finally:
        base.close()
    if as_json:
        print_json(report.to_dict())
        _exit_if_failed(report.count("failed"))
        return
    problems = [r for r in report.results if r.status in ("failed", "skipped")]
    if problems:
        table = Table("status", "file", "reason", title="not ingested")
        for r in problems:
            table.add_row(f"[{_COLOURS[r.status]}]{r.status}[/]", r.source, r.reason)
        console.print(table)
    d = report.to_dict()
    parts = [f"[{_COLOURS[s]}]{d[s]} {s}[/]" for s in _COLOURS if d[s]]
    rate = f", {d['chunks_per_second']} chunks/s" if d["chunks"] else ""
    console.print(
        f"{kb}: " + (", ".join(parts) or "nothing to do")
        + f" · {d['chunks']} chunks ({d['embedded']} embedded, {d['reused']} reused) in {d['seconds']:.1f}s{rate}"
    )  # fmt: skip
    _exit_if_failed(report.count("failed"))


def _exit_if_failed(failed: int) -> None:
    if failed:
        raise typer.Exit(FILES_FAILED)


def register(app: typer.Typer) -> None:
    app.command()(ingest)
