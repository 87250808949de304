"""Versioned schema migrations for the Postgres store, applied in order, each once, under an advisory lock.

Every knowledge base of one database shares these tables (column ``kb``). Vectors are stored with pgvector
without a fixed dimension (knowledge bases may use different embedders); each knowledge base gets its own
partial HNSW index on ``embedding::vector(dim)`` once its dimension is known (see postgres.py).

To change the schema, append a migration; never edit an applied one.
"""

from __future__ import annotations

from typing import Any

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "initial: knowledge bases, documents with ACL + metadata, chunks with vectors and tsvector",
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
    (
        2,
        "writers: who may change or delete a document ('{}' = admin keys only: CLI ingests)",
        """
        ALTER TABLE genloom_documents ADD COLUMN writers TEXT[] NOT NULL DEFAULT '{}';
        -- uploads made before writers existed stay the uploading key's (source 'upload:<key>/<name>')
        UPDATE genloom_documents SET writers = ARRAY['key:' || split_part(substr(source, 8), '/', 1)]
            WHERE source LIKE 'upload:%/%';
        """,
    ),
    (
        3,
        "conversations: the web UI's kept chats and preferences, per API key (genloom.conversations)",
        """
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


def migrate(conn: Any) -> list[int]:
    """Apply the migrations this database lacks; return the versions applied now."""
    applied_now: list[int] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_ID,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS genloom_schema(version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        done = {v for (v,) in conn.execute("SELECT version FROM genloom_schema").fetchall()}
        for version, name, sql in MIGRATIONS:
            if version in done:
                continue
            conn.execute(sql)
            conn.execute("INSERT INTO genloom_schema(version, name) VALUES (%s, %s)", (version, name))
            applied_now.append(version)
    return applied_now


def schema_version(conn: Any) -> int:
    row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM genloom_schema").fetchone()
    return int(row[0])
