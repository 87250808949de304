"""Search latency and recall at 10k and 100k chunks (synthetic chunks), genloom's SQLite store vs exact search.

    .venv/bin/python bench/search.py                 # 10k and 100k
    .venv/bin/python bench/search.py --sizes 10000   # quicker

Chunks: 384-dim vectors drawn around 200 cluster centres (like real embeddings, they are not uniform),
each with ~80 words from a Zipf-distributed 20k-word vocabulary. Half of the documents are restricted to
a principal, so the ACL filter is exercised. Queries: 200, each a noisy copy of a random chunk's vector plus
4 words of that chunk. Baseline: exact brute-force search in numpy over the same vectors (recall@10 is
measured against it). Latency is for the store call (query embedding excluded; it is timed separately with
the real MiniLM model when --embed-query is given).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from genloom.backends.store import SearchFilter
from genloom.backends.store.sqlite import SQLiteProvider
from genloom.retrieve import rrf
from genloom.types import Chunk, Document

DIM = 384
PER_DOC = 50


def build(root: Path, n: int, rng: np.random.Generator):
    centres = rng.normal(size=(200, DIM)).astype(np.float32)
    vocab = [f"w{i}" for i in range(20000)]
    zipf = 1.0 / np.arange(1, len(vocab) + 1)
    zipf /= zipf.sum()
    store = SQLiteProvider(root).open(f"bench{n}")
    vectors = np.empty((n, DIM), dtype=np.float32)
    texts: list[str] = []
    restricted = np.zeros(n, dtype=bool)
    t0 = time.perf_counter()
    for d in range(n // PER_DOC):
        c = centres[rng.integers(0, len(centres), PER_DOC)]
        v = c + 0.6 * rng.normal(size=(PER_DOC, DIM)).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        words = rng.choice(len(vocab), size=(PER_DOC, 80), p=zipf)
        chunk_texts = [" ".join(vocab[w] for w in row) for row in words]
        text = "\n\n".join(chunk_texts)
        chunks, pos = [], 0
        for i, t in enumerate(chunk_texts):
            chunks.append(Chunk(f"d{d}:{i}", f"d{d}", i, t, pos, pos + len(t)))
            pos += len(t) + 2
        private = d % 2 == 1
        doc = Document(
            f"d{d}", f"/bench/d{d}", f"doc {d}", "h", text, ["team"] if private else ["*"], {}, PER_DOC
        )
        store.put_document(doc, chunks, v, [c.chunk_id for c in chunks])
        sl = slice(d * PER_DOC, (d + 1) * PER_DOC)
        vectors[sl] = v
        restricted[sl] = private
        texts += chunk_texts
    return store, vectors, texts, restricted, time.perf_counter() - t0


def pct(xs: list[float], p: float) -> float:
    return float(np.percentile(np.array(xs) * 1000, p))


def run(n: int, queries: int, rng: np.random.Generator, k: int = 10) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        store, vectors, texts, restricted, build_s = build(Path(tmp), n, rng)
        picks = rng.integers(0, n, queries)
        qv = vectors[picks] + 0.3 * rng.normal(size=(queries, DIM)).astype(np.float32) / np.sqrt(DIM) * 10
        qv /= np.linalg.norm(qv, axis=1, keepdims=True)
        qtexts = [" ".join(rng.choice(texts[i].split(), 4, replace=False)) for i in picks]
        public = SearchFilter.make()
        allowed = ~restricted
        t0 = time.perf_counter()
        store.search_vector(qv[0], k, public)  # first call loads the matrix from SQLite
        load_s = time.perf_counter() - t0
        lat: dict[str, list[float]] = {
            "vector": [],
            "vector+acl": [],
            "keyword": [],
            "hybrid": [],
            "exact numpy": [],
        }
        recall, recall_acl = [], []
        for q, qt in zip(qv, qtexts, strict=True):
            t = time.perf_counter()
            exact_scores = vectors @ q
            exact = set(np.argpartition(-exact_scores, k)[:k].tolist())
            lat["exact numpy"].append(time.perf_counter() - t)
            t = time.perf_counter()
            hits = store.search_vector(q, k, SearchFilter.make(["team"]))
            lat["vector"].append(time.perf_counter() - t)
            got = {int(h.doc_id[1:]) * PER_DOC + int(h.chunk_id.split(":")[1]) for h in hits}
            recall.append(len(got & exact) / k)
            t = time.perf_counter()
            hits = store.search_vector(q, k, public)
            lat["vector+acl"].append(time.perf_counter() - t)
            masked = np.where(allowed, exact_scores, -np.inf)
            exact_acl = set(np.argpartition(-masked, k)[:k].tolist())
            got = {int(h.doc_id[1:]) * PER_DOC + int(h.chunk_id.split(":")[1]) for h in hits}
            recall_acl.append(len(got & exact_acl) / k)
            t = time.perf_counter()
            store.search_keyword(qt, k, public)
            lat["keyword"].append(time.perf_counter() - t)
            t = time.perf_counter()
            rrf([store.search_vector(q, 40, public), store.search_keyword(qt, 40, public)], k)
            lat["hybrid"].append(time.perf_counter() - t)
        store.close()
    return {
        "n": n, "build_s": build_s, "load_s": load_s,
        "recall": statistics.mean(recall), "recall_acl": statistics.mean(recall_acl),
        "lat": {m: (pct(v, 50), pct(v, 95)) for m, v in lat.items()},
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--embed-query", action="store_true", help="also time MiniLM query embedding")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    for n in args.sizes:
        r = run(n, args.queries, rng)
        print(f"\n== {n} chunks (built in {r['build_s']:.1f}s; matrix load {r['load_s'] * 1000:.0f} ms) ==")
        print(f"recall@10 vs exact: {r['recall']:.3f}   with ACL filter: {r['recall_acl']:.3f}")
        print(f"{'path':<14}{'p50 ms':>9}{'p95 ms':>9}")
        for m, (p50, p95) in r["lat"].items():
            print(f"{m:<14}{p50:>9.2f}{p95:>9.2f}")
        ratio = r["lat"]["vector"][0] / r["lat"]["exact numpy"][0]
        print(f"store vector p50 / raw numpy exact p50 = {ratio:.2f}x")
    if args.embed_query:
        from genloom.backends.embed import resolve_embedder

        e = resolve_embedder("minilm:")
        e.embed_query("warm up")
        times = []
        for i in range(50):
            t = time.perf_counter()
            e.embed_query(f"how do I vacuum table number {i} in postgres")
            times.append(time.perf_counter() - t)
        print(f"\nMiniLM query embedding: p50 {pct(times, 50):.1f} ms, p95 {pct(times, 95):.1f} ms")


if __name__ == "__main__":
    main()
