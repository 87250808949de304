"""A real Postgres 16 + pgvector for the tests, started by the PyPI package ``pgserver`` in a temp dir."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def pg_url(tmp_path_factory) -> Iterator[str]:
    pgserver = pytest.importorskip("pgserver")
    os.environ.setdefault("XDG_RUNTIME_DIR", str(tmp_path_factory.mktemp("xdg")))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pgserver's platformdirs warns about the runtime dir
        server = pgserver.get_server(tmp_path_factory.mktemp("pgdata"), cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        from genloom.backends.store import _pg_providers

        for provider in _pg_providers.values():  # the process-wide providers that specs resolved to
            provider.close()  # type: ignore[attr-defined]
        _pg_providers.clear()
        server.cleanup()
