"""``genloom tune data|train|export|eval|promote|rollback``: a thin layer over genloom.tune."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from genloom.cli._common import console, console_err, print_json

tune_app = typer.Typer(
    no_args_is_help=True, help="Fine-tune the bundled model: data, train, export, eval, promote."
)


def _bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console_err, transient=False,
    )  # fmt: skip


@tune_app.command("data")
def data_cmd(
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the training files and manifest.json."),
    kb: str | None = typer.Option(None, "--kb", help="Make grounded Q/A examples from this knowledge base."),
    kb_examples: int = typer.Option(0, "--kb-examples", help="How many KB examples at most (0 = all)."),
    chat: list[Path] = typer.Option([], "--chat", help="JSONL of chat conversations / instruction pairs."),
    feedback: list[Path] = typer.Option([], "--feedback", help="The feedback store's JSONL export."),
    eval_set: list[Path] = typer.Option([], "--eval-set", help="An eval set whose gold answers to learn."),
    eval_run: list[Path] = typer.Option(
        [], "--eval-run", help="A genloom eval --out run: verified vs dropped."
    ),
    exclude: list[Path] = typer.Option(
        [], "--exclude", help="Eval set whose questions must never be trained on."
    ),
    held_out: float = typer.Option(0.1, "--held-out", help="Share of questions kept apart for evaluation."),
    unanswerable: float = typer.Option(
        0.1, "--unanswerable", help="Share of KB examples taught to answer I don't know."
    ),
    seed: int = typer.Option(0, "--seed"),
    as_json: bool = typer.Option(False, "--json", help="Print the manifest as JSON."),
) -> None:
    """Build SFT and preference files (validated, deduped, split by question)."""
    from genloom.tune import build_dataset

    with _bar() as bar:
        task = bar.add_task("making examples", total=None, note="")
        manifest = build_dataset(
            out, kb=kb, kb_examples=kb_examples, chat=chat, feedback=feedback, eval_sets=eval_set,
            eval_runs=eval_run, exclude=exclude, held_out=held_out, unanswerable=unanswerable, seed=seed,
            progress=lambda i, n: bar.update(task, completed=i, total=n),
        )  # fmt: skip
    if as_json:
        print_json(manifest)
        return
    for name, f in manifest["files"].items():
        console.print(f"{name}: {f['examples']} examples -> {f['path']}")
    for kind, c in manifest["counts"].items():
        console.print(f"{kind}: by source {c['by_source']}, synthetic {c['synthetic']}, kinds {c['by_kind']}")
    if manifest["skipped"]:
        console.print(f"skipped: {manifest['skipped']}")
    if any(c["synthetic"] for c in manifest["counts"].values()):
        console_err.print(
            '[yellow]KB examples are SYNTHETIC[/] (marked "synthetic": true): questions echo the documents.'
        )


@tune_app.command("train")
def train_cmd(
    data: Path = typer.Option(..., "--data", "-d", help="A training file from genloom tune data."),
    out: Path = typer.Option(..., "--out", "-o", help="Run folder (the same folder again resumes)."),
    method: str = typer.Option("lora", "--method", help="lora (SFT) | dpo (preference pairs)."),
    base: str = typer.Option("llamacpp:", "--base", help="Base model: llamacpp: or a GGUF path."),
    epochs: float = typer.Option(1.0, "--epochs"),
    max_steps: int = typer.Option(0, "--max-steps", help="Stop after this many steps (overrides --epochs)."),
    batch_size: int = typer.Option(4, "--batch-size"),
    grad_accum: int = typer.Option(1, "--grad-accum"),
    lr: float = typer.Option(0.0, "--lr", help="Learning rate (0 = lora 3e-4, dpo 5e-5)."),
    rank: int = typer.Option(8, "--rank"),
    alpha: int = typer.Option(16, "--alpha"),
    max_length: int = typer.Option(1024, "--max-length"),
    beta: float = typer.Option(0.1, "--beta", help="DPO beta."),
    seed: int = typer.Option(0, "--seed"),
    save_steps: int = typer.Option(10, "--save-steps", help="Checkpoint every N steps (and on Ctrl-C)."),
    threads: int = typer.Option(2, "--threads"),
    max_minutes: float = typer.Option(
        0.0, "--max-minutes", help="Stop after this long, keeping the adapter."
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Train a LoRA adapter (Ctrl-C saves a checkpoint; run again to resume)."""
    from genloom.tune import TrainConfig, train

    cfg = TrainConfig(method=method, base=base, epochs=epochs, max_steps=max_steps, batch_size=batch_size,
                      grad_accum=grad_accum, learning_rate=lr, rank=rank, alpha=alpha, max_length=max_length,
                      beta=beta, seed=seed, save_steps=save_steps, threads=threads, max_minutes=max_minutes)  # fmt: skip
    with _bar() as bar:
        task = bar.add_task(f"training ({method})", total=None, note="loading the model")

        def update(e: dict[str, Any]) -> None:
            bar.update(task, completed=e["step"], total=e["total"])
            if "loss" in e:
                bar.update(task, note=f"loss {e['loss']:.4f}")

        run = train(data, out, cfg, progress=update)
    if as_json:
        print_json({"out": str(run.out), "config": run.config, "metrics": run.metrics})
        return
    m = run.metrics
    state = "finished" if m["finished"] else "stopped (run the same command to resume)"
    console.print(f"{state}: {m['steps']}/{m['max_steps']} steps, loss {m['train_loss']}, "
                  f"{m['tokens_per_second']} tokens/s, peak RSS {m['peak_rss_mb']} MB -> {run.out}")  # fmt: skip
    if not m["finished"]:
        raise typer.Exit(130)


