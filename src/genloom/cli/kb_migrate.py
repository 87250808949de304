"""``genloom kb migrate --from SPEC --to SPEC``: copy knowledge bases between stores (e.g. SQLite -> Postgres)."""

from __future__ import annotations

import typer

from genloom.cli._common import console, console_err, print_json


def migrate(
    source: str = typer.Option(..., "--from", help="Store to read, e.g. 'sqlite:' or 'sqlite:/dir'."),
    target: str = typer.Option(..., "--to", help="Store to write, e.g. 'postgres://user:pw@host:5432/db'."),
    names: list[str] | None = typer.Option(
        None, "--kb", help="Knowledge base to copy (repeatable; default all)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Copy knowledge bases with their vectors (no re-embedding); safe to run again after an interruption."""
    from genloom.kb_migrate import migrate_kbs

    def progress(name: str, i: int, n: int) -> None:
        if not as_json and (i == n or i % 100 == 0):
            console_err.print(f"{name}: {i}/{n} documents", highlight=False)

    reports = migrate_kbs(source, target, names or None, progress=progress)
    if as_json:
        print_json(reports)
        return
    for r in reports:
        console.print(f"migrated {r['name']}: {r['documents']} documents, {r['chunks']} chunks")


def register(app: typer.Typer) -> None:
    from genloom.cli.kb import kb_app

    kb_app.command("migrate")(migrate)
