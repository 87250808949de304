"""``genloom generate PROMPT``: stream a completion to stdout."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from genloom.cli._common import MODEL_OPTION, console_err, print_json, read_text_arg
from genloom.errors import NotFound, UserError
from genloom.generate import Engine
from genloom.structured import Constraint
from genloom.types import SamplingParams

_defaults = SamplingParams()


def sampling_options(
    max_tokens: int,
    temperature: float,
    top_p: float,
    top_k: int,
    min_p: float,
    repeat_penalty: float,
    seed: int | None,
    stop: list[str] | None,
) -> SamplingParams:
    return SamplingParams(
        max_tokens=max_tokens,
        temperature=temperature,
        top_p=top_p,
        top_k=top_k,
        min_p=min_p,
        repeat_penalty=repeat_penalty,
        seed=seed,
        stop=list(stop or []),
    ).validate()


def constraint_options(json_schema: Path | None, regex: str | None, choice: str | None) -> Constraint | None:
    """At most one of --json-schema FILE, --regex PATTERN, --choice a,b,c."""
    given = [o for o, v in (("--json-schema", json_schema), ("--regex", regex), ("--choice", choice)) if v]
    if len(given) > 1:
        raise UserError(f"{' and '.join(given)} cannot be combined", hint="pass only one output constraint")
    if json_schema is not None:
        if not json_schema.is_file():
            raise NotFound(f"no schema file at {json_schema}", hint="pass the path of a JSON Schema file")
        return Constraint.json_schema(json_schema.read_text(encoding="utf-8"))
    if regex is not None:
        return Constraint.regex(regex)
    if choice is not None:
        return Constraint.choice(c.strip() for c in choice.split(",") if c.strip())
    return None


def generate(
    prompt: str = typer.Argument(..., help="The prompt, or '-' to read it from stdin."),
    system: str | None = typer.Option(None, "--system", "-s", help="System message."),
    max_tokens: int = typer.Option(
        _defaults.max_tokens, "--max-tokens", "-n", help="Most tokens to generate."
    ),
    temperature: float = typer.Option(_defaults.temperature, "--temperature", "-t", help="0 = greedy."),
    top_p: float = typer.Option(_defaults.top_p, "--top-p", help="Nucleus sampling mass, in (0, 1]."),
    top_k: int = typer.Option(_defaults.top_k, "--top-k", help="Sample among the k likeliest (0 = off)."),
    min_p: float = typer.Option(_defaults.min_p, "--min-p", help="Drop tokens below min_p x the top prob."),
    repeat_penalty: float = typer.Option(_defaults.repeat_penalty, "--repeat-penalty", help="1.0 = off."),
    seed: int | None = typer.Option(None, "--seed", help="Fix the seed: same seed + settings = same text."),
    stop: list[str] | None = typer.Option(None, "--stop", help="Stop sequence (repeatable)."),
    model: str | None = MODEL_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object with text, usage and timings."),
    truncate: bool = typer.Option(False, "--truncate", help="Cut the start of a prompt that is too long."),
    json_schema: Path | None = typer.Option(
        None, "--json-schema", help="Force the output to be JSON valid against this schema file."
    ),
    regex: str | None = typer.Option(None, "--regex", help="Force the output to match this regex."),
    choice: str | None = typer.Option(None, "--choice", help="Force the output to be one of a,b,c."),
) -> None:
    """Generate text from PROMPT, streaming tokens to stdout as they are produced."""
    params = sampling_options(max_tokens, temperature, top_p, top_k, min_p, repeat_penalty, seed, stop)
    constraint = constraint_options(json_schema, regex, choice)
    text = read_text_arg(prompt, "prompt")
    engine = Engine(model)
    stream = engine.stream(text, params, system=system, truncate=truncate, constraint=constraint)
    if stream.fitted.truncated_chars:
        console_err.print(
            f"[yellow]note:[/] cut {stream.fitted.truncated_chars} characters from the "
            "start of the prompt to fit the context window"
        )
    if as_json:
        for _ in stream:
            pass
        assert stream.completion is not None
        print_json(stream.completion.to_dict())
        return
    out = sys.stdout
    for piece in stream:
        out.write(piece)
        out.flush()
    out.write("\n")
    c = stream.completion
    if c is not None and console_err.is_terminal:
        ttft = f"{c.timings.time_to_first_token * 1000:.0f} ms" if c.timings.time_to_first_token else "-"
        rate = f"{c.timings.tokens_per_second:.1f} tok/s" if c.timings.tokens_per_second else "-"
        console_err.print(
            f"[dim]{c.usage.prompt_tokens}+{c.usage.completion_tokens} tokens, "
            f"first token {ttft}, {rate}, seed {c.seed}, {c.finish_reason}[/]"
        )


def register(app: typer.Typer) -> None:
    app.command()(generate)
