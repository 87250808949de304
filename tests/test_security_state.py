"""Issue 19: stores made before documents had writers upgrade without losing anything (SQLite through
genloom.migrate, from a file the previous code made; Postgres through its versioned schema), and every state
file genloom creates is 0600 in 0700 folders."""

from __future__ import annotations

import shutil
import stat
import uuid
from pathlib import Path

import numpy as np

from genloom import migrate
from genloom.backends.store.postgres import PostgresProvider
from genloom.backends.store.postgres_schema import MIGRATIONS as PG_MIGRATIONS
from genloom.backends.store.sqlite import MIGRATIONS, SQLiteProvider
from genloom.kb import KnowledgeBase
from genloom.settings import Settings
from security_helpers import live

OLD_DB = Path(__file__).parent / "data" / "security" / "kb-before-migrations.db"
# what tests/data/security/kb-before-migrations.db holds (made by genloom at commit 688f648)
HANDBOOK, NOTES = "78470a3b0bd22e63", "5311064f57ece7a8"


def test_a_sqlite_kb_from_before_migrations_is_upgraded_in_place(tmp_path):
    root = tmp_path / "kb"
    root.mkdir()
    shutil.copy(OLD_DB, root / "legacy.db")
    store = SQLiteProvider(root).open("legacy", create=False)
    try:
        assert migrate.applied(store._db) == [n for n, _ in MIGRATIONS]
        docs = {d.doc_id: d for d in store.documents()}
        assert set(docs) == {HANDBOOK, NOTES}
        assert docs[HANDBOOK].writers == [] and docs[HANDBOOK].principals == ["*"]  # CLI: admin keys only
        assert docs[NOTES].writers == ["key:alice"] and docs[NOTES].principals == ["tenant:a"]
        assert "heliotrope" in store.document(NOTES).text and len(store.chunks(NOTES)) == 1
        assert store.meta()["embedder"] == "hash:384"
    finally:
        store.close()
    again = SQLiteProvider(root).open("legacy", create=False)  # opening again applies nothing twice
    assert len(again.documents()) == 2
    again.close()


def test_the_upgraded_kb_serves_its_old_uploads_to_their_key(tmp_path):
    with live(tmp_path) as srv:
        (srv.settings.home / "kb").mkdir(parents=True, exist_ok=True)
        shutil.copy(OLD_DB, srv.settings.home / "kb" / "legacy.db")
        hits = srv.as_("alice", "POST", "/v1/kb/legacy/search", json={"query": "heliotrope"}).json()["data"]
        assert hits[0]["doc_id"] == NOTES
        bobs = srv.as_("bob", "POST", "/v1/kb/legacy/search", json={"query": "heliotrope"}).json()["data"]
        assert [h["doc_id"] for h in bobs] == [HANDBOOK]  # the public one only
        # re-uploading the same name updates the old document (its unkeyed id), not a second copy
        r = srv.upload("alice", "legacy", [("notes.txt", b"Alice's private note: the word is now marigold.")])
        assert r.json()["report"]["files"][0] == {**r.json()["report"]["files"][0], "status": "updated",
                                                   "doc_id": NOTES}  # fmt: skip
        assert srv.as_("dave", "DELETE", f"/v1/kb/legacy/documents/{NOTES}").status_code == 403
        assert srv.as_("bob", "DELETE", f"/v1/kb/legacy/documents/{NOTES}").status_code == 404
        assert srv.as_("alice", "DELETE", f"/v1/kb/legacy/documents/{NOTES}").json()["deleted"] is True


def test_a_postgres_database_at_schema_1_is_upgraded_without_loss(pg_url):
    """Build schema version 1 exactly as the previous code did and write rows the way it wrote them."""
    import psycopg

    schema = f"upgrade_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")  # in public, as migration 1 makes it
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(f"SET search_path = {schema}, public")
        conn.execute("CREATE TABLE genloom_schema(version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                     " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")  # fmt: skip
        _name, sql = PG_MIGRATIONS[0]  # the previous release's version 1 is the first named migration
        conn.execute(sql.replace("CREATE EXTENSION IF NOT EXISTS vector;", ""))
        conn.execute("INSERT INTO genloom_schema(version, name) VALUES (1, 'initial')")
        (kb,) = conn.execute("INSERT INTO genloom_kbs(name) VALUES ('old') RETURNING id").fetchone()
        for doc_id, source, principals in (("d-cli", "/srv/handbook.md", ["*"]),
                                           ("d-up", "upload:alice/notes.txt", ["tenant:a"])):  # fmt: skip
            (row,) = conn.execute(
                "INSERT INTO genloom_documents(kb, doc_id, source, title, content_hash, text, metadata,"
                " principals, n_chunks, updated_at) VALUES (%s,%s,%s,'t','h','some text','{}',%s,1,1) RETURNING id",
                (kb, doc_id, source, principals),
            ).fetchone()
            conn.execute(
                "INSERT INTO genloom_chunks(kb, doc, ordinal, start_pos, end_pos, heading, text, text_hash,"
                " embedding) VALUES (%s,%s,0,0,9,'[]','some text','x','[1,0,0]')",
                (kb, row),
            )
    url = pg_url + ("&" if "?" in pg_url else "?") + f"options=-csearch_path%3D{schema},public"
    provider = PostgresProvider(url)
    try:
        store = provider.open("old", create=False)
        with provider.connection() as conn:
            names = [n for (n,) in conn.execute("SELECT name FROM genloom_migrations ORDER BY name")]
        assert names == [n for n, _ in PG_MIGRATIONS]  # version 1 adopted by name, 002 applied once
        docs = {d.doc_id: d for d in store.documents()}
        assert docs["d-cli"].writers == [] and docs["d-up"].writers == ["key:alice"]
        assert docs["d-up"].principals == ["tenant:a"] and store.document("d-up").text == "some text"
        assert len(store.chunks("d-cli")) == 1
        np.testing.assert_allclose(next(iter(store.chunk_vectors("d-up").values())), [1, 0, 0])
    finally:
        provider.close()
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def test_state_files_are_0600_in_0700_folders(tmp_path):
    with live(tmp_path) as srv:
        srv.upload("alice", "docs", [("a.txt", b"Kettles boil water.")])
        srv.as_("alice", "POST", "/v1/kb/docs/search", json={"query": "kettles"})
        src = tmp_path / "cli.md"
        src.write_text("# CLI\n\nIngested from the command line.\n")
        with KnowledgeBase.open("cli-kb", settings=Settings(home=srv.settings.home, embedder="hash:"),
                                create=True) as kb:  # fmt: skip
            kb.ingest([src])
        home = srv.settings.home
        made = [p for p in home.rglob("*")]
        assert any(p.name == "audit.db" for p in made) and any(p.name == "docs.db" for p in made)
        assert any(p.name == "docs.db-wal" for p in made)
        for p in [home, *made]:
            mode = stat.S_IMODE(p.stat().st_mode)
            if p.is_dir():
                assert mode == 0o700, (p, oct(mode))
            else:
                assert mode & 0o077 == 0, (p, oct(mode))
