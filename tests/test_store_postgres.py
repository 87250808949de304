"""The store contract against a real Postgres 16 + pgvector (pgserver), plus what only Postgres has:
versioned migrations, filtered HNSW queries that still return k, and selection by setting."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from genloom.backends.store import SearchFilter, resolve_store
from genloom.backends.store.postgres import PostgresProvider, _redact
from genloom.backends.store.postgres_schema import MIGRATIONS, migrate, schema_version
from genloom.errors import BackendError, NotFound
from genloom.settings import Settings
from genloom.testing.store_contract import StoreContract, make_doc
from pg_fixture import pg_url  # noqa: F401 (a fixture)


@pytest.fixture(scope="module")
def provider(pg_url):  # noqa: F811
    p = PostgresProvider(pg_url)
    yield p
    p.close()


class TestPostgresStore(StoreContract):
    @pytest.fixture
    def make_store(self, provider):
        names: list[str] = []

        def make(name: str):
            names.append(f"{name}-{uuid.uuid4().hex[:8]}")  # a fresh KB per test in the shared database
            store = provider.open(names[-1])
            store.name = name  # the contract checks stats()["name"] against the name it asked for
            return store

        yield make
        for n in names:
            provider.drop(n)


def test_migrations_are_versioned_and_applied_once(provider):
    conn = provider.conn
    assert schema_version(conn) == MIGRATIONS[-1][0]
    assert migrate(conn) == []  # nothing left to apply
    rows = conn.execute("SELECT version, name FROM genloom_schema ORDER BY version").fetchall()
    assert [v for v, _ in rows] == [m[0] for m in MIGRATIONS]


def test_filtered_hnsw_query_still_returns_k(provider):
    """2000 public chunks crowd the query's neighbourhood; the 30 chunks 'dana' may see are far away. The
    HNSW scan finds only public ones first; the store must still return k of dana's."""
    name = f"filtered-{uuid.uuid4().hex[:8]}"
    store = provider.open(name)
    try:
        rng = np.random.default_rng(0)
        dim = 16
        centre = np.zeros(dim, dtype=np.float32)
        centre[0] = 1
        for b in range(4):
            vecs = centre + rng.normal(0, 0.05, (500, dim)).astype(np.float32)
            d, c = make_doc(f"public{b}", [f"public chunk {i}" for i in range(500)])
            store.put_document(
                d, c, vecs / np.linalg.norm(vecs, axis=1, keepdims=True), [str(i) for i in range(500)]
            )
        far = rng.normal(0, 1, (30, dim)).astype(np.float32)
        far[:, 0] = -3
        d, c = make_doc(
            "private", [f"dana chunk {i}" for i in range(30)], principals=["dana"], meta={"t": "x"}
        )
        store.put_document(
            d, c, far / np.linalg.norm(far, axis=1, keepdims=True), [str(i) for i in range(30)]
        )
        provider.conn.execute("ANALYZE genloom_chunks; ANALYZE genloom_documents")  # as autovacuum would
        hits = store.search_vector(centre, 10, SearchFilter.make(["dana"], {"t": "x"}))
        assert len(hits) == 10 and all(h.doc_id == "private" for h in hits)
        assert store.exact_fallbacks == 1  # the HNSW scan alone came back short, as pgvector 0.6 does
        assert store._useful_terms(["public", "dana"]) == ["dana"]  # 'public' is in 98% of chunks: dropped
        assert store._useful_terms(["public", "chunk"]) == ["public"]  # all common: the rarest one stays
        assert {h.doc_id for h in store.search_keyword("public dana", 5, SearchFilter.make(["dana"]))} == {
            "private"
        }
        exact = sorted((float(v @ centre / np.linalg.norm(v)) for v in far), reverse=True)[:10]
        assert [h.score for h in hits] == pytest.approx(exact, abs=1e-5)
        assert len(store.search_vector(centre, 10, SearchFilter.make())) == 10
        plan = provider.conn.execute(
            f"EXPLAIN SELECT id FROM genloom_chunks c WHERE c.kb = {store._kb} ORDER BY"
            f" c.embedding::vector({dim}) <=> '{[1.0] + [0.0] * (dim - 1)}'::vector({dim}) LIMIT 10"
        ).fetchall()
        assert "hnsw" in " ".join(r[0] for r in plan)  # the unfiltered path really uses the HNSW index
    finally:
        provider.drop(name)


def test_selected_by_setting_and_open_errors(pg_url):  # noqa: F811
    prov = resolve_store(None, Settings(store=pg_url))
    assert isinstance(prov, PostgresProvider) and prov is resolve_store(pg_url)
    with pytest.raises(NotFound):
        prov.open(f"absent-{uuid.uuid4().hex[:6]}", create=False)
    bad = PostgresProvider("postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(BackendError) as e:
        bad.names()
    assert "--store" in (e.value.hint or "")
    assert _redact("postgresql://u:secret@h:5432/db") == "postgresql://u:***@h:5432/db"


def test_bulk_load_builds_the_index_once_at_the_end(provider):
    name = f"bulk-{uuid.uuid4().hex[:8]}"
    store = provider.open(name)
    index = f"genloom_chunks_hnsw_{store._kb}_8"

    def indexes() -> list[str]:
        rows = provider.conn.execute("SELECT indexname FROM pg_indexes WHERE indexname = %s", (index,))
        return [r[0] for r in rows.fetchall()]

    try:
        d, c = make_doc("a", ["one", "two"])
        store.put_document(d, c, np.eye(8, dtype=np.float32)[:2], ["1", "2"])
        assert indexes() == [index]
        with store.bulk_load():
            assert indexes() == []
            d, c = make_doc("b", ["three"])
            store.put_document(d, c, np.eye(8, dtype=np.float32)[2:3], ["3"])
            assert indexes() == []  # not rebuilt row by row
            assert [h.doc_id for h in store.search_vector(np.eye(8)[2], 1, SearchFilter.make())] == ["b"]
        assert indexes() == [index]
    finally:
        provider.drop(name)
