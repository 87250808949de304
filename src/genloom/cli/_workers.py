"""The ``--workers URL`` option of the commands that can run on `genloom worker` processes (ingest, kb reembed,
eval) and its one check: the workers write to and read from the shared Postgres store, so this process must
use it too."""

from __future__ import annotations

from typing import Any

import typer

from genloom.errors import UserError
from genloom.settings import Settings


def workers_option(what: str) -> Any:
    return typer.Option(
        None,
        "--workers",
        help=f"Broker URL (amqp://...): {what} on `genloom worker` processes (Postgres store only).",
    )


def checked_broker(broker: str, settings: Settings) -> str:
    """``broker`` when this process can dispatch to workers; "" stays "" (= run here)."""
    if broker and not settings.store.startswith(("postgres://", "postgresql://")):
        raise UserError(
            "--workers needs the shared Postgres store (workers write to it themselves)",
            hint="set GENLOOM_STORE=postgres://... here and for the workers, or leave out --workers",
        )
    return broker
