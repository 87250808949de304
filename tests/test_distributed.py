"""Distributed jobs for real: `genloom worker` processes (Celery) started here against the RabbitMQ broker
at 127.0.0.1:5672 and Redis results at 127.0.0.1:6379, writing to a real Postgres (pg_fixture). Ingest and
re-embed: one worker is killed mid-batch and nothing is lost or doubled; eval: two workers give the local run."""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

import slow_embedder  # noqa: F401  (registers slowhash: here too: the dispatcher records the KB's embedder)
from genloom.backends.embed.hashing import HashingEmbedder
from genloom.cli.main import main
from genloom.distributed import CelerySink
from genloom.distributed.app import ingest_batch
from genloom.distributed.codec import encode_batch
from genloom.distributed.eval_tasks import WorkerCases
from genloom.distributed.reembed import WorkerBatches
from genloom.eval import evaluate, load_dataset
from genloom.ingest.records import Prepared
from genloom.kb import KnowledgeBase
from genloom.kb_reembed import reembed_kb
from genloom.settings import Settings, set_settings

BROKER = "amqp://guest:guest@127.0.0.1:5672//"
RESULTS = "redis://127.0.0.1:6379/0"
ROOT = Path(__file__).resolve().parents[1]
EVAL_DATA = ROOT / "tests" / "data" / "eval"
HOLD = (  # the fixed reply of the eval tests' fake model
    "To stop a package from being upgraded, mark it as held with apt-mark hold followed by the package name."
)


def _up(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def cluster(_pg16, tmp_path):
    """Start workers with ``start(name)``; all are killed afterwards and the test's queue deleted."""
    if not (_up(5672) and _up(6379)):
        pytest.fail("RabbitMQ (127.0.0.1:5672) and Redis (127.0.0.1:6379) must run for these tests")
    queue = f"genloom-test-{uuid.uuid4().hex[:10]}"
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("GENLOOM_")}
    env = {"GENLOOM_HOME": str(tmp_path / "home"), "GENLOOM_STORE": _pg16, "GENLOOM_INGEST_RESULTS": RESULTS,
           "GENLOOM_WORKER_QUEUE": queue, "GENLOOM_INGEST_BATCH_CHUNKS": "4", "GENLOOM_EMBEDDER": "slowhash:",
           "SLOW_EMBED_LOG": str(tmp_path / "embed.log")}  # fmt: skip
    procs: dict[str, subprocess.Popen] = {}

    def start(name: str, slow_seconds: float) -> subprocess.Popen:
        log = tmp_path / f"{name}.log"
        with log.open("w") as out:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "genloom.cli.main",
                    "worker",
                    "--broker",
                    BROKER,
                    "-c",
                    "1",
                    "--name",
                    f"{name}@%h",
                    "--import",
                    "slow_embedder",
                ],
                env={
                    **base_env,
                    **env,
                    "SLOW_EMBED_SECONDS": str(slow_seconds),
                    "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests")]),
                },
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        procs[name] = proc
        deadline = time.monotonic() + 120
        while "ready." not in log.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"worker {name} did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        return proc

    settings = Settings.load(env={k: v for k, v in env.items() if k.startswith("GENLOOM_")})
    yield start, settings, env
    for proc in procs.values():
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    from celery import Celery

    app = Celery(broker=BROKER, set_as_current=False)
    with app.connection_for_write() as conn:
        conn.default_channel.queue_delete(queue)
    app.close()


def _corpus(d: Path, n: int) -> Path:
    d.mkdir()
    for i in range(n):
        paras = [
            f"Document {i} paragraph {j}: " + " ".join(f"word{i}x{j}x{k}" for k in range(60))
            for j in range(3)
        ]
        (d / f"doc{i:02d}.md").write_text(f"# Topic {i}\n\n" + "\n\n".join(paras))
    return d


def _check_store(kb: KnowledgeBase, n_docs: int) -> None:
    """Every document whole: its chunks are exactly ordinals 0..n-1, and no chunk row beyond them."""
    docs = kb.documents()
    assert len(docs) == n_docs
    for d in docs:
        assert [c.ordinal for c in kb.chunks(d.doc_id)] == list(range(d.n_chunks))
    assert kb.stats()["chunks"] == sum(d.n_chunks for d in docs)


