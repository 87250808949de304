"""``genloom eval DATASET.jsonl`` (also ``genloom eval run DATASET``), ``genloom eval perplexity FILE...``,
``genloom eval generate-set --kb NAME``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from genloom.cli._common import MODEL_OPTION, console, console_err, print_json
from genloom.cli._workers import checked_broker, workers_option
from genloom.errors import UserError
from genloom.settings import get_settings


class _DefaultRun(TyperGroup):
    """``genloom eval DATASET`` means ``genloom eval run DATASET``: subcommands and a bare dataset coexist."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


eval_app = typer.Typer(
    cls=_DefaultRun,
    no_args_is_help=True,
    help="Evaluate answers on a dataset (genloom eval DATASET.jsonl), the model's perplexity, or bootstrap a set.",
)


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as e:
        raise UserError(f"cannot write {path}: {e.strerror}", hint="pick a writable path") from None


def _load_run(path: Path) -> Any:
    from genloom.eval.runner import SCHEMA, EvalRun

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"no baseline run {str(path)!r}", hint="write one with --out run.json") from None
    except (OSError, ValueError) as e:
        raise UserError(
            f"cannot read the baseline {path}: {e}", hint="pass a file written by --out"
        ) from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise UserError(f"{path} is not a genloom eval run", hint="pass a file written by genloom eval --out")
    return EvalRun.from_dict(data)


