"""The overlapped ingest pipeline: embedding on its own thread, results in order, failures that leave whole
documents and resume, progress by bytes, peak RSS in the report."""

from __future__ import annotations

import threading

import pytest

from genloom.backends.embed.hashing import HashingEmbedder
from genloom.ingest.pipeline import Ingestor
from genloom.ingest.stage import Stage
from genloom.kb import KnowledgeBase
from genloom.settings import Settings


class Recording(HashingEmbedder):
    """The hashing embedder that notes which thread ran it and can fail on its n-th call."""

    def __init__(self, fail_on: int = 0) -> None:
        super().__init__(384)
        self.threads: set[str] = set()
        self.calls = 0
        self.fail_on = fail_on

    def embed_documents(self, texts):
        self.calls += 1
        self.threads.add(threading.current_thread().name)
        if self.calls == self.fail_on:
            raise RuntimeError("embedder broke")
        return super().embed_documents(texts)


def _corpus(tmp_path, n=10):
    d = tmp_path / "c"
    d.mkdir()
    for i in range(n):
        (d / f"f{i:02d}.txt").write_text(" ".join(f"w{i}_{k}" for k in range(300)))
    return d


@pytest.fixture
def kb(tmp_path):
    s = Settings.load(env={"GENLOOM_HOME": str(tmp_path / "home"), "GENLOOM_EMBEDDER": "hash:"})
    with KnowledgeBase.open("p", s, create=True) as kb:
        yield kb


def _ingest(kb, embedder, corpus, **kw):
    return Ingestor(kb.store, embedder, batch_chunks=4).run([corpus], **kw)


def test_embedding_runs_on_the_stage_thread_and_progress_goes_by_bytes(tmp_path, kb):
    corpus = _corpus(tmp_path)
    emb = Recording()
    events = []
    report = _ingest(kb, emb, corpus, progress=lambda kind, value: events.append((kind, value)))
    assert emb.threads == {"genloom-embed"} and emb.calls > 2  # batches of ~4 chunks, off this thread
    total = dict(events[:2])
    files = [v for k, v in events if k == "file"]
    assert total["total"] == 10 and total["bytes"] == sum(f.stat().st_size for f in corpus.iterdir())
    assert sum(r.bytes for r in files) == total["bytes"]
    assert [r.source for r in files] == sorted(r.source for r in files)  # written in the order read
    d = report.to_dict()
    assert d["added"] == 10 and d["peak_rss_mb"] > 10 and all(f["bytes"] > 0 for f in d["files"])


def test_an_embedder_failure_leaves_whole_documents_and_a_rerun_finishes(tmp_path, kb):
    corpus = _corpus(tmp_path)
    with pytest.raises(RuntimeError, match="embedder broke"):
        _ingest(kb, Recording(fail_on=3), corpus)
    written = kb.documents()
    assert 0 < len(written) < 10
    for doc in written:  # each one whole
        assert [c.ordinal for c in kb.chunks(doc.doc_id)] == list(range(doc.n_chunks))
    again = _ingest(kb, Recording(), corpus)
    assert (again.count("unchanged"), again.count("added")) == (len(written), 10 - len(written))
    assert kb.stats()["chunks"] == sum(doc.n_chunks for doc in kb.documents())


def test_stage_keeps_order_bounds_its_queue_and_reraises():
    release = threading.Event()

    def slow_double(x: int) -> int:
        release.wait()
        if x == 99:
            raise ValueError("bad item")
        return 2 * x

    with Stage(slow_double, depth=1) as stage:
        stage.submit(1)  # taken by the thread, which waits
        stage.submit(2)  # fills the queue of depth 1
        assert list(stage.ready()) == []
        release.set()
        stage.submit(3)
        assert list(stage.drain()) == [2, 4, 6]
        stage.submit(99)
        stage.submit(5)
        with pytest.raises(ValueError, match="bad item"):
            list(stage.drain())
