"""The SQLite store passes the shared store contract, plus SQLite-specific checks."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from genloom.backends.store import SearchFilter, resolve_store
from genloom.backends.store.sqlite import SQLiteProvider
from genloom.errors import NotFound, UserError
from genloom.testing.store_contract import StoreContract, make_doc, put, unit


class TestSQLiteStore(StoreContract):
    @pytest.fixture
    def make_store(self, tmp_path):
        return lambda name: SQLiteProvider(tmp_path / "kb").open(name)


def test_provider_lists_opens_and_drops(tmp_path):
    p = SQLiteProvider(tmp_path / "kb")
    assert p.names() == []
    with pytest.raises(NotFound):
        p.open("missing", create=False)
    p.open("one").close()
    p.open("two").close()
    assert p.names() == ["one", "two"]
    assert p.drop("one") is True and p.drop("one") is False
    assert p.names() == ["two"]
    with pytest.raises(UserError):
        p.open("../evil")


def test_default_spec_is_one_file_per_kb_under_home(tmp_path):
    from genloom.settings import get_settings

    provider = resolve_store()
    s = provider.open("mykb")
    assert s.path == get_settings().home / "kb" / "mykb.db"  # type: ignore[attr-defined]
    s.close()
    with pytest.raises(UserError):
        resolve_store("nosuch:")


def test_wal_mode_and_writes_visible_to_a_second_connection(tmp_path):
    p = SQLiteProvider(tmp_path)
    a, b = p.open("kb"), p.open("kb")
    assert a.search_vector(unit(0), 5, SearchFilter.make()) == []
    d, c = make_doc("x", ["hello there"])
    put(b, d, c, [unit(0)])
    assert [h.chunk_id for h in a.search_vector(unit(0), 5, SearchFilter.make())] == ["x:0"]  # reloaded
    b.remove("x")
    assert a.search_vector(unit(0), 5, SearchFilter.make()) == []
    mode = sqlite3.connect(tmp_path / "kb.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    a.close()
    b.close()


def test_exact_vector_search_matches_brute_force(tmp_path):
    rng = np.random.default_rng(0)
    store = SQLiteProvider(tmp_path).open("kb")
    dim = 16
    all_vecs = {}
    for d in range(20):
        vecs = rng.normal(size=(5, dim)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        doc, chunks = make_doc(f"d{d:02d}", [f"text {d} {i}" for i in range(5)])
        store.put_document(doc, chunks, vecs, [c.chunk_id for c in chunks])
        all_vecs.update({c.chunk_id: v for c, v in zip(chunks, vecs, strict=True)})
    q = rng.normal(size=dim).astype(np.float32)
    q /= np.linalg.norm(q)
    want = sorted(all_vecs, key=lambda cid: -float(all_vecs[cid] @ q))[:10]
    got = [h.chunk_id for h in store.search_vector(q, 10, SearchFilter.make())]
    assert got == want
    store.close()
