"""Options shared by the knowledge-base commands."""

from __future__ import annotations

import typer

from genloom.errors import UserError

KB_OPTION = typer.Option("default", "--kb", help="Knowledge base name.")


def parse_pairs(pairs: list[str] | None, flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw in pairs or []:
        key, sep, value = raw.partition("=")
        if not sep or not key.strip():
            raise UserError(f"{flag} expects key=value, got {raw!r}", hint=f"e.g. {flag} format=pdf")
        out[key.strip()] = value.strip()
    return out
