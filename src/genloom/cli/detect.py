"""``genloom detect TEXT|-``: does the text carry this installation's watermark? (issue 16)"""

from __future__ import annotations

import typer

from genloom.cli._common import MODEL_OPTION, console, print_json, read_text_arg
from genloom.settings import get_settings


def detect(
    text: str = typer.Argument(None, help="Text to check, or '-' to read stdin."),
    model: str | None = MODEL_OPTION,
    logprob: bool = typer.Option(
        False, "--logprob", help="Also the log-probability score (a weaker signal; loads the model)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON object."),
) -> None:
    """Detect genloom's green-list watermark: z-score, p-value, verdict (needs only the model's tokenizer)."""
    from genloom.provenance.detect import detect as run

    s = get_settings()
    body = read_text_arg(text)
    d = run(body, s, model)
    lp = None
    if logprob:
        from genloom.provenance.logprob import score_text

        lp = score_text(body, s, model)
    if as_json:
        print_json({**d.to_dict(), **({"logprob": lp.to_dict()} if lp else {})})
        return
    console.print(f"{d.verdict}  (z = {d.z:.2f}, p = {d.p_value:.2g}, {d.green}/{d.tokens_scored} tokens green,"
                  f" key {d.key_id})")  # fmt: skip
    if d.verdict == "too short to tell":
        console.print(f"  fewer than {d.min_tokens} tokens could be scored: the test has too little to go on")
    if lp is not None:
        console.print(f"log-prob score (weaker signal): {lp.verdict}  ({lp.describe()})")


def register(app: typer.Typer) -> None:
    app.command()(detect)
