"""``genloom serve``: the OpenAI-compatible API, knowledge-base endpoints and the web UI on one port."""

from __future__ import annotations

import ipaddress
from typing import Any

import typer

from genloom.cli._common import console_err
from genloom.errors import UserError

LOOPBACK = "127.0.0.1"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def choose_host(host: str, keys_enabled: bool) -> tuple[str, str | None]:
    """With no API keys configured the server is for this machine only: it binds 127.0.0.1 and says so."""
    if keys_enabled or is_loopback(host):
        return host, None
    return LOOPBACK, (
        f"no API keys are configured, so genloom binds {LOOPBACK} only (not {host}); "
        "set GENLOOM_API_KEYS or create $GENLOOM_HOME/keys.toml to serve other machines"
    )


def serve(
    host: str = typer.Option(LOOPBACK, "--host", help="Address to bind (non-loopback needs API keys)."),
    port: int = typer.Option(8000, "--port", "-p", help="Port to listen on."),
    models: list[str] | None = typer.Option(
        None, "--model", "-m", help="Model spec clients may use (repeatable; the first is the default)."
    ),
    log_level: str = typer.Option("warning", "--log-level", help="uvicorn log level."),
) -> None:
    """Serve the OpenAI-compatible API (/v1), the knowledge-base endpoints and the web UI (/)."""
    try:
        import uvicorn

        from genloom.serve import KeyStore, create_app
    except ImportError as e:  # pragma: no cover - depends on the install
        from genloom.errors import MissingDependency

        raise MissingDependency(e.name or "fastapi", "serve") from None
    from genloom.settings import get_settings

    if not 0 < port < 65536:
        raise UserError(f"port must be 1-65535, got {port}", hint="e.g. --port 8000")
    s = get_settings()
    keys = KeyStore.from_settings(s)
    bind, warning = choose_host(host, keys.enabled)
    if warning:
        console_err.print(f"[yellow]{warning}[/]", highlight=False)
    app = create_app(s, models=models or None, keys=keys)
    state = app.state.genloom
    shown = f"[{bind}]" if ":" in bind else bind
    auth = f"{len(keys)} API key(s)" if keys.enabled else "no API keys: local only"
    console_err.print(f"genloom is serving on [bold]http://{shown}:{port}/[/] ({auth})", highlight=False)
    console_err.print(
        f"  OpenAI base URL: http://{shown}:{port}/v1   metrics: /metrics   docs: /docs", highlight=False
    )
    config = uvicorn.Config(app, host=bind, port=port, log_level=log_level,
                            timeout_graceful_shutdown=s.shutdown_seconds)  # fmt: skip

    class Server(uvicorn.Server):
        """On SIGTERM/SIGINT first tell running ingests to stop (they check between steps); uvicorn then
        waits at most ``shutdown_seconds`` for the requests still open before it cancels them."""

        def handle_exit(self, sig: int, frame: Any) -> None:
            state.draining.set()
            super().handle_exit(sig, frame)

    Server(config).run()


def register(app: typer.Typer) -> None:
    app.command()(serve)
