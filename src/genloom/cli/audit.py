"""``genloom audit verify | export | prune``: the server's audit log (``$GENLOOM_HOME/audit.db``).

``verify`` recomputes the hash chain and names every row where it breaks (edited, deleted, reordered, the
newest rows cut off); exit code 1 when anything is wrong. ``export`` writes the rows as JSONL, redacted.
``prune`` applies ``audit_retention_days`` now (the server also does, at start and hourly).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from genloom.cli._common import console_err, write_lines
from genloom.errors import NotFound, UserError

if TYPE_CHECKING:
    from genloom.serve.audit import AuditLog

audit_app = typer.Typer(help="The audit log: verify its hash chain, export it (redacted), prune it.",
                        no_args_is_help=True)  # fmt: skip


def _open() -> AuditLog:
    from genloom.serve.audit import AuditLog
    from genloom.settings import get_settings

    s = get_settings()
    path = s.home / "audit.db"
    if not path.is_file():
        raise NotFound(f"there is no audit log at {path}", hint="`genloom serve` writes it; set GENLOOM_HOME")
    return AuditLog(path, s)


@audit_app.command("verify")
def verify(
    head: str | None = typer.Option(
        None, "--head", help="A head hash printed by an earlier verify: it must still be in the chain."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the verdict as JSON."),
) -> None:
    """Recompute every row's hash and link; exit 1 naming the rows where the chain breaks."""
    if head is not None and (len(head) != 64 or any(c not in "0123456789abcdef" for c in head)):
        raise UserError(
            "--head must be a 64-character hex SHA-256", hint="copy it from `genloom audit verify`"
        )
    audit = _open()
    try:
        v = audit.verify(head)
    finally:
        audit.close()
    if as_json:
        print(json.dumps(v.to_dict(), indent=2))
    else:
        for p in v.problems:
            print(f"row {p.id}: {p.kind}: {p.message}")
        state = "ok" if v.ok else f"BROKEN ({len(v.problems)} problem(s))"
        print(f"{state}: {v.rows} row(s), {v.checkpoints} checkpoint(s), head row {v.head_id} {v.head_hash}")
    if not v.ok:
        raise typer.Exit(1)


@audit_app.command("export")
def export(
    out: Path | None = typer.Option(None, "--out", "-o", help="Write to this file instead of stdout."),
) -> None:
    """Every row, oldest first, one JSON object a line, with prompts and outputs redacted."""
    audit = _open()
    try:
        lines = [json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in audit.export()]
    finally:
        audit.close()
    write_lines(lines, out, private=True)
    console_err.print(f"{len(lines)} row(s) exported" + (f" to {out}" if out else ""))


@audit_app.command("prune")
def prune() -> None:
    """Delete rows older than audit_retention_days now, behind a checkpoint row the chain verifies."""
    from genloom.settings import get_settings

    if get_settings().audit_retention_days == 0:
        raise UserError("audit_retention_days is 0 (keep every row)", hint="set GENLOOM_AUDIT_RETENTION_DAYS")
    audit = _open()  # opening prunes
    audit.close()
    console_err.print(f"{audit.pruned_at_open} row(s) older than the retention pruned")


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
