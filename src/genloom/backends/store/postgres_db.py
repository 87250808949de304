"""Talking to Postgres: connections and their pool, pgvector's wire forms, and database errors mapped onto
genloom's error tree. The store itself (postgres.py) only says what to read and write.

Connections come from one pool per process (``pg_pool_size``), checked before use so that a restarted
database costs a retry, not a crash, and opened lazily after the schema migrations (postgres_schema.py). No
server-side prepared statements: with them Postgres may switch to a generic plan that ignores the HNSW/GIN
indexes (measured at 100k chunks: vector search ~7 ms -> ~600 ms, an exact scan; keyword ~30 -> ~900 ms).
"""

from __future__ import annotations

import json
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from genloom.backends.store.postgres_schema import migrate_db
from genloom.errors import BackendError, MissingDependency

# the chunk columns in COPY order (postgres.py writes them); the vector column's oid is the database's own
CHUNK_COPY_TYPES = ["int4", "int8", "int4", "int4", "int4", "jsonb", "text", "text"]


@dataclass(frozen=True)
class PgOptions:
    """Tuning knobs, from the settings of the same names (``GENLOOM_PG_*``)."""

    pool_size: int = 8
    ef_search: int = 200
    hnsw_m: int = 16
    hnsw_ef_construction: int = 64

    @classmethod
    def from_settings(cls, s: Any) -> PgOptions:
        return cls(s.pg_pool_size, s.pg_ef_search, s.pg_hnsw_m, s.pg_hnsw_ef_construction)


def vec_text(v: np.ndarray) -> str:
    """pgvector's text form (query vectors). 9 significant digits round-trip any float32 exactly."""
    return "[" + ",".join(map("{:.9g}".format, np.asarray(v, dtype=np.float32).tolist())) + "]"


def parse_vec(text: str) -> np.ndarray:
    return np.asarray(json.loads(text), dtype=np.float32)


def vec_binary(v: np.ndarray) -> bytes:
    """pgvector's binary form (as its ``vector_recv`` reads it): dims and a zero as big-endian int16, then
    the values as big-endian float32."""
    a = np.asarray(v, dtype=">f4").reshape(-1)
    return struct.pack(">HH", a.shape[0], 0) + a.tobytes()


def _vector_dumper(oid: int) -> type:
    """A psycopg binary dumper for numpy vectors as this database's ``vector`` type (its oid varies)."""
    from psycopg.adapt import Dumper
    from psycopg.pq import Format

    class VectorBinaryDumper(Dumper):
        format = Format.BINARY

        def dump(self, obj: Any) -> bytes:
            return vec_binary(obj)

    VectorBinaryDumper.oid = oid
    return VectorBinaryDumper


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise MissingDependency("psycopg", "postgres") from None
    return psycopg


def connect(url: str) -> Any:
    """One plain connection (migrations, tests); the stores use the provider's pool."""
    psycopg = _psycopg()
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=10, prepare_threshold=None)
    except psycopg.OperationalError as e:
        raise _unavailable(
            "cannot connect to Postgres",
            e,
            "check GENLOOM_STORE / --store (postgres://user:password@host:5432/db) and that it runs",
        ) from None


def _unavailable(what: str, e: Exception, hint: str) -> BackendError:
    """A database that cannot be reached or dropped the connection: retryable, with libpq's first line."""
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return BackendError(f"{what}: {first}", hint=hint, retryable=True)


def _pgvector_version(conn: Any) -> tuple[int, ...]:
    row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
    return tuple(int(x) for x in row[0].split(".")[:2]) if row else (0,)


def _redact(url: str) -> str:
    """The URL without its password, for stats and messages."""
    head, at, tail = url.rpartition("@")
    if not at or ":" not in head.split("//", 1)[-1]:
        return url
    scheme, _, cred = head.partition("//")
    return f"{scheme}//{cred.split(':', 1)[0]}:***@{tail}"


class PgDatabase:
    """One database: its connection pool (``options.pool_size`` connections, opened lazily, after the schema
    migrations), the pgvector version, and how chunk rows are typed for binary COPY."""

    def __init__(self, url: str, options: PgOptions | None = None) -> None:
        self.url = url
        self.options = options or PgOptions()
        self.pgvector: tuple[int, ...] = (0,)
        self.copy_types: list[Any] = []
        self._pool: Any = None
        self._lock = threading.Lock()

    def _open_pool(self) -> Any:
        with self._lock:
            if self._pool is not None:
                return self._pool
            first = connect(self.url)  # a plain connection first: its error message is the useful one
            try:
                migrate_db(first)
                self.pgvector = _pgvector_version(first)
                ((vector_oid,),) = first.execute("SELECT 'vector'::regtype::oid").fetchall()
            finally:
                first.close()
            dumper = _vector_dumper(int(vector_oid))
            self.copy_types = [*CHUNK_COPY_TYPES, int(vector_oid)]  # binary COPY needs every column's type

            def configure(conn: Any) -> None:
                conn.adapters.register_dumper(None, dumper)  # used by oid only: for COPY's vector column

            try:
                from psycopg_pool import ConnectionPool
            except ImportError:
                raise MissingDependency("psycopg_pool", "postgres") from None
            pool = ConnectionPool(
                self.url,
                min_size=1,
                max_size=self.options.pool_size,
                # prepare_threshold=None: no server-side prepared statements (see the module docstring)
                kwargs={"autocommit": True, "connect_timeout": 10, "prepare_threshold": None},
                check=ConnectionPool.check_connection,  # a connection the server dropped is replaced
                configure=configure,
                open=False,
                name="genloom",
            )
            pool.open(wait=True, timeout=30)
            self._pool = pool
            return pool

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """A pooled connection (autocommit; use ``conn.transaction()`` for several statements)."""
        pool = self._pool or self._open_pool()
        from psycopg_pool import PoolTimeout

        psycopg = _psycopg()
        try:
            with pool.connection(timeout=60) as conn:
                yield conn
        except PoolTimeout:
            raise BackendError(
                f"all {self.options.pool_size} Postgres connections stayed busy for 60 s",
                hint="raise GENLOOM_PG_POOL_SIZE, or check the database for long-running queries",
                retryable=True,
            ) from None
        except psycopg.OperationalError as e:
            raise _unavailable(
                "Postgres connection failed", e, "check that the database runs; the request can be retried"
            ) from None

    def execute(self, sql: str, args: Any = ()) -> list[tuple]:
        """Run one statement on a pooled connection; rows if it returns any (for tests and tools)."""
        with self.connection() as conn:
            cur = conn.execute(sql, args)
            return cur.fetchall() if cur.description else []

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None
