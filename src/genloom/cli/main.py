"""Entry point: builds the Typer app from one module per command and turns errors into exit codes."""

from __future__ import annotations

import os
import sys

import click
import typer

from genloom import __version__
from genloom.cli import (
    agent,
    ask,
    audit,
    chat,
    detect,
    docs,
    extract,
    feedback,
    generate,
    image,
    ingest,
    kb,
    kb_migrate,
    kb_reembed,
    mcp,
    models,
    prompts,
    redteam,
    search,
    serve,
    tokens,
    tune,
    usage,
    verify,
    worker,
)
from genloom.cli import eval as eval_cmd
from genloom.cli._common import console_err
from genloom.errors import GenloomError

app = typer.Typer(
    name="genloom",
    help="Local-first generative AI: your documents as a grounded assistant and an OpenAI-compatible API.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for module in (
    generate,
    chat,
    tokens,
    models,
    ingest,
    search,
    docs,
    kb,
    kb_migrate,
    kb_reembed,
    ask,
    extract,
    serve,
    eval_cmd,
    agent,
    mcp,
    feedback,
    tune,
    image,
    redteam,
    audit,
    prompts,
    usage,
    worker,
    detect,
    verify,
):
    module.register(app)


def _version(value: bool) -> None:
    if value:
        print(f"genloom {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
    store: str | None = typer.Option(
        None, "--store", help="Store spec (as GENLOOM_STORE): 'sqlite:', 'postgres://...'."
    ),
    model: str | None = typer.Option(
        None, "--model", help="Default LLM spec (as GENLOOM_MODEL), e.g. 'openai:URL#MODEL'."
    ),
    embedder: str | None = typer.Option(
        None, "--embedder", help="Default embedder spec (as GENLOOM_EMBEDDER)."
    ),
) -> None:
    """genloom: generate, chat, count tokens, list models (more commands arrive with the knowledge base)."""
    if store or model or embedder:  # the same as setting GENLOOM_STORE / GENLOOM_MODEL / GENLOOM_EMBEDDER
        from genloom.settings import Settings, set_settings

        set_settings(Settings.load(store=store, model=model, embedder=embedder))


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return (and exit with) the exit code. Tracebacks are shown only with GENLOOM_DEBUG=1."""
    try:
        rv = app(args=argv, standalone_mode=False)
        code = rv if isinstance(rv, int) else 0  # without standalone mode click returns Exit codes
    except GenloomError as e:
        if os.environ.get("GENLOOM_DEBUG"):
            raise
        console_err.print(f"[bold red]error:[/] {e.message}", highlight=False)
        if e.hint:
            console_err.print(f"[dim]hint:[/] {e.hint}", highlight=False)
        code = e.exit_code
    except (click.exceptions.Exit, typer.Exit) as e:  # typer >= 0.2x has its own Exit
        code = e.exit_code
    except click.ClickException as e:
        e.show()
        code = e.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        console_err.print("[dim]interrupted[/]")
        code = 130
    except BrokenPipeError:  # e.g. `genloom generate ... | head`
        sys.stderr.close()
        code = 0
    if __name__ == "__main__" or argv is None:
        sys.exit(code)
    return code


if __name__ == "__main__":
    main()
