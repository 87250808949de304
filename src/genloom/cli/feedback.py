"""``genloom feedback export``: the ratings people gave answers (web UI thumbs, POST /v1/feedback) as JSONL."""

from __future__ import annotations

from pathlib import Path

import typer

from genloom.cli._common import console_err, write_lines
from genloom.errors import NotFound

feedback_app = typer.Typer(help="Ratings of answers, for evaluation and fine-tuning.", no_args_is_help=True)


@feedback_app.command("export")
def export(
    out: Path | None = typer.Option(None, "--out", "-o", help="Write to this file instead of stdout."),
    key: str | None = typer.Option(None, "--key", help="Only the ratings given with this API key id."),
) -> None:
    """Every rating with its request (prompt messages, question, answer, model, KB), one JSON object a line."""
    from genloom.serve.audit import AuditLog
    from genloom.serve.feedback import export_lines
    from genloom.settings import get_settings

    path = get_settings().home / "audit.db"
    if not path.is_file():
        raise NotFound(
            f"there is no audit log at {path}", hint="ratings are kept by `genloom serve`; set GENLOOM_HOME"
        )
    audit = AuditLog(path)
    try:
        lines = list(export_lines(audit, key))
    finally:
        audit.close()
    write_lines(lines, out)
    console_err.print(f"{len(lines)} rating(s) exported" + (f" to {out}" if out else ""))


def register(app: typer.Typer) -> None:
    app.add_typer(feedback_app, name="feedback")
