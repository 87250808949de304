"""One migration mechanism for every SQLite database genloom owns (audit log, model registry, ...).

A database's schema is a list of named migrations, applied in order, once each, forward only. The names
already applied are recorded in the table ``migrations``; each migration runs in its own transaction under
``BEGIN IMMEDIATE``, so two processes opening the same file cannot apply one twice.

    MIGRATIONS = [("001_versions", "CREATE TABLE ...;"), ("002_alias", "ALTER TABLE ...;")]
    db = connect(path)          # WAL, autocommit (transactions are explicit), file mode 0600
    apply(db, MIGRATIONS)       # or both at once: db = open_db(path, MIGRATIONS)
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

from genloom.errors import BackendError

Migration = tuple[str, str]  # (name, SQL script: statements separated by ';')


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed, mode 0600 in a 0700 folder) a SQLite file for genloom's own state."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    return db


def applied(db: sqlite3.Connection) -> list[str]:
    db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at REAL)")
    return [r[0] for r in db.execute("SELECT name FROM migrations ORDER BY name")]


def apply(db: sqlite3.Connection, migrations: Sequence[Migration]) -> list[str]:
    """Apply the migrations not yet recorded; return the names applied now.

    A database that records a migration this code does not know was written by a newer genloom: that is
    an error (forward only; downgrading would lose what the newer schema keeps)."""
    names = [n for n, _ in migrations]
    if names != sorted(names) or len(set(names)) != len(names):
        raise ValueError(f"migration names must be unique and sorted: {names}")
    done: list[str] = []
    unknown = sorted(set(applied(db)) - set(names))
    if unknown:
        raise BackendError(
            f"the database was written by a newer genloom (migrations {', '.join(unknown)})",
            hint="upgrade genloom, or point GENLOOM_HOME elsewhere",
        )
    for name, sql in migrations:
        db.execute("BEGIN IMMEDIATE")
        try:
            if db.execute("SELECT 1 FROM migrations WHERE name = ?", (name,)).fetchone():
                db.execute("COMMIT")
                continue
            for stmt in (s.strip() for s in sql.split(";")):
                if stmt:
                    db.execute(stmt)
            db.execute("INSERT INTO migrations VALUES (?, ?)", (name, time.time()))
            db.execute("COMMIT")
            done.append(name)
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return done


def open_db(path: Path, migrations: Sequence[Migration]) -> sqlite3.Connection:
    """:func:`connect` then :func:`apply`: a genloom database at its current schema."""
    db = connect(path)
    apply(db, migrations)
    return db
