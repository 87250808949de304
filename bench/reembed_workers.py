"""Re-embedding on the distributed workers (issue 20): ``genloom kb reembed --workers`` with 1, then 2
``genloom worker`` processes (one ONNX thread each, so the ratio measures scaling over processes).

    .venv/bin/python bench/reembed_workers.py [--limit 30] [--embedder onnx:]

Corpus: the first ``--limit`` HTML pages of the PostgreSQL 15 docs (as bench/ingest_throughput.py). Two
knowledge bases are ingested with ``hash:`` (untimed) into a pgserver Postgres 16; each is then re-embedded
with ``--embedder`` over the RabbitMQ at 127.0.0.1:5672 (results in Redis at 127.0.0.1:6379). The time is the
whole ``reembed_kb`` call: planning, every batch of 32 chunks on the workers, the check and the switch.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path("~/.cache/genloom-bench/root/usr/share/doc/postgresql-doc-15/html").expanduser()
BROKER = "amqp://guest:guest@127.0.0.1:5672//"
RESULTS = "redis://127.0.0.1:6379/0"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=30)
    ap.add_argument("--embedder", default="onnx:")
    args = ap.parse_args()
    if not CORPUS.is_dir():
        sys.exit(f"corpus not found at {CORPUS}; see bench/ingest.py for the download steps")
    import pgserver

    from genloom.backends.embed import resolve_embedder
    from genloom.distributed.reembed import WorkerBatches
    from genloom.kb import KnowledgeBase
    from genloom.kb_reembed import reembed_kb
    from genloom.settings import Settings, set_settings

    files = sorted(CORPUS.glob("*.html"))[: args.limit]
    print(f"corpus: {len(files)} HTML files; re-embed hash: -> {args.embedder}; load: {os.getloadavg()}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        pg = pgserver.get_server(Path(tmp) / "pg", cleanup_mode="delete")
        env = {"GENLOOM_HOME": str(Path(tmp) / "home"), "GENLOOM_STORE": pg.get_uri(),
               "GENLOOM_INGEST_RESULTS": RESULTS, "GENLOOM_WORKER_QUEUE": f"genloom-bench-{uuid.uuid4().hex[:8]}",
               "GENLOOM_EMBEDDER": args.embedder, "GENLOOM_N_THREADS": "1", "GENLOOM_INGEST_BATCH_CHUNKS": "32"}  # fmt: skip
        s = Settings.load(env=env)
        set_settings(s)
        try:
            for n in (1, 2):
                with KnowledgeBase.open(f"r{n}", s, create=True, embedder="hash:") as kb:
                    kb.ingest(files)
            resolve_embedder(args.embedder, s).embed_documents(["warm up"])  # exports the ONNX model once
            base = {k: v for k, v in os.environ.items() if not k.startswith("GENLOOM_")}
            for n in (1, 2):
                workers, logs = [], []
                try:
                    for i in range(n):
                        logs.append(Path(tmp) / f"w{n}{i}.log")
                        with logs[-1].open("w") as fh:
                            workers.append(subprocess.Popen(
                                [sys.executable, "-m", "genloom.cli.main", "worker", "--broker", BROKER, "-n",
                                 f"r{n}{i}@%h"],
                                env={**base, **env, "PYTHONPATH": str(ROOT / "src")}, stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True,
                            ))  # fmt: skip
                    while not all("ready." in log.read_text() for log in logs):
                        time.sleep(0.5)
                    runner = WorkerBatches(BROKER, s)
                    r = reembed_kb(f"r{n}", args.embedder, s, runner)
                    rows.append({"workers": n, **r, "distinct_workers": len(set(runner.workers))})
                finally:
                    for w in workers:
                        os.killpg(w.pid, signal.SIGTERM)
                        w.wait()
        finally:
            pg.cleanup()
    print(f"load after: {os.getloadavg()}")
    for r in rows:
        print(f"{r['workers']} worker(s): {r['chunks']} chunks in {r['seconds']:.1f}s = "
              f"{r['chunks'] / r['seconds']:.1f} chunks/s ({r['batches']} batches)")  # fmt: skip
    one, two = (r["chunks"] / r["seconds"] for r in rows)
    print(f"chunks/s 2 workers / 1 worker: {two / one:.2f}x")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
