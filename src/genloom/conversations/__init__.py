"""Conversations kept server-side, per API key: SQLite in the home dir, or the Postgres store's database.

store = open_conversations(settings)
c = store.create("alice", messages=[{"role": "user", "content": "What is a kettle?"}])
"""

from __future__ import annotations

from genloom.conversations.sqlite import ConversationStore
from genloom.conversations.store import MAX_CONTENT, MAX_TITLE, ROLES, Conversations, title_from
from genloom.settings import Settings


def open_conversations(settings: Settings) -> Conversations:
    """The conversation store that goes with the configured knowledge-base store: the Postgres database when
    ``store`` is ``postgres://...``, else ``$GENLOOM_HOME/conversations.db``."""
    if settings.store.strip().startswith(("postgres://", "postgresql://")):
        from genloom.backends.store import resolve_store
        from genloom.backends.store.postgres_db import PgDatabase
        from genloom.conversations.postgres import PgConversationStore

        db = resolve_store(settings.store, settings)
        assert isinstance(db, PgDatabase)  # the Postgres provider is its database (one pool per process)
        return PgConversationStore(db)
    return ConversationStore(settings.ensure_home() / "conversations.db")


__all__ = [
    "MAX_CONTENT",
    "MAX_TITLE",
    "ROLES",
    "ConversationStore",
    "Conversations",
    "open_conversations",
    "title_from",
]
