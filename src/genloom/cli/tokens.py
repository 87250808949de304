"""``genloom tokens TEXT|-``: count tokens with the model's own tokenizer."""

from __future__ import annotations

import typer

from genloom.cli._common import MODEL_OPTION, console, print_json, read_text_arg
from genloom.generate import Engine


def tokens(
    text: str = typer.Argument(..., help="Text to count, or '-' to read stdin."),
    ids: bool = typer.Option(False, "--ids", help="Also print the token ids."),
    model: str | None = MODEL_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print a JSON object."),
) -> None:
    """Count the tokens TEXT takes for the model's tokenizer (no BOS, no chat template)."""
    body = read_text_arg(text)
    engine = Engine(model)
    token_ids = engine.backend.tokenize(body)
    if as_json:
        obj: dict[str, object] = {"model": engine.backend.info().id, "count": len(token_ids)}
        if ids:
            obj["ids"] = token_ids
        print_json(obj)
        return
    console.print(str(len(token_ids)))
    if ids:
        console.print(" ".join(map(str, token_ids)))


def register(app: typer.Typer) -> None:
    app.command()(tokens)
