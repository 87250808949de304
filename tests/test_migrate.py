"""One migration mechanism (issue 18): named, forward-only, under a lock, for SQLite and Postgres; and an
upgrade from a knowledge base written by the previous release (tests/data/upgrade) that loses nothing."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import uuid
from pathlib import Path

import pytest

from genloom import migrate
from genloom.backends.store.sqlite import MIGRATIONS as KB_MIGRATIONS
from genloom.errors import BackendError
from genloom.kb import KnowledgeBase
from genloom.settings import Settings

# written by genloom at commit 673d9d3 (main before issue 18): a CLI-ingested public document, an upload
# with principals and writers, the creator claim, the id salt; journal_mode=DELETE so it is one file
FIXTURE = Path(__file__).parent / "data" / "upgrade" / "kb-sqlite-main-673d9d3.db"


def rows(path: Path) -> dict[str, list[tuple]]:
    db = sqlite3.connect(path)
    tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE"
                                       " 'fts%' AND name NOT LIKE 'sqlite%' ORDER BY name")]  # fmt: skip
    out = {t: sorted(db.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in tables}
    db.close()
    return out


def test_a_knowledge_base_from_the_previous_release_opens_with_nothing_lost(tmp_path):
    home = tmp_path / "home"
    (home / "kb").mkdir(parents=True)
    path = home / "kb" / "legacy.db"
    shutil.copy(FIXTURE, path)
    before = rows(path)
    s = Settings(home=home, embedder="hash:")
    with KnowledgeBase.open("legacy", settings=s) as kb:
        docs = {d.source.rsplit("/", 1)[-1]: d for d in kb.documents()}
        assert set(docs) == {"kettles.md", "tea.txt"}
        tea = docs["tea.txt"]
        assert (tea.principals, tea.writers, tea.chars) == (
            ["tenant:a"],
            ["key:alice"],
            len(kb.document(tea.doc_id).text),
        )
        assert docs["kettles.md"].principals == ["*"] and docs["kettles.md"].writers == []
        assert kb.creator == "key:alice" and kb.stats()["chunks"] == 3
        hits = kb.search("descale the kettle", k=2, principals=["tenant:a"])
        assert hits and hits[0].source.endswith("kettles.md")
        assert kb.search("black tea", k=1, principals=["tenant:b"])[0].source.endswith(
            "kettles.md"
        )  # ACL kept
    after = rows(path)
    generation = [r for r in after["meta"] if r[0] == "generation"]
    assert {t: r for t, r in after.items() if t != "migrations"} == {
        t: r for t, r in before.items() if t != "migrations"
    }, generation
    assert [r[0] for r in after["migrations"]] == [n for n, _ in KB_MIGRATIONS]


def test_forward_only_a_newer_database_is_refused(tmp_path):
    db = migrate.open_db(tmp_path / "x.db", [("001_a", "CREATE TABLE a(x)")])
    db.execute("INSERT INTO migrations VALUES ('002_from_the_future', 0)")
    with pytest.raises(BackendError, match="newer genloom"):
        migrate.apply(db, [("001_a", "CREATE TABLE a(x)")])
    with pytest.raises(ValueError):
        migrate.apply(db, [("002_b", "SELECT 1"), ("001_a", "SELECT 1")])  # names must be sorted


MIGS = [("001_t", "CREATE TABLE t(x INTEGER)"), ("002_row", "INSERT INTO t VALUES (1)")]


def test_sqlite_migrations_run_once_under_the_lock_across_connections(tmp_path):
    path = tmp_path / "race.db"
    start, errors = threading.Barrier(6), []

    def opener() -> None:
        try:
            start.wait()
            migrate.open_db(path, MIGS).close()
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=opener) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sqlite3.connect(path).execute("SELECT COUNT(*) FROM t").fetchone() == (1,)


def test_postgres_migrations_run_once_under_the_advisory_lock(pg_url):
    import psycopg

    from genloom.backends.store.postgres_schema import PostgresDialect

    schema = f"mig_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    start, errors, applied = threading.Barrier(4), [], []

    def opener() -> None:
        try:
            with psycopg.connect(pg_url, autocommit=True) as conn:
                conn.execute(f"SET search_path = {schema}")
                start.wait()
                applied.extend(migrate.apply(PostgresDialect(conn), MIGS))
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=opener) for _ in range(4)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors
        assert sorted(applied) == ["001_t", "002_row"]  # each applied by exactly one of them
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f"SET search_path = {schema}")
            assert conn.execute("SELECT COUNT(*) FROM t").fetchone() == (1,)
            assert PostgresDialect(conn).applied() == ["001_t", "002_row"]
            conn.execute("INSERT INTO genloom_migrations(name) VALUES ('003_newer')")
            with pytest.raises(BackendError, match="newer genloom"):
                migrate.apply(PostgresDialect(conn), MIGS)
    finally:
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
