"""Re-embedding a knowledge base on one machine (genloom.kb_reembed): into a staging copy, then put in place in
one step, on SQLite and on a real Postgres; an interrupted re-embed leaves the KB as it was and resumes.
(On the workers: tests/test_distributed.py.)"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from genloom.backends.embed.hashing import HashingEmbedder
from genloom.backends.store import resolve_store
from genloom.cli.main import main
from genloom.errors import NotFound, UserError
from genloom.ingest.pipeline import embed_text
from genloom.kb import KnowledgeBase
from genloom.kb_reembed import plan_batches, reembed_batch, reembed_kb, run_here, staging_name
from genloom.settings import Settings, set_settings


def _corpus(d, n: int = 5):
    d.mkdir()
    for i in range(n):
        paras = [f"Note {i} part {j}: " + " ".join(f"term{i}x{j}x{k}" for k in range(50)) for j in range(3)]
        (d / f"n{i}.md").write_text(f"# Note {i}\n\n" + "\n\n".join(paras))
    return d


def _settings(tmp_path, store: str | None = None) -> Settings:
    env = {
        "GENLOOM_HOME": str(tmp_path / "home"),
        "GENLOOM_EMBEDDER": "hash:",
        "GENLOOM_INGEST_BATCH_CHUNKS": "4",
    }
    s = Settings.load(env={**env, **({"GENLOOM_STORE": store} if store else {})})
    set_settings(s)
    return s


def _snapshot(kb: KnowledgeBase) -> dict:
    """Everything but the vectors: documents with their text, ACL and metadata, and their chunks."""
    out = {}
    for d in kb.documents():
        doc = kb.store.document(d.doc_id)
        out[d.doc_id] = (doc.source, doc.text, doc.content_hash, doc.principals, doc.metadata, doc.updated_at,
                         [(c.ordinal, c.start, c.end, tuple(c.heading_path)) for c in kb.chunks(d.doc_id)])  # fmt: skip
    return out


def _check_vectors(kb: KnowledgeBase, dim: int) -> None:
    """Every chunk's vector is the new embedder's, keyed by the hash of its embedded text."""
    emb = HashingEmbedder(dim)
    for d in kb.documents():
        doc = kb.store.document(d.doc_id)
        texts = [embed_text(doc.title, c) for c in kb.chunks(d.doc_id)]
        stored = kb.store.chunk_vectors(d.doc_id)
        assert list(sorted(stored)) == sorted(hashlib.sha1(t.encode()).hexdigest() for t in texts)
        for t, v in zip(texts, emb.embed_documents(texts), strict=True):
            assert np.allclose(stored[hashlib.sha1(t.encode()).hexdigest()], v, atol=1e-6)


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request, tmp_path):
    store = request.getfixturevalue("_pg16") if request.param == "postgres" else None
    s = _settings(tmp_path, store)
    yield s
    provider = resolve_store(None, s)
    for name in provider.names():
        provider.drop(name)


def test_reembed_replaces_the_vectors_and_keeps_everything_else(settings, tmp_path):
    kb = KnowledgeBase.open("notes", settings, create=True)
    kb.ingest([_corpus(tmp_path / "c")], principals=["alice"], metadata={"team": "x"})
    kb.store.set_meta("doc_id_salt", "pepper")
    before, stats = _snapshot(kb), kb.stats()
    kb.close()
    seen = []
    r = reembed_kb("notes", "hash:64", settings, progress=lambda done, total: seen.append((done, total)))
    assert (r["from"], r["to"], r["dim"]) == ("hash:384", "hash:64", 64)
    assert (r["documents"], r["chunks"], r["embedded"]) == (5, stats["chunks"], stats["chunks"])
    assert r["batches"] > 1 and seen[-1] == (5, 5)
    assert KnowledgeBase.list(settings) == ["notes"]  # the staging copy is gone
    with KnowledgeBase.open("notes", settings) as kb:  # the configured hash: does not make these vectors
        assert kb.embedder.info()["id"] == "hash:64"
        assert kb.stats()["embedder"] == "hash:64" and kb.stats()["dim"] == 64
        assert kb.store.meta()["doc_id_salt"] == "pepper"
        assert _snapshot(kb) == before
        _check_vectors(kb, 64)
        assert kb.search("term3x1x7", k=1, principals=["alice"])[0].source.endswith("n3.md")
        assert kb.search("term3x1x7", k=1, principals=["bob"]) == []


def test_an_interrupted_reembed_leaves_the_kb_and_resumes(settings, tmp_path):
    kb = KnowledgeBase.open("notes", settings, create=True)
    kb.ingest([_corpus(tmp_path / "c")])
    chunks = kb.stats()["chunks"]
    kb.close()
    here = run_here(settings)

    def dies_after_two(source, staging, batches):
        for i, result in enumerate(here(source, staging, batches)):
            yield result
            if i == 1:
                raise RuntimeError("the machine went away")

    with pytest.raises(RuntimeError):
        reembed_kb("notes", "hash:64", settings, runner=dies_after_two)
    with KnowledgeBase.open("notes", settings) as kb:  # untouched, still searchable
        assert kb.stats()["embedder"] == "hash:384" and kb.stats()["chunks"] == chunks
        assert kb.search("term2x0x3", k=1)[0].source.endswith("n2.md")
    assert staging_name("notes") in KnowledgeBase.list(settings)
    r = reembed_kb("notes", "hash:64", settings)
    assert 0 < r["embedded"] < chunks and r["chunks"] == chunks  # only what the first run had not staged
    with KnowledgeBase.open("notes", settings) as kb:
        _check_vectors(kb, 64)


def test_a_batch_run_twice_writes_the_same_rows(settings, tmp_path):
    kb = KnowledgeBase.open("notes", settings, create=True)
    kb.ingest([_corpus(tmp_path / "c", 3)])
    docs = kb.documents()
    kb.close()
    staging = KnowledgeBase.open("notes.reembed", settings, create=True, embedder="hash:64")
    staging.embedder.info()  # records hash:64
    staging.store.set_meta("reembed_of", "notes")
    ids = [d.doc_id for d in docs]
    assert reembed_batch("notes", "notes.reembed", ids[:1], settings)["documents"] == 1
    first = reembed_batch("notes", "notes.reembed", ids, settings)
    snap = _snapshot(staging)
    again = reembed_batch("notes", "notes.reembed", [*ids, "gone"], settings)
    assert (again["documents"], again["chunks"], again["gone"]) == (3, first["chunks"], 1)
    assert _snapshot(staging) == snap and staging.stats()["chunks"] == first["chunks"]
    _check_vectors(staging, 64)
    staging.close()


def test_plan_batches_cuts_by_chunks():
    class D:
        def __init__(self, i, n):
            self.doc_id, self.n_chunks = f"d{i}", n

    assert plan_batches([D(0, 3), D(1, 3), D(2, 9), D(3, 1)], 6) == [["d0", "d1"], ["d2"], ["d3"]]
    assert plan_batches([], 6) == []


def test_bad_requests_are_refused(tmp_path):
    s = _settings(tmp_path)
    with pytest.raises(NotFound):
        reembed_kb("absent", "hash:64", s)
    with KnowledgeBase.open("notes", s, create=True) as kb:
        kb.ingest([_corpus(tmp_path / "c", 1)])
    with pytest.raises(UserError, match="already embedded with 'hash:384'"):
        reembed_kb("notes", "hash:384", s)
    KnowledgeBase.open("notes.reembed", s, create=True).close()  # someone's own KB of that name
    with pytest.raises(UserError, match="is not a re-embed of 'notes'"):
        reembed_kb("notes", "hash:64", s)
    with pytest.raises(UserError, match="too long"):
        staging_name("n" * 60)


def test_cli_reembed(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GENLOOM_EMBEDDER", "hash:")
    corpus = _corpus(tmp_path / "c", 2)
    assert main(["ingest", str(corpus), "--kb", "cli"]) == 0
    capsys.readouterr()
    assert main(["kb", "reembed", "cli", "--embedder", "hash:32", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert (d["from"], d["to"], d["documents"]) == ("hash:384", "hash:32", 2)
    assert main(["kb", "stats", "cli", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["embedder"] == "hash:32"
    assert main(["kb", "reembed", "cli", "--embedder", "hash:64", "--workers", "amqp://127.0.0.1//"]) != 0
    assert "needs the shared Postgres store" in capsys.readouterr().err
