"""``genloom worker``: a Celery worker that embeds and writes the batches ``genloom ingest --workers`` sends."""

from __future__ import annotations

import importlib

import typer

from genloom.errors import UserError
from genloom.settings import get_settings


def worker(
    broker: str | None = typer.Option(
        None,
        "--broker",
        help="Broker URL, e.g. amqp://guest:guest@127.0.0.1:5672// (default: ingest_workers).",
    ),
    concurrency: int | None = typer.Option(
        None, "--concurrency", "-c", help="Worker processes (default: the worker_concurrency setting)."
    ),
    queue: str | None = typer.Option(None, "--queue", "-Q", help="Broker queue (default: worker_queue)."),
    name: str | None = typer.Option(None, "--name", "-n", help="Node name, e.g. w1@%h (unique per host)."),
    imports: list[str] | None = typer.Option(
        None,
        "--import",
        help="Modules to import first (plugins that register embedders or stores; repeatable).",
    ),
) -> None:
    """Run a worker for distributed ingest; it writes to the configured store (GENLOOM_STORE=postgres://...)."""
    s = get_settings()
    url = broker or s.ingest_workers
    if not url:
        raise UserError(
            "no broker to take work from", hint="pass --broker amqp://... or set GENLOOM_INGEST_WORKERS"
        )
    if not s.store.startswith(("postgres://", "postgresql://")):
        raise UserError(
            "a worker needs the shared Postgres store to write to",
            hint="set GENLOOM_STORE=postgres://... (the same as the dispatcher's)",
        )
    for module in imports or []:
        try:
            importlib.import_module(module)
        except ImportError as e:
            raise UserError(f"cannot import {module!r}: {e}", hint="check --import and PYTHONPATH") from None
    from genloom.distributed import make_app

    app = make_app(url, s)
    argv = ["worker", "--pool=prefork", f"--concurrency={concurrency or s.worker_concurrency}",
            f"--queues={queue or s.worker_queue}", "--loglevel=INFO", "--without-gossip", "--without-mingle"]  # fmt: skip
    if name:
        argv.append(f"--hostname={name}")
    app.worker_main(argv=argv)


def register(app: typer.Typer) -> None:
    app.command()(worker)