def test_two_workers_ingest_everything_once(cluster, tmp_path, monkeypatch, capsys):
    start, settings, env = cluster
    start("w1", 0.3)
    start("w2", 0.3)
    corpus = _corpus(tmp_path / "corpus", 12)
    kb = KnowledgeBase.open("dist", settings, create=True)
    kb.embedder.info()  # the dispatcher records the KB's embedder first
    sink = CelerySink(BROKER, "dist", settings, timeout=120)
    report = kb.ingest([corpus], sink=sink)
    assert (report.count("added"), report.count("failed")) == (12, 0)
    assert report.embedded == report.chunks > 12
    assert len(set(sink.workers)) == 2  # both workers took batches
    _check_store(kb, 12)
    assert kb.search("word3x1x7", k=1)[0].source.endswith("doc03.md")
    # the same vectors as a local ingest of the same files
    local = KnowledgeBase.open("local", settings, create=True)
    local.ingest([corpus])
    for d in kb.documents():
        theirs, ours = kb.store.chunk_vectors(d.doc_id), local.store.chunk_vectors(d.doc_id)
        assert theirs.keys() == ours.keys() and all(np.allclose(theirs[h], ours[h]) for h in ours)
    again = kb.ingest([corpus], sink=CelerySink(BROKER, "dist", settings, timeout=120))
    assert (again.count("unchanged"), again.embedded) == (12, 0)
    kb.close()
    local.close()
    # the CLI: `genloom ingest --workers` with the workers' settings adds one new file through them
    (corpus / "new.md").write_text(
        "# New\n\nA new document about " + " ".join(f"fresh{k}" for k in range(40))
    )
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    set_settings(None)
    assert main(["ingest", str(corpus), "--kb", "dist", "--workers", BROKER, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert (d["added"], d["unchanged"], d["failed"]) == (1, 12, 0)
    with KnowledgeBase.open("dist", Settings.load()) as kb:
        _check_store(kb, 13)


class _Capture:
    """A sink that only keeps the batches (what the dispatcher would send to the workers)."""

    def __init__(self) -> None:
        self.batches: list[list[Prepared]] = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def submit(self, batch):
        self.batches.append(batch)

    def ready(self):
        return iter(())

    def drain(self):
        return iter(())


def _prepared(kb: KnowledgeBase, path: Path) -> list[list[Prepared]]:
    capture = _Capture()
    kb.ingest([path], sink=capture)  # type: ignore[arg-type]
    return capture.batches


def test_a_batch_written_twice_leaves_the_same_rows(_pg16, tmp_path):
    """What a redelivered batch does (its worker died after writing part of it): the same rows again."""
    s = Settings.load(
        env={"GENLOOM_HOME": str(tmp_path / "h"), "GENLOOM_STORE": _pg16, "GENLOOM_EMBEDDER": "hash:"}
    )
    set_settings(s)
    corpus = _corpus(tmp_path / "c", 3)
    kb = KnowledgeBase.open("twice", s, create=True)
    kb.embedder.info()
    batches = _prepared(kb, corpus)
    rows = [r for b in batches for r in encode_batch(b)]
    assert kb.stats()["documents"] == 0
    ingest_batch("twice", rows[:1])  # the first document, then the whole batch again
    first = ingest_batch("twice", rows)
    assert (first["embedded"], first["reused"]) == (
        sum(len(r["hashes"]) for r in rows[1:]),
        len(rows[0]["hashes"]),
    )
    ingest_batch("twice", rows)
    _check_store(kb, 3)
    kb.close()


def test_a_worker_refuses_to_write_into_a_kb_being_reembedded(cluster, tmp_path):
    """Batches that reach a worker while their KB is being re-embedded (frozen: here by a re-embed that was
    stopped) are refused by the worker's own write, each file failed with the reason, nothing written; after
    the re-embed (on the worker) the same batches land in the re-embedded KB."""
    start, settings, _ = cluster
    with KnowledgeBase.open("fz", settings, create=True, embedder="hash:") as kb:
        kb.ingest([_corpus(tmp_path / "corpus", 2)])
        batches = _prepared(kb, _corpus(tmp_path / "late", 3))  # prepared before the freeze, sent after it

    def stopped(source, staging, todo):
        raise RuntimeError("the re-embed was killed")
        yield

    with pytest.raises(RuntimeError):
        reembed_kb("fz", "hash:64", settings, runner=stopped)
    start("w1", 0.0)

    def send() -> list:
        with CelerySink(BROKER, "fz", settings) as sink:
            for b in batches:
                sink.submit(b)
            return [r for w in sink.drain() for r in w.results]

    refused = send()
    assert len(refused) == 3 and all(r.status == "failed" for r in refused)
    why = "'fz' takes no document changes now: it is being re-embedded into 'fz.reembed', which replaces it when done: try again then"
    assert all(why in r.reason for r in refused)
    with KnowledgeBase.open("fz", settings) as kb:
        assert kb.stats()["documents"] == 2
    assert reembed_kb("fz", "hash:64", settings, runner=WorkerBatches(BROKER, settings))["documents"] == 2
    with KnowledgeBase.open("fz", settings) as kb:  # the same files prepared again, as a re-run does
        batches = _prepared(kb, tmp_path / "late")
    landed = send()
    assert [r.status for r in landed] == ["added"] * 3, [r.reason for r in landed]
    with KnowledgeBase.open("fz", settings) as kb:
        _check_store(kb, 5)
        assert kb.stats()["embedder"] == "hash:64" and "frozen" not in kb.store.meta()


@pytest.mark.slow
def test_a_worker_killed_mid_batch_loses_and_doubles_nothing(cluster, tmp_path):
    start, settings, env = cluster
    embed_log = Path(env["SLOW_EMBED_LOG"])
    workers = [start("w1", 2.0), start("w2", 2.0)]
    corpus = _corpus(tmp_path / "corpus", 8)
    kb = KnowledgeBase.open("kill", settings, create=True)
    kb.embedder.info()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        running = pool.submit(kb.ingest, [corpus], sink=CelerySink(BROKER, "kill", settings, timeout=180))
        deadline = time.monotonic() + 60
        while not embed_log.exists() or not embed_log.read_text().strip():
            assert time.monotonic() < deadline and not running.done(), "no worker started a batch"
            time.sleep(0.05)
        pid, ppid, first_text = embed_log.read_text().split("\n")[0].split()
        victim = next(w for w in workers if w.pid == int(ppid))
        os.killpg(victim.pid, signal.SIGKILL)  # the worker and its pool process, mid-embedding
        victim.wait()
        report = running.result(timeout=240)
    assert (report.count("added"), report.count("failed")) == (8, 0)
    calls = [line.split() for line in embed_log.read_text().splitlines()]
    assert any(t == first_text and p != pid for p, _, t in calls)  # the killed batch ran again elsewhere
    _check_store(kb, 8)
    kb.close()


def _first_embed(embed_log: Path, running: concurrent.futures.Future) -> tuple[str, str, str]:
    """(pid, parent pid, first text's hash) of the first embedder call a worker logged."""
    deadline = time.monotonic() + 60
    while not embed_log.exists() or not embed_log.read_text().strip():
        assert time.monotonic() < deadline and not running.done(), "no worker started a batch"
        time.sleep(0.05)
    pid, ppid, first_text = embed_log.read_text().split("\n")[0].split()
    return pid, ppid, first_text


def test_reembed_on_two_workers_one_killed_mid_batch(cluster, tmp_path):
    """The KB moves from hash: to slowhash:64 on the workers; the worker holding the first batch is killed
    while embedding it: the batch runs again elsewhere, and the KB ends whole, with only the new vectors."""
    start, settings, env = cluster
    embed_log = Path(env["SLOW_EMBED_LOG"])
    kb = KnowledgeBase.open("re", settings, create=True, embedder="hash:")
    kb.ingest([_corpus(tmp_path / "corpus", 8)])  # here, with hash: (not logged)
    before = {
        d.doc_id: [(c.ordinal, c.start, c.end, c.text) for c in kb.chunks(d.doc_id)] for d in kb.documents()
    }
    n_chunks = kb.stats()["chunks"]
    kb.close()
    workers = [start("w1", 1.0), start("w2", 1.0)]
    runner = WorkerBatches(BROKER, settings)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        running = pool.submit(reembed_kb, "re", "slowhash:64", settings, runner)
        pid, ppid, first_text = _first_embed(embed_log, running)
        victim = next(w for w in workers if w.pid == int(ppid))
        os.killpg(victim.pid, signal.SIGKILL)  # the worker and its pool process, mid-embedding
        victim.wait()
        r = running.result(timeout=180)
    assert (r["from"], r["to"], r["documents"], r["chunks"]) == ("hash:384", "slowhash:64", 8, n_chunks)
    calls = [line.split() for line in embed_log.read_text().splitlines()]
    assert any(t == first_text and p != pid for p, _, t in calls)  # the killed batch ran again elsewhere
    assert KnowledgeBase.list(settings).count("re.reembed") == 0
    with KnowledgeBase.open("re", settings) as kb:
        assert (kb.stats()["embedder"], kb.stats()["dim"]) == ("slowhash:64", 64)
        _check_store(kb, 8)
        emb = HashingEmbedder(64)
        for d in kb.documents():
            chunks = kb.chunks(d.doc_id)
            assert [(c.ordinal, c.start, c.end, c.text) for c in chunks] == before[d.doc_id]
            vectors = kb.store.chunk_vectors(d.doc_id)
            assert len(vectors) == len(chunks) and all(len(v) == 64 for v in vectors.values())
        hit = kb.search("word5x2x9", k=1, mode="vector")[0]
        assert hit.source.endswith("doc05.md")
        assert np.allclose(kb.embedder.embed_query("x"), emb.embed_query("x"))


def test_eval_on_two_workers_gives_the_local_run(cluster, tmp_path, monkeypatch):
    start, settings, env = cluster
    start("w1", 0.0)
    start("w2", 0.0)
    set_settings(settings)
    with KnowledgeBase.open("ev", settings, create=True, embedder="hash:") as kb:
        kb.ingest([EVAL_DATA])
    cases = load_dataset(EVAL_DATA / "cases.jsonl")
    opts = {"kb": "ev", "k": 3, "model": f"fake:{HOLD} [1]", "dataset": EVAL_DATA / "cases.jsonl"}
    local = evaluate(cases, **opts).to_dict()
    runner = WorkerCases(BROKER, settings)
    remote = evaluate(cases, **opts, runner=runner).to_dict()
    assert len(set(runner.workers)) == 2  # both workers answered cases
    assert set(remote.pop("timings")["cases"]) == set(local.pop("timings")["cases"])
    assert remote == local and local["metrics"]["n_cases"] == 9
    # the CLI: `genloom eval --workers` writes the same run
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    set_settings(None)
    out = tmp_path / "run.json"
    argv = ["eval", str(EVAL_DATA / "cases.jsonl"), "--kb", "ev", "-k", "3", "-m", f"fake:{HOLD} [1]"]
    assert main([*argv, "--workers", BROKER, "--out", str(out)]) == 0
    cli = json.loads(out.read_text())
    cli.pop("timings")
    assert cli == json.loads(json.dumps(local))


def test_cli_workers_need_the_postgres_store(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GENLOOM_EMBEDDER", "hash:")
    (tmp_path / "a.txt").write_text("hello")
    assert main(["ingest", str(tmp_path / "a.txt"), "--workers", BROKER]) != 0
    assert "needs the shared Postgres store" in capsys.readouterr().err
    assert main(["kb", "list"]) == 0 and "default" not in capsys.readouterr().out  # nothing was created
    assert main(["worker", "--broker", BROKER]) != 0
    assert "needs the shared Postgres store" in capsys.readouterr().err
    (tmp_path / "cases.jsonl").write_text('{"question": "hello?"}\n')
    assert main(["eval", str(tmp_path / "cases.jsonl"), "--workers", BROKER]) != 0
    assert "needs the shared Postgres store" in capsys.readouterr().err


def test_cli_ingest_json_reports_peak_rss(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GENLOOM_EMBEDDER", "hash:")
    (tmp_path / "a.txt").write_text("hello there")
    assert main(["ingest", str(tmp_path / "a.txt"), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["added"] == 1 and d["peak_rss_mb"] > 10 and d["files"][0]["bytes"] == 11