@eval_app.command("run")
def run_cmd(
    dataset: Path = typer.Argument(..., help="JSONL file: one case per line (see README 'genloom eval')."),
    kb: str = typer.Option("default", "--kb", help="Knowledge base to answer from."),
    model: str | None = MODEL_OPTION,
    template: str = typer.Option(
        "grounded_answer", "--template", help="Prompt template name[@vN] (prompt A/B)."
    ),
    k: int = typer.Option(5, "-k", help="Chunks retrieved per question (hit@k, recall@k use this k)."),
    mode: str = typer.Option("auto", "--mode", help="auto | generate | extractive."),
    max_tokens: int = typer.Option(160, "--max-tokens", "-n", help="Answer length limit (tokens)."),
    out: Path | None = typer.Option(None, "--out", help="Write the run as JSON (a later --baseline)."),
    report: Path | None = typer.Option(None, "--report", help="Write a self-contained HTML report."),
    baseline: Path | None = typer.Option(None, "--baseline", help="A previous --out run to compare with."),
    gates: list[str] | None = typer.Option(
        None, "--gate", help='e.g. "hit@k>=0.8" (repeatable); exit 1 if any fails.'
    ),
    judge: str | None = typer.Option(
        None, "--judge", help="LLM-as-judge model spec (scores are model-judged)."
    ),
    judge_template: str = typer.Option("judge", "--judge-template", help="Rubric template name[@vN]."),
    limit: int = typer.Option(0, "--limit", help="Only the first N cases (a quick look)."),
    as_json: bool = typer.Option(False, "--json", help="Print the run as JSON instead of tables."),
    evidence_tokens: int = typer.Option(
        0,
        "--evidence-tokens",
        help="Compress the evidence to this many prompt tokens (0 = 5 key statements).",
    ),
    workers: str | None = workers_option("answer and score each case"),
) -> None:
    """Answer every case of DATASET from a knowledge base and measure the results."""
    from genloom.eval import check_gates, evaluate, load_dataset, parse_gate
    from genloom.eval.metrics.judge import Judge
    from genloom.eval.report import render

    if mode not in ("auto", "generate", "extractive"):
        raise UserError(f"unknown mode {mode!r}", hint="use auto, generate or extractive")
    for g in gates or []:
        parse_gate(g)  # a typo in a gate fails before an hour of evaluation, not after
    base = _load_run(baseline) if baseline else None
    cases = load_dataset(dataset)
    if limit > 0:
        cases = cases[:limit]
    broker = checked_broker(workers or "", get_settings())
    judge_obj = Judge(judge, judge_template) if judge else None
    runner = None
    if broker:
        from genloom.distributed.eval_tasks import WorkerCases

        runner = WorkerCases(broker, get_settings())
    with _progress(len(cases)) as advance:
        result = evaluate(
            cases, kb=kb, k=k, model=model, template=template, mode=mode, max_tokens=max_tokens, judge=judge_obj,
            dataset=dataset, progress=advance, evidence_tokens=evidence_tokens, runner=runner,
        )  # fmt: skip
    data = result.to_dict()
    if out:
        _write(out, json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    if report:
        _write(report, render(result, base))
    results = check_gates(result, gates or [])
    if as_json:
        data["gates"] = [
            {"gate": r.gate.text, "value": r.value, "passed": r.passed, "reason": r.reason} for r in results
        ]
        print_json(data)
    else:
        _print_summary(result, base)
        for r in results:
            mark = "[green]PASS[/]" if r.passed else "[bold red]FAIL[/]"
            console.print(f"gate {mark} {r.gate.text}" + (f"  ({r.reason})" if r.reason else ""))
        for path, what in ((out, "run"), (report, "report")):
            if path:
                console_err.print(f"[dim]{what} written to {path}[/]")
    failed = [r.gate.text for r in results if not r.passed]
    if failed:
        from genloom.eval.gate import GateFailed

        raise GateFailed(
            f"{len(failed)} of {len(results)} gates failed: {', '.join(failed)}",
            hint="see the metrics above; compare runs with --baseline and --report",
        )


def _progress(total: int) -> Any:
    from contextlib import contextmanager

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    @contextmanager
    def bar() -> Any:
        with Progress(
            TextColumn("eval"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("{task.description}"), console=console_err, transient=True,
            disable=not console_err.is_terminal,
        ) as p:  # fmt: skip
            task = p.add_task("", total=total)

            def advance(i: int, n: int, case: Any) -> None:
                p.update(task, completed=i, description=case.question[:50])

            yield advance
            p.update(task, completed=total)

    return bar()


def _print_summary(run: Any, base: Any | None) -> None:
    from rich.table import Table

    from genloom.eval.metrics import METRICS

    cfg = run.config
    console.print(
        f"[bold]{cfg['dataset']}[/]: {cfg['n_cases']} cases, kb {cfg['kb']}, model {cfg['model']}, "
        f"template {cfg['template']}, k={cfg['k']}"
        + ("  [yellow](SYNTHETIC cases)[/]" if cfg["synthetic"] else "")
    )
    t = Table(show_edge=False)
    t.add_column("metric")
    t.add_column("value", justify="right")
    t.add_column("n", justify="right")
    if base is not None:
        t.add_column("baseline", justify="right")
        t.add_column("delta", justify="right")
    for name, (family, higher, _) in METRICS.items():
        v = run.value(name)
        if v is None and (base is None or base.value(name) is None):
            continue
        label = name + (" (model-judged)" if family == "judge" else "")
        row = [label, _f(v), str(run.metrics.get(f"n_{name}", ""))]
        if base is not None:
            b = base.value(name)
            d = None if v is None or b is None else v - b
            color = "" if not d else ("green" if (d > 0) == higher else "red")
            row += [_f(b), f"[{color}]{d:+.3f}[/]" if color else _f(d)]
        t.add_row(*row)
    console.print(t)


def _f(v: Any) -> str:
    return "n/a" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))


