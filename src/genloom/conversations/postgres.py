"""Conversations in the Postgres store's database (``store = postgres://...``), beside the knowledge bases.

The tables (``genloom_conversations``, ``genloom_messages``, ``genloom_preferences``) come with the store's
versioned schema (backends/store/postgres_schema.py), so the one database holds everything a server keeps and
several server processes share it. Connections come from the store's pool.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

from genloom.backends.store.postgres_db import PgDatabase
from genloom.conversations.store import Conversations, Run


class PgConversationStore(Conversations):
    tables: ClassVar[dict[str, str]] = {
        "c": "genloom_conversations",
        "m": "genloom_messages",
        "p": "genloom_preferences",
    }
    ilike = "ILIKE"

    def __init__(self, db: PgDatabase) -> None:
        self.db = db

    @contextmanager
    def _tx(self) -> Iterator[Run]:
        with self.db.connection() as conn, conn.transaction():

            def run(sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
                cur = conn.execute(sql.replace("?", "%s"), tuple(args))
                return cur.fetchall() if cur.description else []

            yield run
