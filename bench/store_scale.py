"""Postgres + pgvector store vs the SQLite store, same synthetic chunks, same queries, same run.

    .venv/bin/python bench/store_scale.py                   # 100k chunks
    .venv/bin/python bench/store_scale.py --n 10000         # quicker

Postgres 16 + pgvector 0.6 is started by the PyPI package ``pgserver`` in a temp dir (test extra). Chunks:
384-dim vectors around 200 cluster centres, ~80 Zipf words each, 50 chunks per document, every other document
restricted to the principal "team" (so the public filter removes half). Queries: 200 noisy copies of random
chunk vectors plus 4 of that chunk's words. Baseline: exact numpy search over the same vectors, for recall@10.
Ingest = ``put_document`` per document, one transaction each. Postgres is measured two ways: "live" keeps its
HNSW index up to date row by row (measured on the first --live chunks: it is the slow path), "bulk" loads
inside ``bulk_load()`` (index dropped, rebuilt once at the end -- what ``genloom kb migrate`` does); the bulk
rate includes the index build. Searches run against the bulk-loaded KB, after ``ANALYZE``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from genloom.backends.store import SearchFilter
from genloom.backends.store.postgres import PostgresProvider
from genloom.backends.store.sqlite import SQLiteProvider
from genloom.types import Chunk, Document

DIM, PER_DOC = 384, 50


def corpus(n: int, rng: np.random.Generator):
    centres = rng.normal(size=(200, DIM)).astype(np.float32)
    vocab = [f"w{i}" for i in range(20000)]
    zipf = 1.0 / np.arange(1, len(vocab) + 1)
    zipf /= zipf.sum()
    for d in range(n // PER_DOC):
        v = centres[rng.integers(0, len(centres), PER_DOC)] + 0.6 * rng.normal(size=(PER_DOC, DIM)).astype(
            np.float32
        )
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        texts = [
            " ".join(vocab[w] for w in row) for row in rng.choice(len(vocab), size=(PER_DOC, 80), p=zipf)
        ]
        chunks, pos = [], 0
        for i, t in enumerate(texts):
            chunks.append(Chunk(f"d{d}:{i}", f"d{d}", i, t, pos, pos + len(t)))
            pos += len(t) + 2
        private = d % 2 == 1
        doc = Document(f"d{d}", f"/bench/d{d}", f"doc {d}", "h", "\n\n".join(texts),
                       ["team"] if private else ["*"], {}, PER_DOC)  # fmt: skip
        yield doc, chunks, v.astype(np.float32), private


def pct(xs: list[float], p: float) -> float:
    return float(np.percentile(np.array(xs) * 1000, p))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--live", type=int, default=10_000, help="chunks for the live-index Postgres ingest rate")
    args = ap.parse_args()
    rng = np.random.default_rng(7)
    import pgserver

    tmp = Path(tempfile.mkdtemp(prefix="genloom-bench-"))
    os.environ.setdefault("XDG_RUNTIME_DIR", str(tmp))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pg = pgserver.get_server(tmp / "pg", cleanup_mode="delete")
    provider = PostgresProvider(pg.get_uri())
    stores = {"sqlite": SQLiteProvider(tmp / "lite").open("bench"), "postgres": provider.open("bench")}
    live = provider.open("live")
    ingest_s = {"sqlite": 0.0, "postgres": 0.0, "live": 0.0}
    vectors = np.empty((args.n, DIM), dtype=np.float32)
    restricted = np.zeros(args.n, dtype=bool)
    texts: list[str] = []
    docs = list(corpus(args.n, rng))
    t = time.perf_counter()
    for doc, chunks, v, _ in docs:
        stores["sqlite"].put_document(doc, chunks, v, [c.chunk_id for c in chunks])
    ingest_s["sqlite"] = time.perf_counter() - t
    t = time.perf_counter()
    with stores["postgres"].bulk_load():  # type: ignore[attr-defined]
        for doc, chunks, v, _ in docs:
            stores["postgres"].put_document(doc, chunks, v, [c.chunk_id for c in chunks])
        t_rows = time.perf_counter() - t
    ingest_s["postgres"] = time.perf_counter() - t
    n_live = min(args.live, args.n) // PER_DOC
    t = time.perf_counter()
    for doc, chunks, v, _ in docs[:n_live]:
        live.put_document(doc, chunks, v, [c.chunk_id for c in chunks])
    ingest_s["live"] = time.perf_counter() - t
    for d, (_doc, chunks, v, private) in enumerate(docs):
        vectors[d * PER_DOC : (d + 1) * PER_DOC] = v
        restricted[d * PER_DOC : (d + 1) * PER_DOC] = private
        texts += [c.text for c in chunks]
    provider.conn.execute("ANALYZE genloom_documents")
    picks = rng.integers(0, args.n, args.queries)
    qv = vectors[picks] + 0.3 * rng.normal(size=(args.queries, DIM)).astype(np.float32) / np.sqrt(DIM) * 10
    qv /= np.linalg.norm(qv, axis=1, keepdims=True)
    qtexts = [" ".join(rng.choice(texts[i].split(), 4, replace=False)) for i in picks]
    everyone, public = SearchFilter.make(["team"]), SearchFilter.make()
    for store in stores.values():  # warm-up: SQLite loads its matrix, Postgres its index pages
        store.search_vector(qv[0], 10, everyone)
    rows = []
    pg_store = stores["postgres"]
    for ef in (400,):  # a higher ef_search on the same data: the recall/latency trade-off
        pg_store.ef_search = ef  # type: ignore[attr-defined]
        lat_ef, rec_ef = [], []
        for q in qv:
            exact = set(np.argpartition(-(vectors @ q), 10)[:10].tolist())
            t = time.perf_counter()
            hits = pg_store.search_vector(q, 10, everyone)
            lat_ef.append(time.perf_counter() - t)
            rec_ef.append(
                len({int(h.doc_id[1:]) * PER_DOC + int(h.chunk_id.split(":")[1]) for h in hits} & exact) / 10
            )
        print(
            f"postgres vector ef_search={ef}: p50 {pct(lat_ef, 50):.1f} ms, p95 {pct(lat_ef, 95):.1f} ms,"
            f" recall@10 {statistics.mean(rec_ef):.3f}"
        )
        pg_store.ef_search = 100  # type: ignore[attr-defined]
    for name, store in stores.items():
        lat: dict[str, list[float]] = {"vector": [], "vector+acl": [], "keyword": []}
        rec: dict[str, list[float]] = {"vector": [], "vector+acl": []}
        for q, qt in zip(qv, qtexts, strict=True):
            scores = vectors @ q
            for mode, flt, mask in (("vector", everyone, None), ("vector+acl", public, ~restricted)):
                s = np.where(mask, scores, -np.inf) if mask is not None else scores
                exact = set(np.argpartition(-s, 10)[:10].tolist())
                t = time.perf_counter()
                hits = store.search_vector(q, 10, flt)
                lat[mode].append(time.perf_counter() - t)
                got = {int(h.doc_id[1:]) * PER_DOC + int(h.chunk_id.split(":")[1]) for h in hits}
                rec[mode].append(len(got & exact) / 10)
            t = time.perf_counter()
            store.search_keyword(qt, 10, public)
            lat["keyword"].append(time.perf_counter() - t)
        rows.append((name, args.n / ingest_s[name], lat, rec, getattr(store, "exact_fallbacks", 0)))
    print(f"\n{args.n} chunks, {args.queries} queries, k=10 (latency in ms; recall@10 vs exact numpy)\n")
    print(
        "| store | ingest chunks/s | vector p50 / p95 | recall@10 | vector+ACL p50 / p95 | recall@10 | keyword p50 / p95 |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, rate, lat, rec, fb in rows:
        print(f"| {name} | {rate:,.0f} | {pct(lat['vector'], 50):.1f} / {pct(lat['vector'], 95):.1f} | "
              f"{statistics.mean(rec['vector']):.3f} | {pct(lat['vector+acl'], 50):.1f} / {pct(lat['vector+acl'], 95):.1f} | "
              f"{statistics.mean(rec['vector+acl']):.3f} | {pct(lat['keyword'], 50):.1f} / {pct(lat['keyword'], 95):.1f} |"
              + (f" ({fb} exact fallbacks)" if fb else ""))  # fmt: skip
    ratio = rows[1][1] / rows[0][1]
    live_rate = n_live * PER_DOC / ingest_s["live"]
    print(
        f"\npostgres bulk: rows {t_rows:.1f}s + HNSW build {ingest_s['postgres'] - t_rows:.1f}s;"
        f" postgres live-index ingest (first {n_live * PER_DOC} chunks): {live_rate:,.0f} chunks/s"
    )
    print(f"postgres(bulk)/sqlite ingest rate: {ratio:.2f}x; load average {os.getloadavg()[0]:.1f}")
    for store in stores.values():
        store.close()
    pg.cleanup()


if __name__ == "__main__":
    main()
