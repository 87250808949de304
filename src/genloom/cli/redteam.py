"""``genloom redteam``: run the built-in probe suite (genloom.guard.redteam) against genloom or any
OpenAI-compatible endpoint; JSON and HTML reports, ``--gate`` fails the run when any probe's attack worked."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.table import Table

from genloom.cli._common import console, print_json
from genloom.errors import UserError
from genloom.guard.redteam import PROBES, Target, run_probes, to_html
from genloom.settings import get_settings

CATEGORIES = sorted({c for _, c, _ in PROBES})


def redteam(
    target: str | None = typer.Option(None, "--target", help="Base URL of an OpenAI-compatible server."),
    model: str | None = typer.Option(
        None, "--model", "-m", help="Model: with --target its id there; else an LLM spec run in process."
    ),
    kb: str = typer.Option("redteam", "--kb", help="Knowledge base the indirect probes plant documents in."),
    api_key: str | None = typer.Option(
        None, "--api-key", help="Bearer key for --target (default: $GENLOOM_REDTEAM_KEY)."
    ),
    other_key: str | None = typer.Option(
        None,
        "--other-key",
        help="A second key for the cross-tenant probe (default: $GENLOOM_REDTEAM_OTHER_KEY).",
    ),
    only: list[str] | None = typer.Option(
        None, "--only", help=f"Categories to run: {', '.join(CATEGORIES)}."
    ),
    no_kb_api: bool = typer.Option(False, "--no-kb-api", help="The target has no genloom /v1/kb API."),
    gate: bool = typer.Option(False, "--gate", help="Exit 1 when any probe's attack succeeded."),
    html_file: Path | None = typer.Option(None, "--html", help="Write an HTML report here."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Probe a model for prompt injection, jailbreaks, prompt and PII leaks, exfiltration, cross-tenant reads."""
    bad = sorted(set(only or []) - set(CATEGORIES))
    if bad:
        raise UserError(f"--only: unknown categories {', '.join(bad)}", hint=f"use {', '.join(CATEGORIES)}")
    if target:
        t = Target.remote(target, api_key or os.environ.get("GENLOOM_REDTEAM_KEY", ""), model or "",
                          other_key or os.environ.get("GENLOOM_REDTEAM_OTHER_KEY", ""), not no_kb_api)  # fmt: skip
    else:
        s = get_settings()
        if model:
            from dataclasses import replace

            s = replace(s, model=model)
        t = Target.local(s)
    report = run_probes(t, kb, only)
    if html_file is not None:
        html_file.write_text(to_html(report), encoding="utf-8")
    if as_json:
        print_json(report)
    else:
        table = Table("probe", "category", "result", "evidence", title=f"red team: {report['target']}")
        for p in report["probes"]:
            mark = "[green]pass[/]" if p["passed"] else "[red]FAIL[/]"
            table.add_row(p["id"], p["category"], mark if not p["finish"].startswith("skipped") else "skipped",
                          p["evidence"])  # fmt: skip
        console.print(table)
        s_ = report["summary"]
        console.print(f"{s_['probes']} probes, {s_['failed']} failed, {s_['skipped']} skipped")
    if gate and report["summary"]["failed"]:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(redteam)
