"""Re-embedding a knowledge base on one machine (genloom.kb_reembed): into a staging copy, then put in place in
one step, on SQLite and on a real Postgres; an interrupted re-embed leaves the KB as it was and resumes.
(On the workers: tests/test_distributed.py.)"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from genloom.backends.embed.hashing import HashingEmbedder
from genloom.backends.store import resolve_store
from genloom.cli.main import main
from genloom.errors import NotFound, UserError
from genloom.ingest.pipeline import embed_text
from genloom.kb import KnowledgeBase
from genloom.kb_reembed import abort_reembed, plan_batches, reembed_batch, reembed_kb, run_here, staging_name
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


def _ours(settings: Settings) -> list[str]:
    """This test's KBs (the Postgres database is shared with other tests, whose KBs it may also hold)."""
    return [n for n in KnowledgeBase.list(settings) if n.split(".")[0] == "notes"]


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
    assert _ours(settings) == ["notes"]  # the staging copy is gone
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


# --- while a re-embed runs, NAME takes no document changes (issue 20) -------------------------------------
REFUSED = (
    "'notes' takes no document changes now: it is being re-embedded into 'notes.reembed', which replaces it"
)


def _extra(tmp_path, i: int):
    p = tmp_path / f"extra{i}.md"
    p.write_text(f"# Extra {i}\n\nlate{i} " + " ".join(f"late{i}x{k}" for k in range(40)))
    return p


def test_an_ingest_running_when_the_reembed_starts_keeps_what_it_wrote(settings, tmp_path):
    """The ingest writes its first batch, then the re-embed freezes the KB: those files are re-embedded with
    the rest and stay; the ingest's next write is refused, naming the re-embed; running the ingest again adds
    the rest to the re-embedded KB."""
    with KnowledgeBase.open("notes", settings, create=True) as kb:
        kb.ingest([_corpus(tmp_path / "c", 3)])
    late = [_extra(tmp_path, i) for i in range(12)]
    added: list[str] = []
    frozen = threading.Event()
    outcome: dict = {}

    def progress(kind, value):
        if kind == "file" and value.status == "added":
            added.append(Path(value.source).name)
            assert frozen.wait(30)  # the first batch is written: hold the ingest until the freeze

    def ingest():
        with KnowledgeBase.open("notes", settings) as kb:
            try:
                kb.ingest(late, progress=progress)
            except UserError as e:
                outcome["error"] = e

    here = run_here(settings)

    def runner(source, staging, batches):  # NAME is frozen by now: let the ingest go on, to its end
        frozen.set()
        writer.join(30)
        yield from here(source, staging, batches)

    writer = threading.Thread(target=ingest)
    writer.start()
    deadline = time.monotonic() + 30
    while not added:
        assert time.monotonic() < deadline and writer.is_alive()
        time.sleep(0.01)
    r = reembed_kb("notes", "hash:64", settings, runner=runner)
    writer.join(30)
    error = str(outcome["error"])
    assert re.search(REFUSED, error) and "genloom kb reembed notes --abort" in error
    assert 0 < len(added) < len(late) and r["documents"] == 3 + len(added)
    with KnowledgeBase.open("notes", settings) as kb:
        assert set(added) <= {Path(d.source).name for d in kb.documents()}
        _check_vectors(kb, 64)
        assert kb.search("late0x7", k=1)[0].source.endswith("extra0.md")
        report = kb.ingest(late)
        assert (report.count("added"), report.count("unchanged")) == (len(late) - len(added), len(added))
        _check_vectors(kb, 64)


