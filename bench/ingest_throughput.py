"""Ingest throughput (issue 20): genloom's overlapped pipeline vs LlamaIndex's default pipeline with the same
embedder, and genloom's distributed ingest with 2 Celery workers vs 1.

    .venv/bin/python bench/ingest_throughput.py [--limit 30] [--embedder onnx:] [--baseline-embedder minilm:]
                                                [--skip-distributed]

Corpus: the first ``--limit`` HTML pages (by name) of the PostgreSQL 15 docs (bench/ingest.py has the download
steps). Every system runs in its own subprocess (peak RSS is its own) and times ingest only (model loaded first).

- genloom: ``KnowledgeBase.ingest`` (SQLite store, default chunking) with ``--embedder``.
- LlamaIndex defaults: llama-index-core's ``SimpleDirectoryReader`` -> ``VectorStoreIndex.from_documents``
  (``SentenceSplitter`` 1024/200, in-memory ``SimpleVectorStore``, embed batch 10) with the *same* genloom
  embedder wrapped as a LlamaIndex ``BaseEmbedding``; and once more with ``SentenceSplitter(256, 32)``, chunks
  comparable to genloom's. ``--baseline-embedder`` gives LlamaIndex another embedder than genloom's, e.g.
  ``minilm:`` (the same MiniLM weights in torch via sentence-transformers: what LlamaIndex's own
  ``HuggingFaceEmbedding`` runs) to compare the two products as each is used by default.
- distributed: ``genloom ingest --workers`` into a Postgres (pgserver) with 1, then 2 ``genloom worker``
  processes (one thread each, so the 2-vs-1 ratio measures scaling over processes, not threads) over the
  RabbitMQ at 127.0.0.1:5672 and Redis at 127.0.0.1:6379.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path("~/.cache/genloom-bench/root/usr/share/doc/postgresql-doc-15/html").expanduser()
BROKER = "amqp://guest:guest@127.0.0.1:5672//"
RESULTS = "redis://127.0.0.1:6379/0"


def _rss() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_genloom(files: list[str], embedder: str, env: dict[str, str]) -> dict[str, Any]:
    from genloom.kb import KnowledgeBase
    from genloom.settings import Settings

    s = Settings.load(env=env)
    kb = KnowledgeBase.open("bench", s, create=True, embedder=embedder)
    kb.embedder.embed_documents(["warm up"])
    sink = None
    if s.ingest_workers:
        from genloom.distributed import CelerySink

        sink = CelerySink(s.ingest_workers, "bench", s)
    t = time.perf_counter()
    report = kb.ingest(files, sink=sink)
    return {"ingest_s": time.perf_counter() - t, "chunks": report.chunks, "failed": report.count("failed"),
            "peak_rss_mb": _rss()}  # fmt: skip


def run_llamaindex(files: list[str], embedder: str, chunk_size: int) -> dict[str, Any]:
    from llama_index.core import Settings as LISettings
    from llama_index.core import SimpleDirectoryReader, VectorStoreIndex
    from llama_index.core.embeddings import BaseEmbedding
    from llama_index.core.node_parser import SentenceSplitter
    from pydantic import PrivateAttr

    from genloom.backends.embed import resolve_embedder

    class GenloomEmbedding(BaseEmbedding):
        _e: Any = PrivateAttr()

        def __init__(self, spec: str) -> None:
            super().__init__(model_name=spec)
            self._e = resolve_embedder(spec)

        def _get_query_embedding(self, query: str) -> list[float]:
            return self._e.embed_query(query).tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._e.embed_documents([text])[0].tolist()

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return self._e.embed_documents(texts).tolist()

    LISettings.embed_model = GenloomEmbedding(embedder)
    LISettings.embed_model.get_text_embedding("warm up")
    if chunk_size:
        LISettings.node_parser = SentenceSplitter(chunk_size=chunk_size, chunk_overlap=chunk_size // 8)
    t = time.perf_counter()
    docs = SimpleDirectoryReader(input_files=files).load_data()
    index = VectorStoreIndex.from_documents(docs)
    return {"ingest_s": time.perf_counter() - t, "chunks": len(index.docstore.docs), "failed": 0,
            "peak_rss_mb": _rss()}  # fmt: skip


def child(args: argparse.Namespace) -> None:
    files = json.loads(Path(args.files).read_text())
    env = json.loads(args.env)
    if args.child == "genloom":
        out = run_genloom(files, args.embedder, env)
    else:
        out = run_llamaindex(files, args.embedder, args.chunk_size)
    print(json.dumps(out))


def spawn(
    kind: str, files_json: str, embedder: str, env: dict[str, str], chunk_size: int = 0
) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", kind, "--files", files_json, "--embedder", embedder,
           "--env", json.dumps(env), "--chunk-size", str(chunk_size)]  # fmt: skip
    p = subprocess.run(
        cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src")}
    )
    if p.returncode != 0:
        sys.exit(f"{kind} failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def distributed(files_json: str, embedder: str, home: Path, n_workers: int) -> dict[str, Any]:
    import pgserver

    queue = f"genloom-bench-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        pg = pgserver.get_server(Path(tmp) / "pg", cleanup_mode="delete")
        env = {"GENLOOM_HOME": str(home), "GENLOOM_STORE": pg.get_uri(), "GENLOOM_INGEST_RESULTS": RESULTS,
               "GENLOOM_WORKER_QUEUE": queue, "GENLOOM_EMBEDDER": embedder, "GENLOOM_N_THREADS": "1",
               "GENLOOM_INGEST_BATCH_CHUNKS": "32"}  # fmt: skip
        base = {k: v for k, v in os.environ.items() if not k.startswith("GENLOOM_")}
        workers, logs = [], []
        try:
            for i in range(n_workers):
                log = Path(tmp) / f"w{i}.log"
                logs.append(log)
                with log.open("w") as fh:
                    workers.append(subprocess.Popen(
                        [sys.executable, "-m", "genloom.cli.main", "worker", "--broker", BROKER, "-n", f"b{i}@%h"],
                        env={**base, **env, "PYTHONPATH": str(ROOT / "src")}, stdout=fh, stderr=subprocess.STDOUT,
                        start_new_session=True,
                    ))  # fmt: skip
            while not all("ready." in log.read_text() for log in logs):
                time.sleep(0.5)
            return spawn("genloom", files_json, embedder, {**env, "GENLOOM_INGEST_WORKERS": BROKER})
        finally:
            for w in workers:
                os.killpg(w.pid, signal.SIGTERM)
                w.wait()
            pg.cleanup()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=30)
    ap.add_argument("--embedder", default="onnx:")
    ap.add_argument("--baseline-embedder", default="", help="LlamaIndex's embedder (default: --embedder)")
    ap.add_argument("--skip-distributed", action="store_true")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--files", help=argparse.SUPPRESS)
    ap.add_argument("--env", default="{}", help=argparse.SUPPRESS)
    ap.add_argument("--chunk-size", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)
    if not CORPUS.is_dir():
        sys.exit(f"corpus not found at {CORPUS}; see bench/ingest.py for the download steps")
    files = sorted(str(p) for p in CORPUS.glob("*.html"))[: args.limit]
    li = args.baseline_embedder or args.embedder
    same = "same embedder" if li == args.embedder else li
    print(f"corpus: {len(files)} HTML files, {sum(Path(f).stat().st_size for f in files) / 2**20:.2f} MiB; "
          f"embedder {args.embedder}; LlamaIndex's {li}; load: {os.getloadavg()}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        files_json = str(Path(tmp) / "files.json")
        Path(files_json).write_text(json.dumps(files))
        home = Path(tmp) / "home"
        env = {"GENLOOM_HOME": str(home)}
        empty = str(Path(tmp) / "none.json")
        Path(empty).write_text("[]")
        spawn("genloom", empty, args.embedder, env)  # exports the ONNX model into the home once, untimed
        rows = [("genloom (overlapped pipeline)", spawn("genloom", files_json, args.embedder, env))]
        rows.append((f"LlamaIndex defaults, {same}", spawn("llamaindex", files_json, li, env)))
        rows.append(("LlamaIndex chunk_size=256", spawn("llamaindex", files_json, li, env, 256)))
        if not args.skip_distributed:
            for n in (1, 2):
                rows.append((f"genloom --workers, {n} worker(s) x 1 thread",
                             distributed(files_json, args.embedder, home, n)))  # fmt: skip
    print(f"load after: {os.getloadavg()}")
    base_s = rows[0][1]["ingest_s"]
    print(
        f"{'system':<44}{'chunks':>7}{'ingest s':>10}{'chunks/s':>10}{'time / genloom':>16}{'peak MiB':>10}"
    )
    for name, r in rows:
        print(f"{name:<44}{r['chunks']:>7}{r['ingest_s']:>10.1f}{r['chunks'] / r['ingest_s']:>10.1f}"
              f"{r['ingest_s'] / base_s:>15.2f}x{r['peak_rss_mb']:>10.0f}")  # fmt: skip
    rate = {name: r["chunks"] / r["ingest_s"] for name, r in rows}
    g = rate["genloom (overlapped pipeline)"]
    print(f"\nchunks/s genloom / LlamaIndex defaults: {g / rate[f'LlamaIndex defaults, {same}']:.2f}x")
    print(f"chunks/s genloom / LlamaIndex chunk_size=256: {g / rate['LlamaIndex chunk_size=256']:.2f}x")
    if not args.skip_distributed:
        two, one = rows[-1][1], rows[-2][1]
        print(
            f"chunks/s 2 workers / 1 worker: {(two['chunks'] / two['ingest_s']) / (one['chunks'] / one['ingest_s']):.2f}x"
        )
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
