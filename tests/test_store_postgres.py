"""The store contract against real Postgres servers (16 + pgvector 0.6, 18 + pgvector 0.8; see pg_fixture.py),
plus what only Postgres has: versioned migrations, filtered HNSW queries that still return k, the connection
pool, bulk loads and their recovery, and selection by setting."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from genloom.backends.store import SearchFilter, resolve_store
from genloom.backends.store.postgres import BULK_LOCK, PostgresProvider
from genloom.backends.store.postgres_db import _redact
from genloom.backends.store.postgres_schema import MIGRATIONS, PostgresDialect, migrate_db
from genloom.errors import BackendError, NotFound, UserError
from genloom.settings import Settings
from genloom.testing.store_contract import StoreContract, make_doc


@pytest.fixture(scope="module")
def provider(pg_url):
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
    provider.names()  # opens the pool, migrating first
    with provider.connection() as conn:
        assert migrate_db(conn) == []  # nothing left to apply
        assert PostgresDialect(conn).applied() == [name for name, _ in MIGRATIONS]


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
        provider.execute("ANALYZE genloom_chunks")  # as autovacuum would
        provider.execute("ANALYZE genloom_documents")
        hits = store.search_vector(centre, 10, SearchFilter.make(["dana"], {"t": "x"}))
        assert len(hits) == 10 and all(h.doc_id == "private" for h in hits)
        if provider.pgvector >= (0, 8):
            assert store.exact_fallbacks == 0  # hnsw.iterative_scan kept scanning until k passed the filter
        else:
            assert store.exact_fallbacks == 1  # the HNSW scan alone came back short: the exact fallback ran
        assert store._useful_terms(["public", "dana"]) == ["dana"]  # 'public' is in 98% of chunks: dropped
        assert store._useful_terms(["public", "chunk"]) == ["public"]  # all common: the rarest one stays
        assert {h.doc_id for h in store.search_keyword("public dana", 5, SearchFilter.make(["dana"]))} == {
            "private"
        }
        exact = sorted((float(v @ centre / np.linalg.norm(v)) for v in far), reverse=True)[:10]
        assert [h.score for h in hits] == pytest.approx(exact, abs=1e-5)
        assert len(store.search_vector(centre, 10, SearchFilter.make())) == 10
        plan = provider.execute(
            f"EXPLAIN SELECT id FROM genloom_chunks c WHERE c.kb = {store._kb} ORDER BY"
            f" c.embedding::vector({dim}) <=> '{[1.0] + [0.0] * (dim - 1)}'::vector({dim}) LIMIT 10"
        )
        assert "hnsw" in " ".join(r[0] for r in plan)  # the unfiltered path really uses the HNSW index
    finally:
        provider.drop(name)


def test_selected_by_setting_and_open_errors(pg_url):
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
        rows = provider.execute("SELECT indexname FROM pg_indexes WHERE indexname = %s", (index,))
        return [r[0] for r in rows]

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


def test_pool_gives_parallel_connections_and_replaces_dropped_ones(provider):
    store = provider.open(f"pool-{uuid.uuid4().hex[:8]}")
    try:
        d, c = make_doc("a", ["alpha beta", "gamma delta"])
        store.put_document(d, c, np.eye(4, dtype=np.float32)[:2], ["1", "2"])
        with provider.connection() as a, provider.connection() as b:  # two at once: not one shared connection
            assert a.info.backend_pid != b.info.backend_pid
            victim = a.info.backend_pid
            b.execute("SELECT pg_terminate_backend(%s)", (victim,))  # as a database restart would
        for _ in range(provider.options.pool_size + 1):  # every pooled connection is checked before use
            assert [h.doc_id for h in store.search_vector(np.eye(4)[0], 1, SearchFilter.make())] == ["a"]
        with provider.connection() as conn:
            assert conn.info.backend_pid != victim
    finally:
        provider.drop(store.name)


def test_concurrent_writers_and_readers(provider):
    """Threads writing their own documents and searching at the same time, through the pool."""
    import concurrent.futures

    store = provider.open(f"threads-{uuid.uuid4().hex[:8]}")
    rng = np.random.default_rng(1)
    vecs = rng.normal(size=(40, 8)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)

    def work(i: int) -> list[str]:
        d, c = make_doc(f"doc{i}", [f"thread {i} chunk"])
        store.put_document(d, c, vecs[i : i + 1], [str(i)])
        return [h.doc_id for h in store.search_vector(vecs[i], 1, SearchFilter.make())]

    try:
        with concurrent.futures.ThreadPoolExecutor(6) as ex:
            got = list(ex.map(work, range(40)))
        assert got == [[f"doc{i}"] for i in range(40)]  # each thread finds its own document
        assert store.stats()["documents"] == 40 and store.stats()["chunks"] == 40
    finally:
        provider.drop(store.name)


def test_interrupted_bulk_load_is_repaired_on_open(provider):
    name = f"repair-{uuid.uuid4().hex[:8]}"
    store = provider.open(name)
    index = f"genloom_chunks_hnsw_{store._kb}_8"
    try:
        d, c = make_doc("a", ["one", "two"])
        store.put_document(d, c, np.eye(8, dtype=np.float32)[:2], ["1", "2"])
        provider.execute(f'DROP INDEX "{index}"')  # what a bulk load killed before its end leaves
        with provider.connection() as loader:  # ... while another process's bulk load still runs: left alone
            loader.execute("SELECT pg_advisory_lock(%s, %s)", (BULK_LOCK, store._kb))
            try:
                assert provider.open(name).repair_index() is False
                with pytest.raises(UserError, match="bulk load"), provider.open(name).bulk_load():
                    pass  # a second bulk load is refused
            finally:
                loader.execute("SELECT pg_advisory_unlock(%s, %s)", (BULK_LOCK, store._kb))
        assert provider.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", (index,)) == []
        provider.open(name)  # nobody loading any more: the index is rebuilt
        assert provider.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", (index,)) == [(1,)]
    finally:
        provider.drop(name)


def test_hnsw_and_pool_settings(pg_url):
    s = Settings(store=pg_url, pg_hnsw_m=24, pg_hnsw_ef_construction=80, pg_ef_search=300, pg_pool_size=3)
    prov = resolve_store(None, s)
    assert prov is not resolve_store(pg_url)  # other options, another pool
    assert prov.options.pool_size == 3
    store = prov.open(f"tuned-{uuid.uuid4().hex[:8]}")
    try:
        assert store.ef_search == 300
        d, c = make_doc("a", ["one"])
        store.put_document(d, c, np.eye(8, dtype=np.float32)[:1], ["1"])
        ((indexdef,),) = prov.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = %s", (f"genloom_chunks_hnsw_{store._kb}_8",)
        )
        assert "m='24'" in indexdef and "ef_construction='80'" in indexdef
        assert store.meta()["hnsw"] == "m=24,ef_construction=80"
    finally:
        prov.drop(store.name)
    for bad in ({"pg_pool_size": 1}, {"pg_ef_search": 0}, {"pg_hnsw_m": 16, "pg_hnsw_ef_construction": 20}):
        with pytest.raises(UserError):
            Settings(**bad)


def test_no_server_side_prepared_statements(provider):
    """Repeated searches must not become prepared statements: Postgres may then pick a generic plan that
    ignores the HNSW and GIN indexes (measured: 100k-chunk vector search 7 ms -> 600 ms, an exact scan)."""
    store = provider.open(f"prep-{uuid.uuid4().hex[:8]}")
    try:
        d, c = make_doc("a", ["alpha beta", "gamma delta"])
        store.put_document(d, c, np.eye(4, dtype=np.float32)[:2], ["1", "2"])
        with provider.connection() as conn:
            assert conn.prepare_threshold is None
        for _ in range(12):  # psycopg's default would prepare after 5 runs
            store.search_vector(np.eye(4)[0], 1, SearchFilter.make())
            store.search_keyword("alpha beta", 1, SearchFilter.make())
        with provider.connection() as conn:
            assert conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone() == (0,)
    finally:
        provider.drop(store.name)


def test_vectors_round_trip_bit_exact(provider):
    """Chunks are written by binary COPY (pgvector's binary form): what comes back is what went in."""
    store = provider.open(f"exact-{uuid.uuid4().hex[:8]}")
    try:
        vecs = np.random.default_rng(3).normal(size=(3, 384)).astype(np.float32)
        vecs[0, :3] = [np.float32(1e-38), np.float32(-0.0), np.float32(3.4e38)]
        d, c = make_doc("a", ["one", "two", "three"])
        store.put_document(d, c, vecs, ["h0", "h1", "h2"])
        back = store.chunk_vectors("a")
        assert all(np.array_equal(back[f"h{i}"], vecs[i]) for i in range(3))
        assert [ch.heading_path for ch in store.chunks("a")] == [list(x.heading_path) for x in c]
    finally:
        provider.drop(store.name)
