"""Distributed ingest for real: `genloom worker` processes (Celery) started here against the RabbitMQ broker
at 127.0.0.1:5672 and Redis results at 127.0.0.1:6379, writing to a real Postgres (pg_fixture); one worker is
killed mid-batch and nothing is lost or doubled."""

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
from genloom.cli.main import main
from genloom.distributed import CelerySink
from genloom.distributed.app import ingest_batch
from genloom.distributed.codec import encode_batch
from genloom.ingest.records import Prepared
from genloom.kb import KnowledgeBase
from genloom.settings import Settings, set_settings

BROKER = "amqp://guest:guest@127.0.0.1:5672//"
RESULTS = "redis://127.0.0.1:6379/0"
ROOT = Path(__file__).resolve().parents[1]


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


def test_a_batch_written_twice_leaves_the_same_rows(_pg16, tmp_path):
    """What a redelivered batch does (its worker died after writing part of it): the same rows again."""
    s = Settings.load(
        env={"GENLOOM_HOME": str(tmp_path / "h"), "GENLOOM_STORE": _pg16, "GENLOOM_EMBEDDER": "hash:"}
    )
    set_settings(s)
    corpus = _corpus(tmp_path / "c", 3)
    kb = KnowledgeBase.open("twice", s, create=True)
    kb.embedder.info()
    batches: list[list[Prepared]] = []

    class Capture:  # a sink that only keeps the batches
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

        def submit(self, batch):
            batches.append(batch)

        def ready(self):
            return iter(())

        def drain(self):
            return iter(())

    kb.ingest([corpus], sink=Capture())  # type: ignore[arg-type]
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


def test_cli_workers_need_the_postgres_store(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GENLOOM_EMBEDDER", "hash:")
    (tmp_path / "a.txt").write_text("hello")
    assert main(["ingest", str(tmp_path / "a.txt"), "--workers", BROKER]) != 0
    assert "needs the shared Postgres store" in capsys.readouterr().err
    assert main(["kb", "list"]) == 0 and "default" not in capsys.readouterr().out  # nothing was created
    assert main(["worker", "--broker", BROKER]) != 0
    assert "needs the shared Postgres store" in capsys.readouterr().err


def test_cli_ingest_json_reports_peak_rss(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GENLOOM_EMBEDDER", "hash:")
    (tmp_path / "a.txt").write_text("hello there")
    assert main(["ingest", str(tmp_path / "a.txt"), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["added"] == 1 and d["peak_rss_mb"] > 10 and d["files"][0]["bytes"] == 11
