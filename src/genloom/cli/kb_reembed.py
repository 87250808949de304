"""``genloom kb reembed NAME --embedder SPEC [--workers URL]``: re-embed a knowledge base with another embedder;
``genloom kb reembed NAME --abort``: cancel a stopped one (NAME takes document changes again)."""

from __future__ import annotations

import typer

from genloom.cli._common import console, console_err, print_json
from genloom.cli._workers import checked_broker, workers_option
from genloom.errors import UserError
from genloom.settings import get_settings


def reembed(
    name: str = typer.Argument(..., help="Knowledge base name."),
    embedder: str | None = typer.Option(
        None, "--embedder", help="The new embedder, e.g. 'onnx:int8' or 'minilm:' (required unless --abort)."
    ),
    workers: str | None = workers_option("embed and write the batches"),
    abort: bool = typer.Option(
        False,
        "--abort",
        help="Cancel a stopped re-embed: drop its staging copy, let NAME take changes again.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Re-embed every chunk with another embedder into a staging copy, then put it in place in one step;
    searches use the old vectors until then, and ingests, updates and deletes into NAME are refused. Safe to
    run again after an interruption (it resumes); or cancel it with --abort."""
    from genloom.kb_reembed import BatchRunner, abort_reembed, reembed_kb, run_here

    s = get_settings()
    if abort:
        if embedder or workers:
            raise UserError(f"--abort takes no {'--embedder' if embedder else '--workers'}",
                            hint=f"cancel with: genloom kb reembed {name} --abort")  # fmt: skip
        a = abort_reembed(name, s)
        if as_json:
            print_json(a)
        else:
            dropped = f" (dropped {a['dropped']})" if a["dropped"] else ""
            console.print(f"aborted the re-embed of {name}{dropped}; it takes document changes again")
        return
    if not embedder:
        raise UserError("missing --embedder", hint=f"e.g. genloom kb reembed {name} --embedder onnx:int8")
    broker = checked_broker(workers or "", s)
    runner: BatchRunner
    if broker:
        from genloom.distributed.reembed import WorkerBatches

        runner = WorkerBatches(broker, s)
    else:
        runner = run_here(s)

    shown = [0]

    def progress(done: int, total: int) -> None:
        if not as_json and (done == total or done // 100 > shown[0] // 100):
            console_err.print(f"{name}: {done}/{total} documents", highlight=False)
        shown[0] = done

    r = reembed_kb(name, embedder, s, runner, progress)
    if as_json:
        print_json(r)
        return
    console.print(f"re-embedded {r['name']}: {r['documents']} documents, {r['chunks']} chunks, {r['from']} -> "
                  f"{r['to']} ({r['dim']} dims) in {r['seconds']:.1f}s")  # fmt: skip


def register(app: typer.Typer) -> None:
    from genloom.cli.kb import kb_app

    kb_app.command("reembed")(reembed)