@tune_app.command("export")
def export_cmd(
    run: Path = typer.Argument(..., help="A finished training run folder."),
    name: str = typer.Option(..., "--name", help="Registry name for the new version."),
    merge: bool = typer.Option(
        True,
        "--merge/--adapter-only",
        help="Fold the adapter into a copy of the base (decodes at the base's speed) or register the LoRA alone.",
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Export the adapter to a GGUF LoRA (merged into the base by default) and register it as the next version
    of NAME."""
    from genloom.tune import register_run

    v = register_run(run, name, merge=merge)
    if as_json:
        print_json(v.to_dict())
        return
    console.print(
        f"registered {v.ref} ({v.kind} over {v.base}) -> {v.path}\nserve it: genloom serve -m registry:{v.ref}"
    )


@tune_app.command("eval")
def eval_cmd(
    dataset: Path = typer.Argument(..., help="Eval set (JSONL), e.g. held-out questions of your KB."),
    tuned: str = typer.Option(..., "--tuned", help="The tuned model, e.g. registry:grounded@v2."),
    base: str = typer.Option("llamacpp:", "--base", help="What to compare with."),
    kb: str = typer.Option("default", "--kb"),
    k: int = typer.Option(5, "-k"),
    mode: str = typer.Option("auto", "--mode"),
    limit: int = typer.Option(0, "--limit", help="Only the first N cases."),
    perplexity: list[Path] = typer.Option([], "--perplexity", help="Held-out domain text for perplexity."),
    gates: list[str] = typer.Option(
        [], "--gate", help="Promotion gates (default: genloom.tune.DEFAULT_GATES)."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for compare.json and compare.md."),
    base_run: Path | None = typer.Option(
        None, "--base-run", help="An earlier genloom eval --out of the base."
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Evaluate base vs tuned (same seeds), write the comparison, record it in the registry."""
    from genloom.registry import Registry
    from genloom.tune import DEFAULT_GATES, compare, record_eval, write_report

    with _bar() as bar:
        task = bar.add_task("evaluating", total=None, note="")
        c = compare(base, tuned, dataset, kb=kb, k=k, mode=mode, limit=limit, perplexity_files=perplexity,
                    gates=gates or DEFAULT_GATES, base_run=base_run,
                    progress=lambda who, i, n: bar.update(task, completed=i, total=n, description=f"evaluating {who}"))  # fmt: skip
    paths = write_report(c, out)
    if tuned.startswith("registry:"):
        reg = Registry.open()
        try:
            record_eval(reg.resolve(tuned.removeprefix("registry:")), c.summary(), reg)
        finally:
            reg.close()
    if as_json:
        print_json(c.to_dict())
    else:
        console.print(paths["md"].read_text(encoding="utf-8"))
        console.print(f"report: {paths['json']}")


@tune_app.command("promote")
def promote_cmd(
    ref: str = typer.Argument(..., help="NAME@vN to make current."),
    report: Path = typer.Option(..., "--report", help="The genloom tune eval --out folder for that version."),
) -> None:
    """Make a version current, only if its comparison report passed the gates."""
    from genloom.registry import parse_ref
    from genloom.tune import promote_version
    from genloom.tune.evaluate import load_report

    name, version = parse_ref(ref)
    if version is None:
        raise typer.BadParameter("give the exact version, e.g. grounded@v2")
    v = promote_version(name, version, load_report(report))
    console.print(f"{v.ref} is now the current {name} (serve: genloom serve -m registry:{name})")


@tune_app.command("rollback")
def rollback_cmd(name: str = typer.Argument(..., help="Model name.")) -> None:
    """Make the previously promoted version of NAME current again."""
    from genloom.registry import Registry

    reg = Registry.open()
    try:
        v = reg.rollback(name)
    finally:
        reg.close()
    console.print(f"{v.ref} is the current {name} again")


def register(app: typer.Typer) -> None:
    app.add_typer(tune_app, name="tune")
