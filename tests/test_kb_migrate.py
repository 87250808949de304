"""`genloom kb migrate` from SQLite to a real Postgres + pgvector, then the same queries through both stores
(selected with --store / GENLOOM_STORE) give the same answers, ACL and metadata filters included."""

from __future__ import annotations

import json
import uuid

import pytest

from genloom.cli.main import main
from genloom.errors import UserError
from genloom.kb_migrate import migrate_kbs
from genloom.settings import Settings

TEXTS = {
    "tea.md": "# Tea\n\nGreen tea is brewed at 80 degrees.\n\n## Black\n\nBlack tea likes boiling water.\n",
    "coffee.txt": "Espresso is coffee forced through fine grounds under pressure. Filter coffee drips slowly.",
    "water.md": "# Water\n\nSoft water makes better tea. Hard water leaves scale in kettles.\n",
}
SECRET = {"plans.txt": "The secret merger plans: we buy the tea company in spring."}


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def search(capsys, store: str | None, kb: str, query: str, mode: str, *extra: str) -> list[str]:
    pre = ["--store", store] if store else []
    out = run([*pre, "search", query, "--kb", kb, "--mode", mode, "-k", "20", "--json", *extra], capsys)
    return [h["chunk_id"].split(":")[-1] + "@" + h["source"].rsplit("/", 1)[-1] for h in json.loads(out)]


@pytest.fixture(autouse=True)
def _hash_embedder(monkeypatch):
    monkeypatch.setenv("GENLOOM_EMBEDDER", "hash:")


def test_migrate_then_same_answers(tmp_path, capsys, pg_url):
    kb = f"mig-{uuid.uuid4().hex[:8]}"
    pub, sec = tmp_path / "pub", tmp_path / "sec"
    for folder, files in ((pub, TEXTS), (sec, SECRET)):
        folder.mkdir()
        for name, text in files.items():
            (folder / name).write_text(text)
    run(["ingest", str(pub), "--kb", kb, "--meta", "team=drinks"], capsys)
    run(["ingest", str(sec), "--kb", kb, "-p", "alice", "--meta", "team=exec"], capsys)

    out = run(["kb", "migrate", "--from", "sqlite:", "--to", pg_url, "--kb", kb, "--json"], capsys)
    assert json.loads(out) == [{"name": kb, "documents": 4, "chunks": json.loads(out)[0]["chunks"]}]
    stats = json.loads(run(["--store", pg_url, "kb", "stats", kb, "--json"], capsys))
    assert stats["documents"] == 4 and stats["embedder"] == "hash:384"

    for query in ("green tea temperature", "secret merger", "coffee pressure", "kettles"):
        for who in ((), ("--as", "alice")):
            lite = search(capsys, None, kb, query, "vector", *who)
            assert lite == search(capsys, pg_url, kb, query, "vector", *who)  # exact order and content
            lite_kw = search(capsys, None, kb, query, "keyword", *who)
            pg_kw = search(capsys, pg_url, kb, query, "keyword", *who)
            assert sorted(lite_kw) == sorted(pg_kw)  # BM25 and ts_rank may order ties apart
            assert bool(lite_kw) == (query != "secret merger" or bool(who))  # only alice sees the plans
            assert all(("plans.txt" in h) <= bool(who) for h in lite + pg_kw)  # ACL holds in both
    assert search(capsys, pg_url, kb, "merger", "hybrid", "--as", "alice")[0].endswith("plans.txt")
    execs = search(capsys, pg_url, kb, "tea", "keyword", "--as", "alice", "--where", "team=exec")
    assert execs == ["0@plans.txt"]

    # a second run changes nothing; GENLOOM_STORE selects the store like --store does
    run(["kb", "migrate", "--from", "sqlite:", "--to", pg_url, "--kb", kb], capsys)
    assert json.loads(run(["--store", pg_url, "kb", "stats", kb, "--json"], capsys))["documents"] == 4


def test_migrate_refuses_bad_requests(tmp_path, pg_url):
    s = Settings(home=tmp_path / "h")
    with pytest.raises(UserError, match="same store"):
        migrate_kbs("sqlite:", "sqlite:", settings=s)
    with pytest.raises(UserError, match="no knowledge base"):
        migrate_kbs("sqlite:", pg_url, ["absent"], settings=s)


def test_ingest_into_postgres_bulk_loads_only_an_empty_kb(tmp_path, monkeypatch, pg_url):
    """`genloom ingest` into Postgres builds the vector index once at the end on a first load (or with
    --bulk), and keeps it up to date row by row when adding to a KB that is already searchable."""
    from genloom.backends.store.postgres import PostgresStore
    from genloom.kb import KnowledgeBase

    entered: list[str] = []
    real = PostgresStore.bulk_load

    def spy(self):
        entered.append(self.name)
        return real(self)

    monkeypatch.setattr(PostgresStore, "bulk_load", spy)
    for name, text in TEXTS.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "more.txt").write_text("Oolong tea sits between green and black tea.")
    name = f"bulk-{uuid.uuid4().hex[:8]}"
    settings = Settings(store=pg_url, embedder="hash:", home=tmp_path / "home")
    kb = KnowledgeBase.open(name, settings=settings, create=True)
    try:
        assert kb.ingest([tmp_path / n for n in TEXTS]).count("added") == 3
        assert entered == [name]  # empty KB: bulk
        assert kb.ingest([tmp_path / "more.txt"]).count("added") == 1
        assert entered == [name]  # not empty: row by row, the index stays
        kb.ingest([tmp_path / "more.txt"], bulk=True)
        assert entered == [name, name]
        hits = kb.search("oolong", k=1, mode="vector")
        assert hits and hits[0].source.endswith("more.txt")
        with kb.store._p.connection() as conn:  # the index was rebuilt at the end of the bulk load
            assert len(kb.store._index_names(conn)) == 1
    finally:
        kb.close()
        from genloom.backends.store import resolve_store

        resolve_store(pg_url).drop(name)
