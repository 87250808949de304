"""``genloom ask QUESTION``: a grounded answer with citations to exact spans, or a refusal."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

from genloom.cli._common import MODEL_OPTION, console, console_err, print_json, read_text_arg

if TYPE_CHECKING:
    from genloom.answer.result import Answer


def render_citations(answer: Answer) -> None:
    """The sources under an answer: [n] source › heading, then the quoted span."""
    if answer.refused:
        console.print(f"[yellow]{answer.refusal_reason}[/]")
        return
    for c in answer.citations:
        where = " › ".join(c.heading_path[-2:]) if c.heading_path else ""
        console.print(
            f"[bold cyan][{c.n}][/] {c.source}"
            + (f" [dim]› {where}[/]" if where else "")
            + f" [dim](chars {c.start}-{c.end})[/]"
        )
        console.print(f"    [italic]“{c.quote}”[/]")


def ask(
    question: str = typer.Argument(..., help="The question, or '-' to read it from stdin."),
    kb: str = typer.Option("default", "--kb", help="Knowledge base to answer from."),
    principals: list[str] | None = typer.Option(None, "--as", help="Answer as this principal (repeatable)."),
    k: int = typer.Option(5, "-k", help="How many chunks to retrieve as evidence."),
    model: str | None = MODEL_OPTION,
    mode: str = typer.Option("auto", "--mode", help="auto | generate | extractive."),
    template: str = typer.Option("grounded_answer", "--template", help="Prompt template name[@vN]."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Answer QUESTION from a knowledge base, citing the exact spans that support it — or refuse."""
    from genloom.route.rag_cascade import answer_stream  # cascade:SMALL|BIG models too (issue 21)

    if mode not in ("auto", "generate", "extractive"):
        from genloom.errors import UserError

        raise UserError(f"unknown mode {mode!r}", hint="use auto, generate or extractive")
    stream = answer_stream(
        read_text_arg(question, "question"),
        kb=kb,
        principals=principals,
        k=k,
        model=model,
        mode=mode,
        template=template,
    )
    if as_json:
        for _ in stream:
            pass
        assert stream.answer is not None
        print_json(stream.answer.to_dict())
        return
    for piece in stream:
        sys.stdout.write(piece)
        sys.stdout.flush()
    sys.stdout.write("\n")
    assert stream.answer is not None
    render_citations(stream.answer)
    t = stream.answer.timings
    if console_err.is_terminal:
        console_err.print(
            f"[dim]{stream.answer.mode}; first text {t.get('first_token', 0):.2f}s, "
            f"total {t.get('total', 0):.2f}s[/]"
        )


def register(app: typer.Typer) -> None:
    app.command()(ask)
