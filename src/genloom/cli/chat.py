"""``genloom chat``: an interactive conversation that keeps its history within the context window."""

from __future__ import annotations

import sys

import typer

from genloom.cli._common import MODEL_OPTION, console, console_err
from genloom.cli.generate import sampling_options
from genloom.errors import UserError
from genloom.generate import ChatSession, Engine
from genloom.types import SamplingParams

_defaults = SamplingParams()
HELP = "commands: /reset (forget the conversation), /system TEXT (set the system message), /help, exit"


def chat(
    system: str | None = typer.Option(None, "--system", "-s", help="System message."),
    max_tokens: int = typer.Option(_defaults.max_tokens, "--max-tokens", "-n"),
    temperature: float = typer.Option(_defaults.temperature, "--temperature", "-t"),
    top_p: float = typer.Option(_defaults.top_p, "--top-p"),
    top_k: int = typer.Option(_defaults.top_k, "--top-k"),
    min_p: float = typer.Option(_defaults.min_p, "--min-p"),
    repeat_penalty: float = typer.Option(_defaults.repeat_penalty, "--repeat-penalty"),
    seed: int | None = typer.Option(None, "--seed"),
    model: str | None = MODEL_OPTION,
    kb: str | None = typer.Option(None, "--kb", help="Answer from this knowledge base, with citations."),
    principals: list[str] | None = typer.Option(None, "--as", help="With --kb: answer as this principal."),
) -> None:
    """Chat with the model (or, with --kb, with your documents). /help for commands, 'exit' or Ctrl-D to leave."""
    params = sampling_options(max_tokens, temperature, top_p, top_k, min_p, repeat_penalty, seed, None)
    engine = Engine(model)
    session = ChatSession(engine, params, system=system)
    interactive = sys.stdin.isatty()
    if interactive:
        import readline  # noqa: F401  (line editing and history for input())
    info = engine.backend.info()
    source = f"knowledge base {kb!r} via {info.id}" if kb else info.id
    console_err.print(f"[dim]genloom chat with {source} (context {info.context_length} tokens). {HELP}[/]")
    while True:
        try:
            line = input(">>> " if interactive else "")
        except EOFError:
            break
        text = line.strip()
        if not text:
            continue
        if text in ("exit", "quit", "/exit", "/quit", "/bye"):
            break
        if text == "/reset":
            session.reset()
            console_err.print("[dim]conversation forgotten[/]")
            continue
        if text == "/help":
            console_err.print(f"[dim]{HELP}[/]")
            continue
        if text.startswith("/system"):
            session.set_system(text[len("/system") :].strip())
            console_err.print(f"[dim]system message {'set' if session.system else 'cleared'}[/]")
            continue
        if text.startswith("/"):
            console_err.print(f"[yellow]unknown command {text.split()[0]}[/] [dim]{HELP}[/]")
            continue
        if kb:
            _grounded_turn(text, kb, principals, model, session)
            continue
        try:
            turn = session.send(text)
        except UserError as e:  # e.g. one message bigger than the whole window: say so, keep chatting
            console_err.print(f"[red]error:[/] {e}")
            continue
        if turn.dropped_turns:
            console_err.print(
                f"[dim](dropped {turn.dropped_turns} oldest messages to fit the context window)[/]"
            )
        try:
            for piece in turn:
                sys.stdout.write(piece)
                sys.stdout.flush()
        except KeyboardInterrupt:
            turn.stream.close()
            console_err.print("\n[dim](stopped)[/]")
        sys.stdout.write("\n")
    console.print("[dim]bye[/]")


def _grounded_turn(
    text: str, kb: str, principals: list[str] | None, model: str | None, session: ChatSession
) -> None:
    """One turn answered from the knowledge base; the question is rewritten with the history for retrieval."""
    from genloom.cli.ask import render_citations
    from genloom.rag import AnswerStream
    from genloom.types import Message

    stream = AnswerStream(text, kb=kb, principals=principals, model=model, history=session.history)
    for piece in stream:
        sys.stdout.write(piece)
        sys.stdout.flush()
    sys.stdout.write("\n")
    answer = stream.answer
    assert answer is not None
    render_citations(answer)
    session.history += [Message("user", text), Message("assistant", answer.answer or "(no answer)")]


def register(app: typer.Typer) -> None:
    app.command()(chat)