def test_changes_during_a_reembed_are_refused_and_the_marks_go_with_it(settings, tmp_path):
    with KnowledgeBase.open("notes", settings, create=True) as kb:
        kb.ingest([_corpus(tmp_path / "c", 3)])
        victim = kb.documents()[0].doc_id
    here = run_here(settings)
    tried = []

    def runner(source, staging, batches):
        with KnowledgeBase.open("notes", settings) as kb:
            with pytest.raises(UserError, match=REFUSED) as e:
                kb.ingest([_extra(tmp_path, 0)])
            assert e.value.message.endswith("replaces it when done: try again then")
            assert "run it again to finish it (genloom kb reembed notes --embedder SPEC)" in e.value.hint
            assert e.value.hint.endswith("or cancel it: genloom kb reembed notes --abort")
            with pytest.raises(UserError, match=REFUSED):
                kb.remove(victim)
            assert kb.stats()["documents"] == 3
        tried.append(True)
        yield from here(source, staging, batches)

    reembed_kb("notes", "hash:64", settings, runner=runner)
    assert tried
    with KnowledgeBase.open("notes", settings) as kb:
        meta = kb.store.meta()
        assert "reembed_of" not in meta and "frozen" not in meta and meta["embedder"] == "hash:64"
        assert kb.ingest([_extra(tmp_path, 0)]).count("added") == 1
        kb.remove(victim)
        assert kb.stats()["documents"] == 3


def test_a_stopped_reembed_keeps_the_kb_frozen_until_resumed_or_aborted(settings, tmp_path):
    with KnowledgeBase.open("notes", settings, create=True) as kb:
        kb.ingest([_corpus(tmp_path / "c", 3)])
        chunks = kb.stats()["chunks"]

    def dies(source, staging, batches):
        raise RuntimeError("killed")
        yield  # a generator, as a runner is

    with pytest.raises(RuntimeError):
        reembed_kb("notes", "hash:64", settings, runner=dies)
    with KnowledgeBase.open("notes", settings) as kb, pytest.raises(UserError, match=REFUSED):
        kb.ingest([_extra(tmp_path, 0)])
    assert abort_reembed("notes", settings) == {"name": "notes", "aborted": True, "dropped": "notes.reembed"}
    assert _ours(settings) == ["notes"]
    with KnowledgeBase.open("notes", settings) as kb:  # as before, and takes changes again
        assert kb.stats()["embedder"] == "hash:384" and kb.stats()["chunks"] == chunks
        assert kb.ingest([_extra(tmp_path, 0)]).count("added") == 1
    with pytest.raises(UserError, match="no re-embed of 'notes' to abort"):
        abort_reembed("notes", settings)
    with pytest.raises(NotFound):
        abort_reembed("absent", settings)
    assert reembed_kb("notes", "hash:64", settings)["documents"] == 4


def test_abort_leaves_someone_elses_kb_of_the_staging_name(tmp_path):
    s = _settings(tmp_path)
    with KnowledgeBase.open("notes", s, create=True) as kb:
        kb.ingest([_corpus(tmp_path / "c", 1)])
    KnowledgeBase.open("notes.reembed", s, create=True).close()
    with pytest.raises(UserError, match="is not a re-embed staging copy of 'notes'; nothing was changed"):
        abort_reembed("notes", s)
    assert KnowledgeBase.list(s) == ["notes", "notes.reembed"]


def test_cli_refuses_ingest_while_frozen_and_aborts(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GENLOOM_EMBEDDER", "hash:")
    assert main(["ingest", str(_corpus(tmp_path / "c", 2)), "--kb", "notes"]) == 0

    def dies(source, staging, batches):
        raise RuntimeError("killed")
        yield

    with pytest.raises(RuntimeError):
        reembed_kb("notes", "hash:64", runner=dies)
    capsys.readouterr()
    assert main(["ingest", str(_extra(tmp_path, 0)), "--kb", "notes"]) == 2
    err = capsys.readouterr().err
    assert "being re-embedded" in err and "genloom kb reembed notes --abort" in err
    assert main(["kb", "reembed", "notes", "--abort", "--embedder", "hash:64"]) == 2
    assert "--abort takes no --embedder" in capsys.readouterr().err
    assert main(["kb", "reembed", "notes"]) == 2
    assert "missing --embedder" in capsys.readouterr().err
    assert main(["kb", "reembed", "notes", "--abort"]) == 0
    assert "aborted the re-embed of notes (dropped notes.reembed)" in capsys.readouterr().out
    assert main(["ingest", str(_extra(tmp_path, 0)), "--kb", "notes"]) == 0
