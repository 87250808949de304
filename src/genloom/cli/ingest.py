"""``genloom ingest PATH...``: add files, directories and globs to a knowledge base."""

from __future__ import annotations

from typing import Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from genloom.cli._common import console, console_err, print_json
from genloom.cli._kbopts import KB_OPTION, parse_pairs
from genloom.cli._workers import checked_broker
from genloom.errors import UserError
from genloom.ingest import FileResult
from genloom.kb import KnowledgeBase
from genloom.settings import get_settings

# the exit status when any file failed (the rest were still ingested); skipped files (a folder's unsupported
# types) do not count. 1-5 are genloom's error classes (genloom.errors).
FILES_FAILED = 6

_FIELDS = "{task.fields[files]}/{task.fields[n_files]} files · {task.fields[chunks]} chunks · {task.fields[rate]} chunks/s"
_COLOURS = {"added": "green", "updated": "cyan", "unchanged": "dim", "failed": "red", "skipped": "yellow",
            "quarantined": "magenta"}  # fmt: skip


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
        None,
        "--embedder",
        help="Embedder for a new KB: 'onnx:' (default), 'onnx:int8', 'minilm:' (torch) or 'hash:'.",
    ),
    max_file_mb: int | None = typer.Option(None, "--max-file-mb", help="Skip files larger than this."),
    bulk: bool | None = typer.Option(
        None,
        "--bulk/--no-bulk",
        help="Postgres: build the vector index once at the end (default: only into an empty KB).",
    ),
    workers: str | None = typer.Option(
        None,
        "--workers",
        help="Broker URL (amqp://...): embed and write on `genloom worker` processes (Postgres store only; "
        "default: the ingest_workers setting; '' = here).",
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Print one line per file as it is done."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Ingest documents (.txt .md .html .pdf .docx); unchanged files are skipped, re-runs resume."""
    broker = _broker(workers, bulk)  # checked before the KB is created
    base = KnowledgeBase.open(kb, create=True, embedder=embedder)
    try:
        sink = _sink(base, broker) if broker else None
    except BaseException:
        base.close()
        raise
    show_bar = console_err.is_terminal and not verbose
    bar = Progress(
        TextColumn("[bold]ingest[/]"),
        BarColumn(),
        TextColumn(_FIELDS),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),  # by bytes read: files differ in size far more than in count
        console=console_err,
        disable=not show_bar,
        transient=True,
    )
    task = bar.add_task("ingest", total=None, chunks=0, rate="-", files=0, n_files="?")
    state: dict[str, Any] = {"chunks": 0, "files": 0}

    def on_event(kind: str, value: Any) -> None:
        if kind == "total":
            bar.update(task, n_files=value)
            return
        if kind == "bytes":
            bar.update(task, total=max(1, value))
            return
        r: FileResult = value
        state["chunks"] += r.chunks
        state["files"] += 1
        elapsed = bar.tasks[0].elapsed or 0.0
        rate = f"{state['chunks'] / elapsed:.0f}" if elapsed > 0 else "-"
        bar.update(task, advance=r.bytes, chunks=state["chunks"], rate=rate, files=state["files"])
        if verbose:
            reason = f" ({r.reason})" if r.reason else ""
            console_err.print(f"{r.status} {r.source} {r.chunks} chunks{reason}", markup=False)

    try:
        with bar:
            report = base.ingest(paths, principals=principal, progress=on_event,
                                 metadata=parse_pairs(meta, "--meta"), max_file_mb=max_file_mb, bulk=bulk,
                                 sink=sink)  # fmt: skip
    finally:
        base.close()
    if as_json:
        print_json(report.to_dict())
        _exit_if_failed(report.count("failed"))
        return
    problems = [r for r in report.results if r.status in ("failed", "skipped", "quarantined")]
    if problems:
        table = Table("status", "file", "reason", title="not ingested")
        for r in problems:
            table.add_row(f"[{_COLOURS[r.status]}]{r.status}[/]", r.source, r.reason)
        console.print(table)
    flagged = [(r, f) for r in report.results if r.status != "quarantined" for f in r.flagged]
    if flagged:  # kept out of the index by the guards; the rest of each document was indexed
        table = Table("file", "reason", "text", title="flagged and kept out of the index (guardrails)")
        for r, f in flagged:
            table.add_row(r.source, str(f["reason"]), str(f["text"]))
        console.print(table)
    d = report.to_dict()
    parts = [f"[{_COLOURS[s]}]{d[s]} {s}[/]" for s in _COLOURS if d[s]]
    rate = f", {d['chunks_per_second']} chunks/s" if d["chunks"] else ""
    console.print(
        f"{kb}: " + (", ".join(parts) or "nothing to do")
        + f" · {d['chunks']} chunks ({d['embedded']} embedded, {d['reused']} reused) in {d['seconds']:.1f}s{rate}"
        + f" · peak RSS {d['peak_rss_mb']:.0f} MiB"
    )  # fmt: skip
    _exit_if_failed(report.count("failed"))


def _exit_if_failed(failed: int) -> None:
    if failed:
        raise typer.Exit(FILES_FAILED)


def _broker(workers: str | None, bulk: bool | None) -> str:
    """The broker of --workers (or the ingest_workers setting); "" = embed and write here."""
    s = get_settings()
    broker = checked_broker(s.ingest_workers if workers is None else workers, s)
    if broker and bulk:
        raise UserError("--bulk cannot be used with --workers", hint="leave out --bulk")
    return broker


def _sink(base: KnowledgeBase, broker: str) -> Any:
    from genloom.distributed import CelerySink

    base.embedder.info()  # records the KB's embedder before any worker writes to it
    return CelerySink(broker, base.name, base.settings, timeout=base.settings.ingest_task_timeout)


def register(app: typer.Typer) -> None:
    app.command()(ingest)
