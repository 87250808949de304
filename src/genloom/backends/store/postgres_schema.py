"""The Postgres store's schema: named, forward-only migrations run by genloom.migrate (the one mechanism for
every database genloom owns) through :class:`PostgresDialect`, under a Postgres advisory lock.

Every knowledge base of one database shares these tables (column ``kb``). Vectors are stored with pgvector
without a fixed dimension (knowledge bases may use different embedders); each knowledge base gets its own
partial HNSW index on ``embedding::vector(dim)`` once its dimension is known (see postgres.py).

To change the schema, append a migration; never edit an applied one. Databases made before the named
migrations recorded integer versions in ``genloom_schema``; those are adopted as the names below on first open
(version N is the N-th migration), so nothing runs twice.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from genloom import migrate
from genloom.errors import BackendError

MIGRATIONS: list[migrate.Migration] = [
    # initial: knowledge bases, documents with ACL + metadata, chunks with vectors and tsvector
    (
        "001_pg_initial",
        """
        CREATE EXTENSION IF NOT EXISTS vector;
        CREATE TABLE genloom_kbs(
            id SERIAL PRIMARY KEY, name TEXT NOT NULL UNIQUE, meta JSONB NOT NULL DEFAULT '{}');
        CREATE TABLE genloom_documents(
            id BIGSERIAL PRIMARY KEY, kb INTEGER NOT NULL REFERENCES genloom_kbs(id) ON DELETE CASCADE,
            doc_id TEXT NOT NULL, source TEXT NOT NULL, title TEXT NOT NULL, content_hash TEXT NOT NULL,
            text TEXT NOT NULL, metadata JSONB NOT NULL, principals TEXT[] NOT NULL,
            n_chunks INTEGER NOT NULL, updated_at DOUBLE PRECISION NOT NULL, UNIQUE(kb, doc_id));
        CREATE INDEX genloom_documents_acl ON genloom_documents USING gin(principals);
        CREATE INDEX genloom_documents_meta ON genloom_documents USING gin(metadata);
        CREATE TABLE genloom_chunks(
            id BIGSERIAL PRIMARY KEY, kb INTEGER NOT NULL,
            doc BIGINT NOT NULL REFERENCES genloom_documents(id) ON DELETE CASCADE,
            ordinal INTEGER NOT NULL, start_pos INTEGER NOT NULL, end_pos INTEGER NOT NULL,
            heading JSONB NOT NULL, text TEXT NOT NULL, text_hash TEXT NOT NULL, embedding vector NOT NULL,
            tsv tsvector GENERATED ALWAYS AS (
                to_tsvector('english', text || ' ' || coalesce(heading #>> '{}', ''))) STORED);
        CREATE INDEX genloom_chunks_doc ON genloom_chunks(doc, ordinal);
        CREATE INDEX genloom_chunks_kb ON genloom_chunks(kb);
        CREATE INDEX genloom_chunks_tsv ON genloom_chunks USING gin(tsv);
        """,
    ),
    # writers: who may change or delete a document ('{}' = admin keys only: CLI ingests)
    (
        "002_pg_writers",
        """
        ALTER TABLE genloom_documents ADD COLUMN writers TEXT[] NOT NULL DEFAULT '{}';
        -- uploads made before writers existed stay the uploading key's (source 'upload:<key>/<name>')
        UPDATE genloom_documents SET writers = ARRAY['key:' || split_part(substr(source, 8), '/', 1)]
            WHERE source LIKE 'upload:%/%';
        """,
    ),
    (
        "003_pg_conversations",
        """
        -- the web UI's kept chats and preferences, per API key (genloom.conversations)
        CREATE TABLE genloom_conversations(
            id TEXT PRIMARY KEY, owner TEXT NOT NULL, title TEXT NOT NULL, model TEXT,
            created DOUBLE PRECISION NOT NULL, updated DOUBLE PRECISION NOT NULL);
        CREATE INDEX genloom_conversations_owner ON genloom_conversations(owner, updated);
        CREATE TABLE genloom_messages(
            conversation_id TEXT NOT NULL, seq INTEGER NOT NULL, role TEXT NOT NULL, content TEXT NOT NULL,
            meta TEXT NOT NULL DEFAULT '{}', ts DOUBLE PRECISION NOT NULL, PRIMARY KEY (conversation_id, seq));
        CREATE TABLE genloom_preferences(
            owner TEXT PRIMARY KEY, data TEXT NOT NULL, updated DOUBLE PRECISION NOT NULL);
        """,
    ),
]

LOCK_ID = 0x67656E6C  # "genl": serializes migrations between processes


class PostgresDialect:
    """genloom.migrate on a psycopg connection (autocommit): each migration is one transaction holding
    ``pg_advisory_xact_lock``; the record table is ``genloom_migrations``."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_ID,))
            yield

    def applied(self) -> list[str]:
        with self.locked():  # CREATE TABLE IF NOT EXISTS races between sessions unless locked (nests fine)
            self.conn.execute(
                "CREATE TABLE IF NOT EXISTS genloom_migrations(name TEXT PRIMARY KEY,"
                " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            rows = self.conn.execute("SELECT name FROM genloom_migrations ORDER BY name").fetchall()
        return [n for (n,) in rows]

    def run(self, sql: str) -> None:
        self.conn.execute(sql)

    def record(self, name: str) -> None:
        self.conn.execute("INSERT INTO genloom_migrations(name) VALUES (%s)", (name,))

    def adopt_versions(self) -> None:
        """Record the migrations a database made before named migrations applied (``genloom_schema``)."""
        with self.locked():
            (legacy,) = self.conn.execute("SELECT to_regclass('genloom_schema') IS NOT NULL").fetchone()
            if not legacy:
                return
            self.applied()  # the record table, inside this transaction
            versions = [v for (v,) in self.conn.execute("SELECT version FROM genloom_schema").fetchall()]
            for v in versions:  # the table stays: the release that wrote it still opens the database
                if not 1 <= v <= len(MIGRATIONS):
                    raise BackendError(
                        f"the database was written by a newer genloom (schema version {v})",
                        hint="upgrade genloom, or point GENLOOM_STORE elsewhere",
                    )
                self.conn.execute(
                    "INSERT INTO genloom_migrations(name) VALUES (%s) ON CONFLICT DO NOTHING",
                    (MIGRATIONS[v - 1][0],),
                )


def migrate_db(conn: Any) -> list[str]:
    """Bring the database to the current schema; return the migration names applied now."""
    dialect = PostgresDialect(conn)
    dialect.adopt_versions()
    return migrate.apply(dialect, MIGRATIONS)
