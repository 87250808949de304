"""The scale-out store: Postgres + pgvector (``postgres://user:pass@host:5432/db``).

Many knowledge bases share one database (tables in postgres_schema.py, migrated on open). Per knowledge base:

- vectors: a partial HNSW index (cosine) on ``embedding::vector(dim)``, created once the dimension is known,
  with ``m`` / ``ef_construction`` from the settings (``pg_hnsw_m``, ``pg_hnsw_ef_construction``);
- keywords: a stored ``tsvector`` (English stemming) with a GIN index, ranked by ``ts_rank`` (length-normalized);
- ACL and metadata filters are inside the SQL, before the cut to k.

HNSW applies the WHERE clause after its scan, so a filtered query can come back short. pgvector >= 0.8 is
asked to keep scanning (``hnsw.iterative_scan``); older ones (pgserver ships 0.6) get ``ef_search`` raised to
at least 4k, and if the answer is still shorter than k an exact scan over the allowed chunks answers instead:
a filtered query always returns min(k, allowed) hits.

Connections, the pool and pgvector's wire forms are in postgres_db.py. Every document is written in one
transaction (all of it or none of it). A bulk load holds a
Postgres advisory lock on its knowledge base; an index found missing with no bulk load running (a load that
was killed) is rebuilt when the knowledge base is next opened.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from genloom.backends.store.base import FROZEN, SearchFilter, check_kb_name, keyword_terms, refuse_if_frozen
from genloom.backends.store.postgres_db import PgDatabase, PgOptions, _redact, parse_vec, vec_text
from genloom.errors import BackendError, NotFound, UserError
from genloom.types import Chunk, Document, Hit

log = logging.getLogger(__name__)

COMMON = 0.25  # keyword terms in more than this share of chunks are dropped (as in the SQLite store)
BULK_LOCK = 0x67626C6B  # "gblk": advisory lock class for bulk loads, the object id is the KB id
INDEX_LOCK = 0x6769646B  # "gidk": serializes creating a KB's vector index


def hnsw_indexes(conn: Any, kb_id: int) -> list[str]:
    """The names of a knowledge base's vector indexes (one per dimension; normally one)."""
    rows = conn.execute(
        "SELECT indexname FROM pg_indexes WHERE indexname LIKE %s", (f"genloom_chunks_hnsw_{kb_id}_%",)
    ).fetchall()
    return [r[0] for r in rows]


