"""Choose a store from a spec string; the only place that maps specs to classes.

sqlite:             one SQLite file per knowledge base under $GENLOOM_HOME/kb (the default)
sqlite:/some/dir    one SQLite file per knowledge base under /some/dir
postgres://user:password@host:5432/db   Postgres + pgvector (also postgresql://...), needs genloom[postgres]
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from genloom.backends import split_spec
from genloom.backends.store.base import SearchFilter, Store, StoreProvider
from genloom.settings import Settings, get_settings

ProviderFactory = Callable[[str, Settings], StoreProvider]
_registry: dict[str, ProviderFactory] = {}


def register_store(scheme: str, factory: ProviderFactory) -> None:
    """Add a store kind under ``scheme:``; built-ins use this too."""
    _registry[scheme] = factory


def _sqlite(rest: str, s: Settings) -> StoreProvider:
    from genloom.backends.store.sqlite import SQLiteProvider

    return SQLiteProvider(Path(rest).expanduser() if rest else s.home / "kb")


_pg_providers: dict[tuple[str, object], StoreProvider] = {}


def _postgres_factory(scheme: str) -> ProviderFactory:
    def make(rest: str, s: Settings) -> StoreProvider:
        from genloom.backends.store.postgres import PostgresProvider
        from genloom.backends.store.postgres_db import PgOptions

        url, options = f"{scheme}:{rest}", PgOptions.from_settings(s)
        if (url, options) not in _pg_providers:  # one connection pool per database per process
            _pg_providers[url, options] = PostgresProvider(url, options)
        return _pg_providers[url, options]

    return make


register_store("sqlite", _sqlite)
register_store("postgres", _postgres_factory("postgres"))
register_store("postgresql", _postgres_factory("postgresql"))


def resolve_store(spec: str | None = None, settings: Settings | None = None) -> StoreProvider:
    """Return the store provider for ``spec`` (default: the configured one)."""
    s = settings or get_settings()
    spec = (spec or s.store).strip()
    scheme, rest = split_spec(spec, _registry, "store")
    return _registry[scheme](rest, s)


__all__ = ["SearchFilter", "Store", "StoreProvider", "register_store", "resolve_store"]
