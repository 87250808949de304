"""``genloom run TEMPLATE[@vN] --var k=v`` and ``genloom prompts list/show/diff/new``: task templates."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

from genloom.cli._common import MODEL_OPTION, console, console_err, print_json

prompts_app = typer.Typer(help="Task templates: versioned prompts with typed variables (genloom run).")


def run(
    template: str = typer.Argument(..., help="NAME or NAME@vN (genloom prompts list shows them)."),
    var: list[str] | None = typer.Option(None, "--var", "-v", help="A variable as KEY=VALUE (repeatable)."),
    model: str | None = MODEL_OPTION,
    max_tokens: int | None = typer.Option(None, "--max-tokens", "-n", help="Over the template's default."),
    temperature: float | None = typer.Option(
        None, "--temperature", "-t", help="Over the template's default."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Fix the seed: same seed + settings = same text."),
    as_json: bool = typer.Option(
        False, "--json", help="Print one JSON object: text, value, usage, template."
    ),
) -> None:
    """Run a task template, streaming its reply (JSON valid against its schema when it has one)."""
    from genloom.prompts.run import parse_vars, prepare

    r = prepare(template, parse_vars(list(var or [])), as_text=True, model=model,
                max_tokens=max_tokens, temperature=temperature, seed=seed)  # fmt: skip
    stream = r.stream()
    if as_json:
        for _ in stream:
            pass
        assert stream.completion is not None
        print_json({**stream.completion.to_dict(), "value": stream.value, "template": r.template.id,
                    "template_sha256": r.template.sha256})  # fmt: skip
        return
    for piece in stream:
        sys.stdout.write(piece)
        sys.stdout.flush()
    sys.stdout.write("\n")
    c = stream.completion
    if c is not None and console_err.is_terminal:
        console_err.print(
            f"[dim]{r.template.id} on {c.model}: {c.usage.prompt_tokens}+{c.usage.completion_tokens} tokens, "
            f"seed {c.seed}, {c.finish_reason}[/]"
        )


@prompts_app.command("list")
def list_cmd(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """The task templates and their versions (built-in and in $GENLOOM_HOME/templates)."""
    from genloom.prompts.catalog import load, names, versions

    rows: list[dict[str, Any]] = []
    for name in names():
        latest = load(name)
        rows.append({"name": name, "versions": sorted(versions(name)), "latest": latest.id,
                     "structured": latest.schema is not None, "description": latest.description})  # fmt: skip
    if as_json:
        print_json(rows)
        return
    for r in rows:
        vs = ",".join(f"v{v}" for v in r["versions"])
        kind = " [json]" if r["structured"] else ""
        console.print(f"{r['name']:<20} {vs:<8} {r['description']}{kind}")


@prompts_app.command("show")
def show_cmd(
    template: str = typer.Argument(..., help="NAME or NAME@vN."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """A template's variables, schema, defaults, hash (and whether that version has been used)."""
    from genloom.prompts.catalog import Pins, load

    t = load(template)
    pins = Pins()
    try:
        used = pins.recorded(t.name, t.version)
    finally:
        pins.close()
    info = {**t.summary(), "used": used is not None, "changed_since_used": used not in (None, t.sha256)}
    if as_json:
        print_json(info)
        return
    console.print(f"[bold]{t.id}[/]  {t.description}")
    console.print(f"file {t.source}\nsha256 {t.sha256}" + ("  (used: immutable)" if used else ""))
    console.print(f"model {t.model or '(the configured default)'}  sampling {json.dumps(t.sampling)}")
    for v in t.variables:
        d = v.to_dict()
        need = "required" if v.required else f"default {v.default!r}"
        extra = f" one of {d['choices']}" if v.choices else ""
        console.print(f"  --var {v.name}=<{v.type}>  {need}{extra}  {v.description}")
    if t.schema is not None:
        console.print(f"output schema {json.dumps(t.schema)}")
    console.print(f"{len(t.examples)} few-shot example(s)")


@prompts_app.command("diff")
def diff_cmd(
    a: str = typer.Argument(..., help="NAME@vN"),
    b: str = typer.Argument(..., help="NAME@vM (or a bare vM: the same name as A)"),
) -> None:
    """A unified diff of two template versions."""
    from genloom.prompts.catalog import diff, split_ref

    if b.lower().startswith("v") and b[1:].isdigit():
        b = f"{split_ref(a)[0]}@{b}"
    sys.stdout.write(diff(a, b) or "(no differences)\n")


@prompts_app.command("new")
def new_cmd(
    name: str = typer.Argument(..., help="The template's name (a new one, or the next version)."),
) -> None:
    """Write the next version of NAME into $GENLOOM_HOME/templates (a copy of its latest, or a skeleton)."""
    from genloom.prompts.catalog import new

    path = new(name)
    console.print(str(path))
    console_err.print("[dim]edit it, then: genloom run " + f"{name}@{path.stem} --var ...[/]")


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.add_typer(prompts_app, name="prompts")