class PostgresStore:
    def __init__(self, provider: PostgresProvider, kb_id: int, name: str) -> None:
        self._p, self._kb, self.name, self.url = provider, kb_id, name, provider.url
        self._iterative = provider.pgvector >= (0, 8)
        self.exact_fallbacks = 0  # filtered queries the HNSW scan answered short, re-run exactly
        self._deferred = False
        self.ef_search = provider.options.ef_search  # HNSW candidates per query (at least 4k)
        self._freq: dict[str, float] = {}  # lexeme -> share of chunks holding it (Postgres statistics)
        self._freq_at = -1e9

    def _q(self, sql: str, args: Any = ()) -> list[tuple]:
        with self._p.connection() as conn:
            cur = conn.execute(sql, args)
            return cur.fetchall() if cur.description else []

    # --- meta --------------------------------------------------------------------------------------
    def meta(self) -> dict[str, str]:
        (m,) = self._q("SELECT meta FROM genloom_kbs WHERE id = %s", (self._kb,))[0]
        return {str(k): str(v) for k, v in m.items()}

    def set_meta(self, key: str, value: str) -> None:
        self._q(
            "UPDATE genloom_kbs SET meta = meta || jsonb_build_object(%s::text, %s::text) WHERE id = %s",
            (key, value, self._kb),
        )

    def delete_meta(self, key: str) -> None:
        self._q("UPDATE genloom_kbs SET meta = meta - %s::text WHERE id = %s", (key, self._kb))

    def _refuse_if_frozen(self, db: Any) -> None:
        """Inside a write's transaction. FOR SHARE: a freeze (an UPDATE of this row) waits for the writes in
        flight to commit, and a write after it reads the frozen row; a row deleted meanwhile (the knowledge base
        was dropped, or replaced by a re-embed) refuses too."""
        row = db.execute(
            "SELECT meta ->> %s FROM genloom_kbs WHERE id = %s FOR SHARE", (FROZEN, self._kb)
        ).fetchone()
        if row is None:
            raise NotFound(f"knowledge base {self.name!r} was dropped or replaced while it was open",
                           hint="open it again and repeat the request")  # fmt: skip
        refuse_if_frozen(self.name, row[0])

    def _dim(self, conn: Any = None) -> int | None:
        known = (
            self._p.dims
        )  # per provider: the server opens a store per request, the dimension never changes
        if self._kb not in known:
            sql, args = "SELECT vector_dims(embedding) FROM genloom_chunks WHERE kb = %s LIMIT 1", (self._kb,)
            rows = self._q(sql, args) if conn is None else conn.execute(sql, args).fetchall()
            if not rows:
                return None  # nothing stored yet: ask again next time
            known[self._kb] = int(rows[0][0])
        return known[self._kb]

    # --- the vector index ----------------------------------------------------------------------------
    def _index_names(self, conn: Any) -> list[str]:
        return hnsw_indexes(conn, self._kb)

    def _build_index(self, conn: Any, dim: int) -> None:
        o = self._p.options
        conn.execute("SET maintenance_work_mem = '512MB'")  # the graph is built in memory: much faster
        try:
            conn.execute(
                f"CREATE INDEX IF NOT EXISTS genloom_chunks_hnsw_{self._kb}_{dim} ON genloom_chunks USING hnsw"
                f" ((embedding::vector({dim})) vector_cosine_ops)"
                f" WITH (m = {int(o.hnsw_m)}, ef_construction = {int(o.hnsw_ef_construction)})"
                f" WHERE kb = {self._kb}"
            )
        finally:
            conn.execute("RESET maintenance_work_mem")
        conn.execute(
            "UPDATE genloom_kbs SET meta = meta || jsonb_build_object('hnsw', %s::text) WHERE id = %s",
            (f"m={o.hnsw_m},ef_construction={o.hnsw_ef_construction}", self._kb),
        )

    def repair_index(self) -> bool:
        """Rebuild the vector index if it is missing and no bulk load is running (one was killed before its
        end). Returns True when an index was built."""
        with self._p.connection() as conn:
            dim = self._dim(conn)
            if dim is None or self._index_names(conn):
                return False
            (free,) = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (BULK_LOCK, self._kb)).fetchone()
            if not free:
                return False  # a bulk load is running: it builds the index at its end
            try:
                log.warning("knowledge base %r has no vector index (an interrupted bulk load?): rebuilding",
                            self.name)  # fmt: skip
                self._build_index(conn, dim)
                return True
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s, %s)", (BULK_LOCK, self._kb))

    @contextmanager
    def bulk_load(self) -> Iterator[PostgresStore]:
        """Load many documents fast: the HNSW index is dropped, then rebuilt once at the end (pgvector's own
        advice; maintaining it row by row is the slow part of ingest). Searches meanwhile are exact scans.
        One bulk load per knowledge base at a time (an advisory lock, held by one pooled connection)."""
        with self._p.connection() as lock_conn:
            (got,) = lock_conn.execute(
                "SELECT pg_try_advisory_lock(%s, %s)", (BULK_LOCK, self._kb)
            ).fetchone()
            if not got:
                raise UserError(
                    f"another bulk load into knowledge base {self.name!r} is running",
                    hint="wait for it to finish, or ingest without --bulk",
                )
            try:
                for idx in self._index_names(lock_conn):
                    lock_conn.execute(f'DROP INDEX IF EXISTS "{idx}"')
                self._deferred = True
                try:
                    yield self
                finally:
                    self._deferred = False
                    dim = self._dim(lock_conn)
                    if dim is not None:
                        self._build_index(lock_conn, dim)
                    lock_conn.execute("ANALYZE genloom_chunks")
                    lock_conn.execute("ANALYZE genloom_documents")
            finally:
                lock_conn.execute("SELECT pg_advisory_unlock(%s, %s)", (BULK_LOCK, self._kb))

    # --- writes --------------------------------------------------------------------------------------
    def put_document(
        self, doc: Document, chunks: list[Chunk], vectors: np.ndarray, text_hashes: list[str]
    ) -> None:
        if len(chunks) != len(vectors) or len(chunks) != len(text_hashes):
            raise ValueError("chunks, vectors and text_hashes must have the same length")
        vecs = np.asarray(vectors, dtype=np.float32)
        dim = self._dim()
        if len(chunks) and dim is not None and vecs.shape[1] != dim:
            raise BackendError(
                f"vectors have {vecs.shape[1]} dims but knowledge base {self.name!r} holds {dim}"
            )
        with self._p.connection() as db, db.transaction():
            self._refuse_if_frozen(db)
            db.execute("DELETE FROM genloom_documents WHERE kb = %s AND doc_id = %s", (self._kb, doc.doc_id))
            (row,) = db.execute(
                "INSERT INTO genloom_documents(kb, doc_id, source, title, content_hash, text, metadata,"
                " principals, n_chunks, updated_at, writers) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) RETURNING id",
                (self._kb, doc.doc_id, doc.source, doc.title, doc.content_hash, doc.text,
                 json.dumps(doc.metadata), sorted(set(doc.principals)), len(chunks),
                 doc.updated_at or time.time(), sorted(set(doc.writers))),
            ).fetchone()  # fmt: skip
            if chunks:
                # binary COPY: the vectors go as pgvector's binary form (no float formatting: the text form
                # cost ~290 us per 384-dim vector in Python, most of the load time)
                with (
                    db.cursor() as cur,
                    cur.copy(
                        "COPY genloom_chunks(kb, doc, ordinal, start_pos, end_pos, heading, text, text_hash,"
                        " embedding) FROM STDIN (FORMAT BINARY)"
                    ) as copy,
                ):
                    copy.set_types(self._p.copy_types)
                    for c, v, h in zip(chunks, vecs, text_hashes, strict=True):
                        copy.write_row(
                            (self._kb, row, c.ordinal, c.start, c.end, list(c.heading_path), c.text, h, v)
                        )
        if dim is None and len(chunks) and not self._deferred:
            # the first vectors fix the dimension: index them. Outside the document's transaction: CREATE
            # INDEX inside concurrent first writes deadlocks (each holds its inserts, each waits for the other's)
            with self._p.connection() as db:
                db.execute("SELECT pg_advisory_lock(%s, %s)", (INDEX_LOCK, self._kb))
                try:
                    if not self._index_names(db):
                        self._build_index(db, int(vecs.shape[1]))
                finally:
                    db.execute("SELECT pg_advisory_unlock(%s, %s)", (INDEX_LOCK, self._kb))

    def remove(self, doc_id: str) -> bool:
        with self._p.connection() as db, db.transaction():
            self._refuse_if_frozen(db)
            cur = db.execute(
                "DELETE FROM genloom_documents WHERE kb = %s AND doc_id = %s", (self._kb, doc_id)
            )
            return bool(cur.rowcount)

    # --- reads ---------------------------------------------------------------------------------------------
    _DOC = "doc_id, source, title, content_hash, principals, metadata, n_chunks, updated_at, writers"

    @staticmethod
    def _make_doc(r: tuple, text: str = "") -> Document:
        doc_id, source, title, chash, principals, meta, n, updated, writers = r
        return Document(
            doc_id, source, title, chash, text, sorted(principals), meta, n, updated, sorted(writers)
        )

    def document_hash(self, doc_id: str) -> str | None:
        rows = self._q(
            "SELECT content_hash FROM genloom_documents WHERE kb = %s AND doc_id = %s", (self._kb, doc_id)
        )
        return rows[0][0] if rows else None

    def document(self, doc_id: str) -> Document | None:
        rows = self._q(
            f"SELECT {self._DOC}, text FROM genloom_documents WHERE kb = %s AND doc_id = %s",
            (self._kb, doc_id),
        )
        return self._make_doc(rows[0][:-1], rows[0][-1]) if rows else None

    def documents(self) -> list[Document]:
        rows = self._q(
            f"SELECT {self._DOC}, length(text) FROM genloom_documents WHERE kb = %s ORDER BY source, doc_id",
            (self._kb,),
        )
        docs = [self._make_doc(r[:-1]) for r in rows]
        for d, r in zip(docs, rows, strict=True):
            d.chars = r[-1]  # the text is not loaded for a list; its length is
        return docs

    def chunks(self, doc_id: str) -> list[Chunk]:
        rows = self._q(
            "SELECT c.ordinal, c.text, c.start_pos, c.end_pos, c.heading FROM genloom_chunks c"
            " JOIN genloom_documents d ON d.id = c.doc WHERE d.kb = %s AND d.doc_id = %s ORDER BY c.ordinal",
            (self._kb, doc_id),
        )
        return [Chunk(f"{doc_id}:{o}", doc_id, o, t, s, e, h) for o, t, s, e, h in rows]

    def chunk_vectors(self, doc_id: str) -> dict[str, np.ndarray]:
        rows = self._q(
            "SELECT c.text_hash, c.embedding::text FROM genloom_chunks c JOIN genloom_documents d"
            " ON d.id = c.doc WHERE d.kb = %s AND d.doc_id = %s",
            (self._kb, doc_id),
        )
        return {h: parse_vec(v) for h, v in rows}

    # --- search --------------------------------------------------------------------------------------------
    _HIT = "d.doc_id, d.source, d.title, c.heading, c.start_pos, c.end_pos, c.text, d.metadata, c.ordinal"

    def _filter(self, flt: SearchFilter) -> tuple[str, list[Any]]:
        sql = " AND d.principals && %s::text[]"
        args: list[Any] = [list(flt.principals)]
        for key, value in flt.where:
            sql += " AND d.metadata ->> %s = %s"
            args += [key, value]
        return sql, args

    @staticmethod
    def _hits(rows: list[tuple]) -> list[Hit]:
        return [
            Hit(f"{doc_id}:{o}", doc_id, source, title, heading, s, e, float(score), text, meta)
            for doc_id, source, title, heading, s, e, text, meta, o, score in rows
        ]

    def search_vector(self, vector: np.ndarray, k: int, flt: SearchFilter) -> list[Hit]:
        dim = self._dim()
        if k <= 0 or dim is None:
            return []
        q = np.asarray(vector, dtype=np.float32).reshape(-1)
        if q.shape[0] != dim:
            raise BackendError(f"query vector has {q.shape[0]} dims but the store holds {dim}")
        fsql, fargs = self._filter(flt)
        dist = f"(c.embedding::vector({dim}) <=> %s::vector({dim}))"
        base = (
            f"SELECT {self._HIT}, 1 - {dist} AS score FROM genloom_chunks c JOIN genloom_documents d"
            f" ON d.id = c.doc WHERE c.kb = {self._kb} {fsql}"
        )
        qt = vec_text(q)
        with self._p.connection() as db, db.transaction():
            if self._iterative:
                db.execute("SET LOCAL hnsw.iterative_scan = strict_order")
            db.execute(f"SET LOCAL hnsw.ef_search = {min(1000, max(int(self.ef_search), 4 * k))}")
            rows = db.execute(f"{base} ORDER BY {dist} LIMIT %s", [qt, *fargs, qt, k]).fetchall()
            if len(rows) < k:  # the index scan may have lost rows to the filter: answer exactly
                self.exact_fallbacks += 1
                db.execute("SET LOCAL enable_indexscan = off")
                rows = db.execute(f"{base} ORDER BY {dist}, c.id LIMIT %s", [qt, *fargs, qt, k]).fetchall()
        return self._hits(rows)

    def search_keyword(self, query: str, k: int, flt: SearchFilter) -> list[Hit]:
        terms = self._useful_terms(keyword_terms(query))
        if not terms or k <= 0:
            return []
        # the tsquery is built once, then sent as a constant: the planner can use the GIN index, and nothing
        # re-parses the query per row
        parts = " || ".join(["plainto_tsquery('english', %s)"] * len(terms))
        ((tsq,),) = self._q(f"SELECT ({parts})::text", terms)
        if not tsq:
            return []
        fsql, fargs = self._filter(flt)
        rows = self._q(
            f"SELECT {self._HIT}, ts_rank(c.tsv, %s::tsquery, 1) AS score"
            f" FROM genloom_chunks c JOIN genloom_documents d ON d.id = c.doc"
            f" WHERE c.kb = %s AND c.tsv @@ %s::tsquery {fsql} ORDER BY score DESC, c.id LIMIT %s",
            [tsq, self._kb, tsq, *fargs, k],
        )
        return self._hits(rows)

    def _useful_terms(self, terms: list[str]) -> list[str]:
        """Drop very common terms while a rarer one remains, as the SQLite store does: they match most
        chunks, so ranking them all is slow, and their weight is ~0 anyway. Frequencies come from Postgres's
        own statistics of the tsvector column (``ANALYZE``), refreshed at most once a minute."""
        if len(terms) < 2:
            return terms
        if time.monotonic() - self._freq_at > 60:
            rows = self._q(
                "SELECT x.e, x.f FROM pg_stats s, unnest(s.most_common_elems::text::text[],"
                " s.most_common_elem_freqs) AS x(e, f) WHERE s.tablename = 'genloom_chunks'"
                " AND s.attname = 'tsv' AND x.e IS NOT NULL"
            )
            self._freq, self._freq_at = {str(e): float(f) for e, f in rows}, time.monotonic()
        if not self._freq:
            return terms
        lexemes = self._q(
            "SELECT t, array_to_string(tsvector_to_array(to_tsvector('english', t)), ' ')"
            " FROM unnest(%s::text[]) AS t",
            (terms,),
        )
        freq = {
            t: max((self._freq.get(x, 0.0) for x in (lex or "").split()), default=0.0) for t, lex in lexemes
        }
        rare = [t for t in terms if freq.get(t, 0.0) <= COMMON]
        return rare or [min(terms, key=lambda t: freq.get(t, 0.0))]

    def stats(self) -> dict[str, Any]:
        ((docs, chars),) = self._q(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(text)), 0) FROM genloom_documents WHERE kb = %s",
            (self._kb,),
        )
        ((chunks,),) = self._q("SELECT COUNT(*) FROM genloom_chunks WHERE kb = %s", (self._kb,))
        meta = self.meta()
        return {
            "name": self.name,
            "store": _redact(self.url),
            "documents": docs,
            "chunks": chunks,
            "chars": chars,
            "embedder": meta.get("embedder"),
            "dim": int(meta["dim"]) if "dim" in meta else None,
        }

    def close(self) -> None:
        pass  # the provider owns the pool


