"""One migration mechanism for every database genloom owns: the SQLite files (knowledge bases, audit log,
conversations, model registry) and the Postgres store.

A database's schema is a list of named migrations, applied in order, once each, forward only. The names
already applied are recorded in a table (``migrations`` in SQLite, ``genloom_migrations`` in Postgres); each
migration runs in its own transaction under a lock that serialises every process opening the same database
(SQLite: ``BEGIN IMMEDIATE``; Postgres: ``pg_advisory_xact_lock``), and re-checks inside it, so two processes
can never apply one twice. A database recording a migration this code does not know was written by a newer
genloom: that is an error, never a silent downgrade.

    MIGRATIONS = [("001_versions", "CREATE TABLE ...;"), ("002_alias", "ALTER TABLE ...;")]
    db = connect(path)          # WAL, autocommit (transactions are explicit), file mode 0600
    apply(db, MIGRATIONS)       # or both at once: db = open_db(path, MIGRATIONS)
    apply(PostgresDialect(conn), PG_MIGRATIONS)   # any other database: through its Dialect

A :class:`Dialect` is the small adapter between this mechanism and one kind of connection.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

from genloom.errors import BackendError

Migration = tuple[str, str]  # (name, SQL script)


class Dialect(Protocol):
    """How to run migrations on one kind of database connection."""

    def locked(self) -> contextlib.AbstractContextManager[None]:
        """One transaction holding the database-wide migration lock (committed on success)."""
        ...

    def applied(self) -> list[str]:
        """The names recorded so far (creating the record table if needed)."""
        ...

    def run(self, sql: str) -> None:
        """Execute one migration's script."""
        ...

    def record(self, name: str) -> None: ...


class SQLiteDialect:
    """SQLite: ``BEGIN IMMEDIATE`` takes the file's write lock; scripts are split on ``;``."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def applied(self) -> list[str]:
        self.db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at REAL)")
        return [r[0] for r in self.db.execute("SELECT name FROM migrations ORDER BY name")]

    def run(self, sql: str) -> None:
        for stmt in (s.strip() for s in sql.split(";")):
            if stmt:
                self.db.execute(stmt)

    def record(self, name: str) -> None:
        self.db.execute("INSERT INTO migrations VALUES (?, ?)", (name, time.time()))


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed, mode 0600 in a 0700 folder) a SQLite file for genloom's own state."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    return db


def applied(db: sqlite3.Connection | Dialect) -> list[str]:
    return _dialect(db).applied()


def _dialect(db: sqlite3.Connection | Dialect) -> Dialect:
    return SQLiteDialect(db) if isinstance(db, sqlite3.Connection) else db


def apply(db: sqlite3.Connection | Dialect, migrations: Sequence[Migration]) -> list[str]:
    """Apply the migrations not yet recorded; return the names applied now (a sqlite3 connection, or any
    database through its :class:`Dialect`)."""
    names = [n for n, _ in migrations]
    if names != sorted(names) or len(set(names)) != len(names):
        raise ValueError(f"migration names must be unique and sorted: {names}")
    d = _dialect(db)
    unknown = sorted(set(d.applied()) - set(names))
    if unknown:
        raise BackendError(
            f"the database was written by a newer genloom (migrations {', '.join(unknown)})",
            hint="upgrade genloom, or point GENLOOM_HOME (or GENLOOM_STORE) elsewhere",
        )
    done: list[str] = []
    for name, sql in migrations:
        with d.locked():
            if name in d.applied():  # another process applied it while this one waited for the lock
                continue
            d.run(sql)
            d.record(name)
            done.append(name)
    return done


def open_db(path: Path, migrations: Sequence[Migration]) -> sqlite3.Connection:
    """:func:`connect` then :func:`apply`: a genloom database at its current schema."""
    db = connect(path)
    apply(db, migrations)
    return db
