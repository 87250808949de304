"""``genloom agent TASK``: a ReAct-style agent over allow-listed tools, streaming each step."""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Any

import typer

from genloom.cli._common import MODEL_OPTION, console, console_err, read_text_arg


def _show(event: Any) -> None:
    """One step for a person: thoughts dim, tool calls and observations indented, the answer and sources."""
    kind = event.type
    if kind == "thought":
        console.print(f"[dim]{event.step}. thinking:[/] [italic]{event.text}[/]")
    elif kind == "tool_call":
        console.print(f"[bold cyan]{event.step}. → {event.name}[/]([dim]{event.arguments}[/])")
    elif kind == "observation":
        style = "dim" if event.ok else "yellow"
        text = " ".join(event.content.split())
        console.print(f"   [{style}]← {text[:400]}{'…' if len(text) > 400 else ''}[/]", markup=True)
    elif kind == "answer":
        console.print(f"\n[bold]{event.text}[/]")
        for c in event.citations:
            where = " › ".join(c.heading_path[-2:]) if c.heading_path else ""
            console.print(f"[bold cyan][{c.n}][/] {c.source}" + (f" [dim]› {where}[/]" if where else "")
                          + f" [dim](chars {c.start}-{c.end})[/]")  # fmt: skip
            console.print(f"    [italic]“{c.quote}”[/]")
    elif kind == "error":
        console_err.print(f"[bold red]stopped:[/] {event.message}")


def agent(
    task: str = typer.Argument(..., help="The task, or '-' to read it from stdin."),
    tools: list[str] | None = typer.Option(
        None, "--tool", "-t", help="A tool the agent may use (repeatable); default: the agent_tools setting."
    ),
    kb: str | None = typer.Option(None, "--kb", help="Knowledge base for the KB tools."),
    principals: list[str] | None = typer.Option(None, "--as", help="Act as this principal (repeatable)."),
    max_steps: int = typer.Option(6, "--max-steps", help="Most model calls in the run."),
    max_tokens: int = typer.Option(
        6000, "--max-tokens", help="Token budget of the run (prompt + completion)."
    ),
    mcp: list[str] | None = typer.Option(
        None, "--mcp", help="An MCP server command whose tools the agent may use if allowed (repeatable)."
    ),
    model: str | None = MODEL_OPTION,
    as_json: bool = typer.Option(False, "--json", help="One JSON object per step, then the result."),
) -> None:
    """Solve TASK with tools: think, call a tool, observe, ... answer (citing KB sources)."""
    from genloom.agents import run_agent
    from genloom.agents.mcp_client import MCPTools

    text = read_text_arg(task, "task")
    with contextlib.ExitStack() as stack:
        toolbox = [t for cmd in mcp or [] for t in stack.enter_context(MCPTools(cmd)).tools()]
        run = run_agent(text, model, tools, kb=kb, principals=principals, toolbox=toolbox, max_steps=max_steps,
                        max_tokens=max_tokens)  # fmt: skip
        for event in run:
            if as_json:
                sys.stdout.write(json.dumps(event.to_dict(), ensure_ascii=False) + "\n")
                sys.stdout.flush()
            else:
                _show(event)
    result = run.result
    assert result is not None
    if as_json:
        sys.stdout.write(json.dumps({"type": "result", **result.to_dict()}, ensure_ascii=False) + "\n")
    elif console_err.is_terminal:
        u = result.usage
        console_err.print(f"[dim]{result.steps} steps, {len(result.tool_calls)} tool calls, "
                          f"{u.total_tokens} tokens ({u.prompt_tokens} prompt)[/]")  # fmt: skip
    if result.answer is None:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(agent)