@eval_app.command("ab")
def ab_cmd(
    dataset: Path = typer.Argument(..., help="JSONL file: one case per line."),
    a: str = typer.Option(
        ..., "--a", help="Arm A: a prompt template NAME@vN (e.g. grounded_answer@v1) or a model."
    ),
    b: str = typer.Option(..., "--b", help="Arm B: the same kind as A."),
    kb: str = typer.Option("default", "--kb", help="Knowledge base to answer from."),
    k: int = typer.Option(5, "-k", help="Chunks retrieved per question."),
    limit: int = typer.Option(0, "--limit", help="Only the first N cases."),
    out: Path | None = typer.Option(None, "--out", help="Write the comparison (both runs included) as JSON."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """A/B two prompt versions or two models on the same cases and seeds: deltas, paired 95% CIs, a verdict."""
    from genloom.eval import load_dataset
    from genloom.eval.ab import ab_test, parse_arm

    arm_a, arm_b = parse_arm(a), parse_arm(b)
    if (arm_a.template is None) != (arm_b.template is None):
        raise UserError("the two arms must be two templates or two models",
                        hint="e.g. --a grounded_answer@v1 --b grounded_answer@v2")  # fmt: skip
    cases = load_dataset(dataset)
    if limit > 0:
        cases = cases[:limit]
    with _progress(2 * len(cases)) as advance:
        result = ab_test(cases, arm_a, arm_b, kb=kb, k=k, dataset=dataset,
                         progress=lambda side, i, n, c: advance(i + (n if side == "b" else 0), 2 * n, c))  # fmt: skip
    if out:
        _write(out, json.dumps(result, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    if as_json:
        print_json({k2: v for k2, v in result.items() if k2 != "runs"})
        return
    from rich.table import Table

    console.print(f"[bold]A[/] {result['a']['arm']} ({result['a']['what']})  [bold]B[/] {result['b']['arm']} "
                  f"({result['b']['what']})  {result['config']['n_cases']} cases, same seeds")  # fmt: skip
    t = Table(show_edge=False)
    for col in ("metric", "A", "B", "B - A", "95% CI (paired)", "verdict"):
        t.add_column(col, justify="left" if col in ("metric", "verdict") else "right")
    for name, r in result["rows"].items():
        ci = r["delta_ci"]
        t.add_row(name, _f(r["a"]), _f(r["b"]), _f(r["delta"]), "n/a" if ci is None else f"[{ci[0]:+.3f}, {ci[1]:+.3f}]",
                  r["verdict"])  # fmt: skip
    console.print(t)
    console.print(f"verdict: [bold]{result['verdict']}[/]")


@eval_app.command("perplexity")
def perplexity_cmd(
    files: list[Path] = typer.Argument(..., help="Text files (.txt, .md, .html, .pdf, .docx)."),
    model: str | None = MODEL_OPTION,
    window: int = typer.Option(512, "--window", help="Tokens per evaluation window (capped at the model's)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """The model's perplexity on a text corpus (lower = the text is less surprising to the model)."""
    from genloom.eval.perplexity import perplexity

    result = perplexity(files, model=model, window=window)
    if as_json:
        print_json(result)
        return
    for f in result["files"]:
        console.print(f"{f['perplexity']:>10.3f}  {f['tokens']:>7} tokens  {f['path']}")
    console.print(
        f"[bold]{result['perplexity']:.3f}[/] perplexity over {result['tokens']} tokens "
        f"({result['model']}, window {result['window']})"
    )


@eval_app.command("generate-set")
def generate_set_cmd(
    kb: str = typer.Option("default", "--kb", help="Knowledge base to draw questions from."),
    n: int = typer.Option(50, "-n", help="How many cases at most."),
    seed: int = typer.Option(0, "--seed", help="Sampling seed (same seed, same set)."),
    out: Path | None = typer.Option(None, "--out", help="Write the JSONL here (default: stdout)."),
) -> None:
    """Bootstrap a SYNTHETIC dataset from a knowledge base: questions from headings and sentences."""
    from genloom.eval.generate_set import generate_set
    from genloom.kb import KnowledgeBase

    with KnowledgeBase.open(kb) as kbo:
        cases = generate_set(kbo, n=n, seed=seed)
    text = "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases)
    if out:
        _write(out, text)
    else:
        typer.echo(text, nl=False)
    console_err.print(
        f'[yellow]{len(cases)} SYNTHETIC cases[/] from knowledge base {kb!r} (marked "synthetic": true): '
        "they echo the documents' wording, so scores on them are optimistic; label real questions when you can."
    )


def register(app: typer.Typer) -> None:
    app.add_typer(eval_app, name="eval")