class PostgresProvider(PgDatabase):
    """Knowledge bases as rows of ``genloom_kbs`` in one database; the schema is migrated on first use."""

    def __init__(self, url: str, options: PgOptions | None = None) -> None:
        super().__init__(url, options)
        self.dims: dict[int, int] = {}  # KB id -> vector dimension, fixed by its first vectors

    def open(self, name: str, create: bool = True) -> PostgresStore:
        check_kb_name(name)
        with self.connection() as conn:
            rows = conn.execute("SELECT id FROM genloom_kbs WHERE name = %s", (name,)).fetchall()
            if not rows:
                if not create:
                    raise NotFound(
                        f"no knowledge base named {name!r}", hint="see `genloom kb list`, or ingest into it"
                    )
                rows = conn.execute(
                    "INSERT INTO genloom_kbs(name) VALUES (%s) ON CONFLICT(name) DO UPDATE SET name = excluded.name"
                    " RETURNING id",
                    (name,),
                ).fetchall()
        store = PostgresStore(self, int(rows[0][0]), name)
        store.repair_index()
        return store

    def names(self) -> list[str]:
        return [n for (n,) in self.execute("SELECT name FROM genloom_kbs ORDER BY name")]

    def replace(self, name: str, staged: str) -> None:
        """One transaction: the old ``name`` row is deleted (its documents and chunks with it, by cascade) and
        ``staged`` renamed to ``name``; the old vector index is dropped after the commit (a short lock)."""
        check_kb_name(name), check_kb_name(staged)
        with self.connection() as conn:
            with conn.transaction():
                ids = dict(conn.execute(
                    "SELECT name, id FROM genloom_kbs WHERE name = ANY(%s) FOR UPDATE", ([name, staged],)
                ).fetchall())  # fmt: skip
                if staged not in ids:
                    raise NotFound(f"no knowledge base named {staged!r} to put in place of {name!r}")
                old = ids.get(name)
                if old is not None:
                    conn.execute("DELETE FROM genloom_kbs WHERE id = %s", (old,))
                conn.execute("UPDATE genloom_kbs SET name = %s WHERE id = %s", (name, ids[staged]))
            if old is not None:
                self.dims.pop(old, None)
                for idx in hnsw_indexes(conn, old):
                    conn.execute(f'DROP INDEX IF EXISTS "{idx}"')

    def drop(self, name: str) -> bool:
        check_kb_name(name)
        with self.connection() as conn, conn.transaction():
            row = conn.execute("DELETE FROM genloom_kbs WHERE name = %s RETURNING id", (name,)).fetchone()
            if row:
                self.dims.pop(row[0], None)
                conn.execute("DELETE FROM genloom_chunks WHERE kb = %s", (row[0],))
                for idx in hnsw_indexes(conn, row[0]):
                    conn.execute(f'DROP INDEX IF EXISTS "{idx}"')
        return row is not None
