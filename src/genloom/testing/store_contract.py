"""The store contract: every ``Store`` implementation must pass these tests, answering the same queries
the same way. Subclass ``StoreContract`` in a test module and override the ``make_store`` fixture:

    class TestSQLiteStore(StoreContract):
        @pytest.fixture
        def make_store(self, tmp_path):
            return lambda name: SQLiteProvider(tmp_path).open(name)

Vectors here are hand-made unit vectors and keyword queries use distinctive words, so the expected answers
do not depend on any embedder or on the exact BM25 formula of a backend.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from genloom.backends.store.base import FROZEN, SearchFilter, Store, frozen_note
from genloom.errors import UserError
from genloom.types import PUBLIC, Chunk, Document

DIM = 8


def unit(i: int, j: int | None = None, w: float = 0.3) -> np.ndarray:
    """Basis vector e_i (optionally mixed with a little e_j), normalized."""
    v = np.zeros(DIM, dtype=np.float32)
    v[i] = 1.0
    if j is not None:
        v[j] = w
    return v / np.linalg.norm(v)


def make_doc(
    doc_id: str, paragraphs: list[str], principals: list[str] | None = None, meta: dict | None = None,
    content_hash: str = "h1",
) -> tuple[Document, list[Chunk]]:  # fmt: skip
    text = "\n\n".join(paragraphs)
    chunks, pos = [], 0
    for i, p in enumerate(paragraphs):
        chunks.append(Chunk(f"{doc_id}:{i}", doc_id, i, p, pos, pos + len(p), ["Top", f"part {i}"]))
        pos += len(p) + 2
    doc = Document(doc_id, f"/src/{doc_id}.txt", f"Title {doc_id}", content_hash, text,
                   principals or [PUBLIC], meta or {}, len(chunks))  # fmt: skip
    return doc, chunks


def put(store: Store, doc: Document, chunks: list[Chunk], vectors: list[np.ndarray]) -> None:
    store.put_document(doc, chunks, np.stack(vectors), [f"{c.chunk_id}-{c.text}" for c in chunks])


class StoreContract:
    """Mixin: the subclass provides ``make_store`` (a fixture returning ``name -> Store``)."""

    @pytest.fixture
    def make_store(self) -> Callable[[str], Store]:
        raise NotImplementedError("override the make_store fixture")

    @pytest.fixture
    def store(self, make_store):
        s = make_store("contract")
        yield s
        s.close()

    @pytest.fixture
    def filled(self, store):
        d, c = make_doc("alpha", ["apples grow on trees", "bananas are yellow", "cherries are red"],
                        meta={"lang": "en", "team": "fruit"})  # fmt: skip
        put(store, d, c, [unit(0), unit(1), unit(2)])
        d, c = make_doc("beta", ["postgres vacuum reclaims space", "indexes speed up queries"],
                        principals=["alice"], meta={"lang": "en", "team": "db"})  # fmt: skip
        put(store, d, c, [unit(3), unit(4)])
        d, c = make_doc("gamma", ["secret merger plans", "apples and pears for the board"],
                        principals=["bob", "carol"], meta={"lang": "de", "team": "exec"})  # fmt: skip
        put(store, d, c, [unit(5), unit(0, 6)])
        return store

    # --- documents ---------------------------------------------------------------------------------
    def test_roundtrip_document_and_chunks(self, filled):
        d = filled.document("alpha")
        assert d is not None and d.source == "/src/alpha.txt" and d.title == "Title alpha"
        assert d.n_chunks == 3 and d.principals == [PUBLIC] and d.metadata == {"lang": "en", "team": "fruit"}
        chunks = filled.chunks("alpha")
        assert [c.ordinal for c in chunks] == [0, 1, 2]
        for c in chunks:
            assert d.text[c.start : c.end] == c.text
            assert c.heading_path == ["Top", f"part {c.ordinal}"]
        assert filled.document("nope") is None and filled.chunks("nope") == []

    def test_documents_are_listed_by_source_without_text(self, filled):
        docs = filled.documents()
        assert [d.doc_id for d in docs] == ["alpha", "beta", "gamma"]
        assert sorted(filled.document("gamma").principals) == ["bob", "carol"]
        assert all(d.text == "" for d in docs)

    def test_writers_roundtrip_and_replace(self, store):
        d, c = make_doc("owned", ["written by alice"], principals=["tenant:a"])
        assert d.writers == []  # the default: nobody but an admin may change it
        put(store, d, c, [unit(0)])
        assert store.document("owned").writers == []
        d.writers = ["key:bob", "key:alice", "key:alice"]
        put(store, d, c, [unit(1)])
        got = store.document("owned")
        assert got.writers == ["key:alice", "key:bob"] and got.principals == ["tenant:a"]
        assert [x.writers for x in store.documents()] == [["key:alice", "key:bob"]]
        assert got.to_dict()["writers"] == ["key:alice", "key:bob"]

    def test_hash_and_vectors_for_reuse(self, filled):
        assert filled.document_hash("alpha") == "h1" and filled.document_hash("nope") is None
        vecs = filled.chunk_vectors("beta")
        assert len(vecs) == 2
        np.testing.assert_allclose(vecs["beta:0-postgres vacuum reclaims space"], unit(3), atol=1e-6)

    def test_replace_is_whole(self, filled):
        d, c = make_doc("alpha", ["only durian now"], content_hash="h2")
        put(filled, d, c, [unit(7)])
        assert filled.document_hash("alpha") == "h2"
        assert [x.text for x in filled.chunks("alpha")] == ["only durian now"]
        assert filled.search_keyword("bananas", 5, SearchFilter.make()) == []
        assert [h.chunk_id for h in filled.search_vector(unit(7), 1, SearchFilter.make())] == ["alpha:0"]
        public = filled.search_vector(unit(1), 10, SearchFilter.make())
        assert [h.chunk_id for h in public] == ["alpha:0"]  # the old chunks are gone

    def test_remove_takes_every_chunk(self, filled):
        assert filled.remove("beta") is True and filled.remove("beta") is False
        assert filled.document("beta") is None and filled.chunks("beta") == []
        everyone = SearchFilter.make(["alice", "bob", "carol"])
        assert all(h.doc_id != "beta" for h in filled.search_vector(unit(3), 20, everyone))
        assert filled.search_keyword("vacuum", 5, everyone) == []
        assert filled.stats()["documents"] == 2 and filled.stats()["chunks"] == 5

    def test_failed_put_changes_nothing(self, filled):
        d, c = make_doc("alpha", ["x", "y"], content_hash="bad")
        with pytest.raises(ValueError):
            filled.put_document(d, c, np.stack([unit(0)]), ["a", "b"])  # 2 chunks, 1 vector
        assert filled.document_hash("alpha") == "h1" and len(filled.chunks("alpha")) == 3

    def test_meta(self, store):
        store.set_meta("embedder", "hash:8")
        store.set_meta("embedder", "hash:16")
        assert store.meta()["embedder"] == "hash:16"
        store.delete_meta("embedder")
        store.delete_meta("never-set")
        assert "embedder" not in store.meta() and "never-set" not in store.meta()

    def test_frozen_refuses_every_write_and_changes_nothing(self, filled):
        filled.set_meta(FROZEN, frozen_note("it is being copied", "wait for the copy"))
        d, c = make_doc("alpha", ["new text"], content_hash="h2")
        with pytest.raises(
            UserError, match="'contract' takes no document changes now: it is being copied"
        ) as e:
            put(filled, d, c, [unit(0)])
        assert e.value.hint == "wait for the copy"
        d, c = make_doc("delta", ["a new document"])
        with pytest.raises(UserError, match="being copied"):
            put(filled, d, c, [unit(1)])
        with pytest.raises(UserError, match="being copied"):
            filled.remove("beta")
        assert [x.doc_id for x in filled.documents()] == ["alpha", "beta", "gamma"]
        assert filled.document_hash("alpha") == "h1" and filled.stats()["chunks"] == 7
        filled.delete_meta(FROZEN)
        put(filled, d, c, [unit(1)])
        assert filled.remove("beta") is True and filled.document_hash("delta") == "h1"

    # --- vector search ---------------------------------------------------------------------------------
    def test_vector_search_exact_order_and_scores(self, filled):
        hits = filled.search_vector(unit(1, 2, 0.5), 2, SearchFilter.make())
        assert [h.chunk_id for h in hits] == ["alpha:1", "alpha:2"]
        assert hits[0].score == pytest.approx(float(unit(1, 2, 0.5) @ unit(1)), abs=1e-5)
        h = hits[0]
        assert (h.doc_id, h.source, h.title, h.heading_path) == ("alpha", "/src/alpha.txt", "Title alpha",
                                                                 ["Top", "part 1"])  # fmt: skip
        assert h.text == "bananas are yellow" and h.metadata["team"] == "fruit"

    def test_vector_search_acl_inside_retrieval(self, filled):
        q = unit(0, 6, 0.3)  # nearest: gamma:1 (bob/carol), then alpha:0 (public)
        public = filled.search_vector(q, 3, SearchFilter.make())
        assert public[0].chunk_id == "alpha:0" and all(h.doc_id == "alpha" for h in public)
        assert len(public) == 3  # still k results: filtering happened before the cut
        bob = filled.search_vector(q, 2, SearchFilter.make(["bob"]))
        assert [h.chunk_id for h in bob] == ["gamma:1", "alpha:0"]
        assert all(h.doc_id != "beta" for h in filled.search_vector(q, 10, SearchFilter.make(["bob"])))
        alice = filled.search_vector(unit(3), 1, SearchFilter.make(["alice"]))
        assert alice[0].chunk_id == "beta:0"

    def test_vector_search_where_filter(self, filled):
        hits = filled.search_vector(unit(0), 10, SearchFilter.make(["alice", "bob"], {"lang": "en"}))
        assert {h.doc_id for h in hits} == {"alpha", "beta"} and len(hits) == 5
        hits = filled.search_vector(unit(0), 10, SearchFilter.make(["alice"], {"team": "db", "lang": "en"}))
        assert {h.doc_id for h in hits} == {"beta"}
        assert filled.search_vector(unit(0), 10, SearchFilter.make(None, {"team": "none"})) == []

    def test_k_larger_than_allowed(self, filled):
        assert len(filled.search_vector(unit(0), 100, SearchFilter.make())) == 3
        assert len(filled.search_vector(unit(0), 100, SearchFilter.make(["alice", "bob"]))) == 7

    def test_empty_store(self, store):
        assert store.search_vector(unit(0), 5, SearchFilter.make()) == []
        assert store.search_keyword("apples", 5, SearchFilter.make()) == []
        assert store.documents() == [] and store.stats()["chunks"] == 0

    # --- keyword search ----------------------------------------------------------------------------------
    def test_keyword_search_finds_distinctive_words(self, filled):
        hits = filled.search_keyword("bananas", 5, SearchFilter.make())
        assert [h.chunk_id for h in hits] == ["alpha:1"]
        assert hits[0].start == filled.chunks("alpha")[1].start
        both = filled.search_keyword("yellow cherries", 5, SearchFilter.make())
        assert {h.chunk_id for h in both} == {"alpha:1", "alpha:2"}
        assert all(h.score > 0 or h.score == pytest.approx(0) for h in both)

    def test_keyword_search_stems_and_ignores_case(self, filled):
        hits = filled.search_keyword("INDEX queries", 5, SearchFilter.make(["alice"]))
        assert [h.chunk_id for h in hits] == ["beta:1"]

    def test_keyword_acl_and_where(self, filled):
        assert {h.chunk_id for h in filled.search_keyword("apples", 5, SearchFilter.make())} == {"alpha:0"}
        assert {h.chunk_id for h in filled.search_keyword("apples", 5, SearchFilter.make(["carol"]))} == {
            "alpha:0", "gamma:1"}  # fmt: skip
        assert filled.search_keyword("secret", 5, SearchFilter.make(["alice"])) == []
        de = filled.search_keyword("apples", 5, SearchFilter.make(["carol"], {"lang": "de"}))
        assert [h.chunk_id for h in de] == ["gamma:1"]

    def test_keyword_query_syntax_is_not_interpreted(self, filled):
        for q in ['"unbalanced', "apples AND", "NOT bananas", "a*b:c (x", "-", "   "]:
            filled.search_keyword(q, 5, SearchFilter.make())  # must not raise

    def test_stats(self, filled):
        s = filled.stats()
        assert s["documents"] == 3 and s["chunks"] == 7 and s["name"] == "contract"
