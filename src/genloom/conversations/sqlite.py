"""Conversations in one SQLite file, ``$GENLOOM_HOME/conversations.db`` (the default store's home).

The schema is versioned by named migrations (genloom.migrate, the one mechanism for genloom's SQLite files).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from genloom import migrate
from genloom.conversations.store import Conversations, Run

MIGRATIONS: list[tuple[str, str]] = [
    (
        "001_conversations",
        """
        CREATE TABLE conversations (
            id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,              -- the key id that created it, nobody else sees it
            title TEXT NOT NULL,
            model TEXT,                       -- the model (or rag:<kb>) last used in it
            created REAL NOT NULL,
            updated REAL NOT NULL
        );
        CREATE INDEX conversations_owner ON conversations(owner, updated);
        CREATE TABLE messages (
            conversation_id TEXT NOT NULL,
            seq INTEGER NOT NULL,             -- 0, 1, 2, ... in conversation order
            role TEXT NOT NULL,
            content TEXT NOT NULL,
            meta TEXT NOT NULL DEFAULT '{}',  -- JSON object
            ts REAL NOT NULL,
            PRIMARY KEY (conversation_id, seq)
        );
        CREATE TABLE preferences (
            owner TEXT PRIMARY KEY,
            data TEXT NOT NULL,               -- JSON object
            updated REAL NOT NULL
        )
        """,
    ),
]


class ConversationStore(Conversations):
    """Conversations and preferences in the SQLite file ``path`` (created 0600 with its schema)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = migrate.open_db(path, MIGRATIONS)

    @contextmanager
    def _tx(self) -> Iterator[Run]:
        def run(sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
            return self._db.execute(sql, tuple(args)).fetchall()

        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield run
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()


__all__ = ["MIGRATIONS", "ConversationStore"]
