"""ONNX Runtime embedders vs the torch reference: texts/s on real chunks, vector agreement, retrieval quality.

    .venv/bin/python bench/embed_onnx.py [--chunks 512] [--rounds 3] [--threads 2]

Chunks: the first ``--chunks`` chunks genloom's own splitter makes of the PostgreSQL 15 HTML docs (the corpus
of bench/ingest.py; same download steps), embedded exactly as the ingest pipeline embeds them (heading path
as context). Speed: rounds interleave the embedders (torch fp32 ``minilm:`` is the baseline) so load changes on a
shared box hit all of them alike; each round embeds all chunks in one call, as the pipeline does. Agreement:
cosine of each chunk's vector to torch's. Quality: the debian-faq dev set of bench/retrieval_quality.py
(hit@5 / MRR@10, vector-only and the default hybrid), one KB per embedder.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from retrieval_quality import FAQ, masked_corpus

from genloom.backends.embed import resolve_embedder
from genloom.backends.store import SearchFilter
from genloom.ingest.loaders import loader_for
from genloom.ingest.pipeline import embed_text
from genloom.ingest.splitter import split
from genloom.kb import KnowledgeBase
from genloom.retrieve import rrf
from genloom.settings import Settings
from genloom.types import Chunk

PG_DOCS = Path("~/.cache/genloom-bench/root/usr/share/doc/postgresql-doc-15/html").expanduser()
SPECS = ["minilm:", "onnx:", "onnx:int8"]


def real_chunks(n: int) -> list[str]:
    texts: list[str] = []
    for f in sorted(PG_DOCS.glob("*.html")):
        loader = loader_for(f)
        assert loader is not None
        ex = loader(f.read_bytes(), f)
        for i, s in enumerate(split(ex, 200, 30)):
            c = Chunk(f"x:{i}", "x", i, ex.text[s.start : s.end], s.start, s.end, s.heading_path)
            texts.append(embed_text(ex.title, c))
        if len(texts) >= n:
            return texts[:n]
    return texts


def retrieval(spec: str, settings_env: dict[str, str]) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "faq"
        corpus.mkdir()
        questions = masked_corpus(corpus)
        kb = KnowledgeBase.open(
            "faq", Settings.load(env={**settings_env, "GENLOOM_HOME": tmp}), create=True, embedder=spec
        )
        kb.ingest([corpus])
        flt = SearchFilter.make()
        out: dict[str, float] = {}
        rows = [
            (
                num,
                kb.store.search_vector(kb.embedder.embed_query(q), 40, flt),
                kb.store.search_keyword(q, 40, flt),
            )
            for num, q in questions
        ]
        for mode, fuse in {
            "vector": lambda v, w: v[:10],
            "hybrid": lambda v, w: rrf([v, w], 10, weights=[1.0, 0.3]),
        }.items():
            hits5, rr = 0, 0.0
            for num, v, w in rows:
                ranks = [
                    i for i, h in enumerate(fuse(v, w), 1) if h.heading_path and h.heading_path[-1] == num
                ]
                if ranks:
                    rr += 1 / ranks[0]
                    hits5 += ranks[0] <= 5
            out[f"{mode} hit@5"] = hits5 / len(questions)
            out[f"{mode} MRR@10"] = rr / len(questions)
        kb.close()
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chunks", type=int, default=512)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-quality", action="store_true")
    args = ap.parse_args()
    if not PG_DOCS.is_dir() or not FAQ.is_dir():
        sys.exit("corpora missing: see bench/ingest.py and bench/retrieval_quality.py for the download steps")
    env = {"GENLOOM_N_THREADS": str(args.threads)}
    s = Settings.load(env=env)
    texts = real_chunks(args.chunks)
    embedders = {spec: resolve_embedder(spec, s) for spec in SPECS}
    for e in embedders.values():
        e.embed_documents(texts[:8])  # load + warm up
    times: dict[str, list[float]] = {spec: [] for spec in SPECS}
    vecs: dict[str, np.ndarray] = {}
    for _ in range(args.rounds):
        for spec, e in embedders.items():
            t = time.perf_counter()
            vecs[spec] = e.embed_documents(texts)
            times[spec].append(time.perf_counter() - t)
    base = np.median(times["minilm:"])
    print(
        f"{len(texts)} real chunks (PostgreSQL docs), {args.rounds} interleaved rounds, {args.threads} threads"
    )
    print(f"{'embedder':<12}{'texts/s':>9}{'vs torch':>9}{'cos min':>9}{'cos mean':>10}")
    for spec in SPECS:
        med = float(np.median(times[spec]))
        cos = (vecs[spec] * vecs["minilm:"]).sum(axis=1)
        print(f"{spec:<12}{len(texts) / med:>9.1f}{base / med:>8.2f}x{cos.min():>9.4f}{cos.mean():>10.5f}")
    if args.skip_quality:
        return
    print("\ndebian-faq dev set (120 questions)")
    results = {spec: retrieval(spec, env) for spec in SPECS}
    keys = list(results["minilm:"])
    print(f"{'embedder':<12}" + "".join(f"{k:>15}" for k in keys))
    for spec, r in results.items():
        print(f"{spec:<12}" + "".join(f"{r[k]:>15.3f}" for k in keys))


if __name__ == "__main__":
    main()
