"""kill -9 during ingest, for real: a subprocess `genloom ingest` is killed at random points several times.

After every kill: no document is half-present, every document the run reported as ingested is intact.
After a final re-run: the knowledge base answers searches exactly like one built without interruption.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from genloom.kb import KnowledgeBase
from genloom.settings import Settings

QUERIES = ["topic 7 details", "zebra migration", "alpha beta gamma", "report number 42", "quantum ferns"]
WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "zebra",
    "migration",
    "quantum",
    "ferns",
    "report",
    "topic",
    "details",
    "summary",
]


def _corpus(root: Path, n: int) -> Path:
    rng = random.Random(1)
    d = root / "corpus"
    d.mkdir()
    for i in range(n):
        paras = [
            " ".join(rng.choices(WORDS, k=40)) + f" report number {i}." for _ in range(rng.randint(3, 12))
        ]
        (d / f"doc{i:04d}.md").write_text(f"# Doc {i}\n\n## topic {i % 17}\n\n" + "\n\n".join(paras))
    return d


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENLOOM_")}
    src = str(Path(__file__).resolve().parents[1] / "src")
    env.update(
        GENLOOM_HOME=str(home),
        GENLOOM_EMBEDDER="hash:",
        PYTHONPATH=src + os.pathsep + env.get("PYTHONPATH", ""),
    )
    return env


def _cmd(corpus: Path) -> list[str]:
    return [sys.executable, "-m", "genloom.cli.main", "ingest", str(corpus), "--kb", "crash", "-v"]


def _run_and_kill(corpus: Path, home: Path, rng: random.Random) -> list[str]:
    """Start an ingest, kill -9 it after a random number of committed files; return the files it reported."""
    proc = subprocess.Popen(
        _cmd(corpus), env=_env(home), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )
    reported: list[str] = []
    target = rng.randint(0, 40)
    started = threading.Event()

    def reader() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            if line.startswith(("added ", "updated ")):
                reported.append(line.split()[1])
            if len(reported) > target:
                started.set()
        started.set()

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    started.wait(timeout=60)
    time.sleep(rng.uniform(0, 0.05))  # land anywhere, including mid-transaction
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    t.join(timeout=10)
    assert proc.stderr is not None
    proc.stderr.close()
    return list(reported)


def _check_integrity(home: Path, corpus: Path, reported: list[str]) -> int:
    db = sqlite3.connect(home / "kb" / "crash.db")
    docs = db.execute("SELECT id, source, text, n_chunks FROM documents").fetchall()
    for row, source, text, n in docs:
        chunks = db.execute('SELECT start, "end", text FROM chunks WHERE doc = ?', (row,)).fetchall()
        assert len(chunks) == n > 0, source
        assert all(text[s:e] == t for s, e, t in chunks), source
        assert db.execute("SELECT COUNT(*) FROM acl WHERE doc = ?", (row,)).fetchone()[0] == 1
    (n_fts,) = db.execute("SELECT COUNT(*) FROM fts_docsize").fetchone()
    (n_chunks,) = db.execute("SELECT COUNT(*) FROM chunks").fetchone()
    assert n_fts == n_chunks
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    stored = {s: t for _, s, t, _ in docs}
    for src in reported:
        assert src in stored, f"{src} was reported as ingested but is missing"
        assert Path(src).read_text() == stored[src]  # markdown keeps its source text
    db.close()
    return len(docs)


def _answers(home: Path) -> list:
    s = Settings.load(env={"GENLOOM_HOME": str(home)})
    kb = KnowledgeBase.open("crash", s)
    out = []
    for q in QUERIES:
        for mode in ("hybrid", "vector", "keyword"):
            out.append(
                [(h.chunk_id, round(h.score, 5), h.start, h.end) for h in kb.search(q, k=8, mode=mode)]
            )
    docs = sorted((d.source, d.content_hash, d.n_chunks) for d in kb.documents())
    kb.close()
    return [out, docs]


@pytest.mark.parametrize("seed", [0, 1])
def test_kill_9_during_ingest_then_resume(tmp_path, seed):
    corpus = _corpus(tmp_path, 250)
    rng = random.Random(seed)
    home = tmp_path / "killed"
    counts = []
    for _ in range(5):
        reported = _run_and_kill(corpus, home, rng)
        if (home / "kb" / "crash.db").exists():
            counts.append(_check_integrity(home, corpus, reported))
    print("documents present after each kill:", counts)
    assert counts and counts[-1] > 0, "the kills never landed after the first commit"
    done = subprocess.run(_cmd(corpus), env=_env(home), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert _check_integrity(home, corpus, []) == 250
    reference = tmp_path / "clean"
    subprocess.run(_cmd(corpus), env=_env(reference), check=True, capture_output=True, timeout=300)
    assert _answers(home) == _answers(reference)
    # and a second re-run changes nothing
    again = subprocess.run(_cmd(corpus), env=_env(home), capture_output=True, text=True, timeout=300)
    assert "0 added" not in again.stdout and "250 unchanged" in again.stdout
