"""The embedded store: one SQLite file per knowledge base (WAL), FTS5 for BM25, vectors as float32 blobs.

The SQLite file is the source of truth. Vector search uses an exact in-memory matrix derived from it,
reloaded when the file's ``generation`` counter moves (every write bumps it in the same transaction).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from genloom import migrate
from genloom.backends.store.base import FROZEN, SearchFilter, check_kb_name, keyword_terms, refuse_if_frozen
from genloom.backends.store.vector_index import VectorIndex
from genloom.errors import BackendError, NotFound
from genloom.types import Chunk, Document, Hit

# Named migrations through genloom.migrate (the one mechanism for genloom's SQLite files). 001 is the schema
# as it stood before migrations (IF NOT EXISTS: a file made then is adopted as it is); append, never edit.
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents(
    id INTEGER PRIMARY KEY, doc_id TEXT NOT NULL UNIQUE, source TEXT NOT NULL, title TEXT NOT NULL,
    content_hash TEXT NOT NULL, text TEXT NOT NULL, metadata TEXT NOT NULL, n_chunks INTEGER NOT NULL,
    updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS acl(doc INTEGER NOT NULL, principal TEXT NOT NULL, PRIMARY KEY(doc, principal));
CREATE INDEX IF NOT EXISTS acl_principal ON acl(principal, doc);
CREATE TABLE IF NOT EXISTS chunks(
    id INTEGER PRIMARY KEY, doc INTEGER NOT NULL, ordinal INTEGER NOT NULL, start INTEGER NOT NULL,
    "end" INTEGER NOT NULL, heading TEXT NOT NULL, text TEXT NOT NULL, text_hash TEXT NOT NULL,
    vector BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc, ordinal);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(
    text, heading, content='chunks', content_rowid='id', tokenize='porter unicode61');
CREATE VIRTUAL TABLE IF NOT EXISTS fts_vocab USING fts5vocab(fts, 'row');
"""
MIGRATIONS: list[migrate.Migration] = [
    ("001_kb", SCHEMA),
    # who may change or delete a document (JSON list of principals; [] = admin keys only: CLI ingests)
    (
        "002_writers",
        """
        ALTER TABLE documents ADD COLUMN writers TEXT NOT NULL DEFAULT '[]';
        -- uploads made before writers existed stay the uploading key's (source 'upload:<key>/<name>')
        UPDATE documents SET writers = json_array('key:' || substr(source, 8, instr(substr(source, 8), '/') - 1))
            WHERE source LIKE 'upload:%/%'
        """,
    ),
]
COMMON = 0.25  # keyword terms in more than this share of chunks are dropped (BM25 gives them ~no weight)

_HIT_SQL = """SELECT c.id, d.doc_id, d.source, d.title, c.heading, c.start, c."end", c.text, d.metadata, c.ordinal
FROM chunks c JOIN documents d ON d.id = c.doc WHERE c.id IN ({})"""


class _Matrix:
    def __init__(self) -> None:
        self.generation = -1
        self.ids = np.zeros(0, dtype=np.int64)
        self.docs = np.zeros(0, dtype=np.int64)
        self.vectors = np.zeros((0, 0), dtype=np.float32)
        self.index: VectorIndex | None = None


class SQLiteStore:
    def __init__(self, path: Path, name: str) -> None:
        self.name = name
        self.path = path
        self._lock = threading.RLock()
        try:
            # 0600 in a 0700 folder; WAL, synchronous=NORMAL (with WAL: safe against process crashes)
            self._db = migrate.connect(path)
            self._db.execute("PRAGMA busy_timeout = 60000")
            self._db.execute("PRAGMA foreign_keys=ON")
            migrate.apply(self._db, MIGRATIONS)
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('generation', '0')")
        except sqlite3.DatabaseError as e:
            raise BackendError(
                f"cannot open knowledge base {name!r} at {path}: {e}",
                hint=f"if the file is damaged, remove it with: genloom kb drop {name}",
            ) from None
        self._matrix = _Matrix()

    # --- small helpers ---------------------------------------------------------------------------
    def _q(self, sql: str, args: tuple | list = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _doc_row(self, doc_id: str) -> int | None:
        rows = self._q("SELECT id FROM documents WHERE doc_id = ?", (doc_id,))
        return rows[0][0] if rows else None

    def meta(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self._q("SELECT key, value FROM meta")}

    def set_meta(self, key: str, value: str) -> None:
        self._q(
            "INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def delete_meta(self, key: str) -> None:
        self._q("DELETE FROM meta WHERE key = ?", (key,))

    def document_hash(self, doc_id: str) -> str | None:
        rows = self._q("SELECT content_hash FROM documents WHERE doc_id = ?", (doc_id,))
        return rows[0][0] if rows else None

    def chunk_vectors(self, doc_id: str) -> dict[str, np.ndarray]:
        rows = self._q(
            "SELECT c.text_hash, c.vector FROM chunks c JOIN documents d ON d.id = c.doc WHERE d.doc_id = ?",
            (doc_id,),
        )
        return {h: np.frombuffer(v, dtype=np.float32) for h, v in rows}

    # --- writes: one transaction each ----------------------------------------------------------------
    def _delete_rows(self, row: int) -> None:
        db = self._db
        db.execute(
            "INSERT INTO fts(fts, rowid, text, heading) SELECT 'delete', id, text, heading FROM chunks WHERE doc = ?",
            (row,),
        )
        db.execute("DELETE FROM chunks WHERE doc = ?", (row,))
        db.execute("DELETE FROM acl WHERE doc = ?", (row,))

    def _refuse_if_frozen(self) -> None:
        """Inside a write's transaction (BEGIN IMMEDIATE: after any freeze that committed first)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (FROZEN,)).fetchone()
        refuse_if_frozen(self.name, row[0] if row else None)

    def _bump(self) -> None:
        self._db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")

    def put_document(
        self, doc: Document, chunks: list[Chunk], vectors: np.ndarray, text_hashes: list[str]
    ) -> None:
        if len(chunks) != len(vectors) or len(chunks) != len(text_hashes):
            raise ValueError("chunks, vectors and text_hashes must have the same length")
        vecs = np.ascontiguousarray(vectors, dtype=np.float32)
        now = doc.updated_at or time.time()
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                self._refuse_if_frozen()
                old = db.execute("SELECT id FROM documents WHERE doc_id = ?", (doc.doc_id,)).fetchone()
                values = (
                    doc.source,
                    doc.title,
                    doc.content_hash,
                    doc.text,
                    json.dumps(doc.metadata),
                    len(chunks),
                    now,
                    json.dumps(sorted(set(doc.writers))),
                )
                if old:
                    row = old[0]
                    self._delete_rows(row)
                    db.execute(
                        "UPDATE documents SET source=?, title=?, content_hash=?, text=?, metadata=?, n_chunks=?,"
                        " updated_at=?, writers=? WHERE id=?",
                        (*values, row),
                    )
                else:
                    cur = db.execute(
                        "INSERT INTO documents(doc_id, source, title, content_hash, text, metadata, n_chunks,"
                        " updated_at, writers) VALUES (?,?,?,?,?,?,?,?,?)",
                        (doc.doc_id, *values),
                    )
                    row = cur.lastrowid
                db.executemany(
                    "INSERT INTO acl VALUES (?, ?)", [(row, p) for p in sorted(set(doc.principals))]
                )
                for c, v, h in zip(chunks, vecs, text_hashes, strict=True):
                    heading = json.dumps(c.heading_path, ensure_ascii=False)
                    cur = db.execute(
                        'INSERT INTO chunks(doc, ordinal, start, "end", heading, text, text_hash, vector)'
                        " VALUES (?,?,?,?,?,?,?,?)",
                        (row, c.ordinal, c.start, c.end, heading, c.text, h, v.tobytes()),
                    )
                    db.execute(
                        "INSERT INTO fts(rowid, text, heading) VALUES (?, ?, ?)",
                        (cur.lastrowid, c.text, " ".join(c.heading_path)),
                    )
                self._bump()
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def remove(self, doc_id: str) -> bool:
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                self._refuse_if_frozen()
                old = db.execute("SELECT id FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
                if old:
                    self._delete_rows(old[0])
                    db.execute("DELETE FROM documents WHERE id = ?", (old[0],))
                    self._bump()
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return bool(old)

    # --- reads -------------------------------------------------------------------------------------------
    def _make_doc(self, r: tuple, text: str = "") -> Document:
        row, doc_id, source, title, chash, meta, n, updated, writers = r
        principals = [
            p for (p,) in self._q("SELECT principal FROM acl WHERE doc = ? ORDER BY principal", (row,))
        ]
        return Document(doc_id, source, title, chash, text, principals, json.loads(meta), n, updated,
                        json.loads(writers))  # fmt: skip

    _DOC_COLS = "id, doc_id, source, title, content_hash, metadata, n_chunks, updated_at, writers"

    def document(self, doc_id: str) -> Document | None:
        rows = self._q(f"SELECT {self._DOC_COLS}, text FROM documents WHERE doc_id = ?", (doc_id,))
        return self._make_doc(rows[0][:-1], rows[0][-1]) if rows else None

    def documents(self) -> list[Document]:
        rows = self._q(f"SELECT {self._DOC_COLS}, LENGTH(text) FROM documents ORDER BY source, doc_id")
        docs = [self._make_doc(r[:-1]) for r in rows]
        for d, r in zip(docs, rows, strict=True):
            d.chars = r[-1]  # the text is not loaded for a list; its length is
        return docs

    def chunks(self, doc_id: str) -> list[Chunk]:
        rows = self._q(
            'SELECT c.ordinal, c.text, c.start, c."end", c.heading FROM chunks c JOIN documents d ON d.id = c.doc'
            " WHERE d.doc_id = ? ORDER BY c.ordinal",
            (doc_id,),
        )
        return [Chunk(f"{doc_id}:{o}", doc_id, o, t, s, e, json.loads(h)) for o, t, s, e, h in rows]

    def _hits(self, scored: list[tuple[int, float]]) -> list[Hit]:
        if not scored:
            return []
        rows = self._q(_HIT_SQL.format(",".join("?" * len(scored))), [i for i, _ in scored])
        by_id = {r[0]: r for r in rows}
        hits = []
        for i, score in scored:
            r = by_id.get(i)
            if r is None:
                continue
            _, doc_id, source, title, heading, start, end, text, meta, ordinal = r
            hits.append(
                Hit(
                    f"{doc_id}:{ordinal}",
                    doc_id,
                    source,
                    title,
                    json.loads(heading),
                    start,
                    end,
                    float(score),
                    text,
                    json.loads(meta),
                )
            )
        return hits

    def _filter_sql(self, flt: SearchFilter, col: str = "c.doc") -> tuple[str, list[Any]]:
        """SQL restricting ``col`` (a documents.id) to the documents ``flt`` allows."""
        sql = (
            f" AND {col} IN (SELECT doc FROM acl WHERE principal IN ({','.join('?' * len(flt.principals))}))"
        )
        args: list[Any] = list(flt.principals)
        for key, value in flt.where:
            sql += (
                f" AND {col} IN (SELECT id FROM documents WHERE CAST(json_extract(metadata, ?) AS TEXT) = ?)"
            )
            args += [f'$."{key}"', value]
        return sql, args

    def _load_matrix(self) -> _Matrix:
        gen = int(self._q("SELECT value FROM meta WHERE key = 'generation'")[0][0])
        m = self._matrix
        if m.generation == gen:
            return m
        rows = self._q("SELECT id, doc, vector FROM chunks ORDER BY id")
        new = _Matrix()
        new.generation = gen
        if rows:
            new.ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            new.docs = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
            new.vectors = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32).reshape(len(rows), -1)
            new.index = VectorIndex(new.vectors)
        self._matrix = new
        return new

    def search_vector(self, vector: np.ndarray, k: int, flt: SearchFilter) -> list[Hit]:
        m = self._load_matrix()
        if k <= 0 or len(m.ids) == 0:
            return []
        q = np.asarray(vector, dtype=np.float32).reshape(-1)
        if q.shape[0] != m.vectors.shape[1]:
            raise BackendError(f"query vector has {q.shape[0]} dims but the store holds {m.vectors.shape[1]}")
        fsql, fargs = self._filter_sql(flt, col="dd.id")
        allowed = np.array(
            [r[0] for r in self._q(f"SELECT id FROM documents dd WHERE 1 {fsql}", fargs)], dtype=np.int64
        )
        lookup = np.zeros(int(max(m.docs.max(), allowed.max(initial=0))) + 1, dtype=bool)
        lookup[allowed] = True
        mask = lookup[m.docs]
        assert m.index is not None
        rows, scores = m.index.search(q, k, mask if not mask.all() else None)
        return self._hits([(int(m.ids[r]), float(s)) for r, s in zip(rows, scores, strict=True)])

    def search_keyword(self, query: str, k: int, flt: SearchFilter) -> list[Hit]:
        terms = self._useful_terms(keyword_terms(query))
        if not terms or k <= 0:
            return []
        match = " OR ".join('"' + t.replace('"', "") + '"' for t in terms)
        fsql, fargs = self._filter_sql(flt)
        rows = self._q(
            f"SELECT c.id, bm25(fts) AS s FROM fts JOIN chunks c ON c.id = fts.rowid WHERE fts MATCH ? {fsql}"
            " ORDER BY s, c.id LIMIT ?",
            [match, *fargs, k],
        )
        return self._hits([(i, -s) for i, s in rows])

    def _useful_terms(self, terms: list[str]) -> list[str]:
        """Drop very common terms (when a rarer one remains): they match most chunks, which makes BM25
        slow, while their IDF is ~0 so they barely change the ranking. Terms are looked up unstemmed; a term
        whose stem differs is simply kept."""
        if len(terms) < 2:
            return terms
        n = len(self._load_matrix().ids)
        if n < 2000:  # small KBs are fast anyway; keep every term so keyword recall stays complete
            return terms
        df = dict(
            self._q(f"SELECT term, doc FROM fts_vocab WHERE term IN ({','.join('?' * len(terms))})", terms)
        )
        rare = [t for t in terms if df.get(t, 0) <= COMMON * n]
        return rare or [min(terms, key=lambda t: df.get(t, 0))]

    def stats(self) -> dict[str, Any]:
        ((docs, chars),) = self._q("SELECT COUNT(*), COALESCE(SUM(LENGTH(text)), 0) FROM documents")
        (chunks,) = self._q("SELECT COUNT(*) FROM chunks")[0]
        meta = self.meta()
        size = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())
        return {
            "name": self.name,
            "store": f"sqlite:{self.path}",
            "documents": docs,
            "chunks": chunks,
            "chars": chars,
            "bytes_on_disk": size,
            "embedder": meta.get("embedder"),
            "dim": int(meta["dim"]) if "dim" in meta else None,
        }

    def close(self) -> None:
        with self._lock:
            self._db.close()


class SQLiteProvider:
    """``sqlite:`` = one file per KB under ``$GENLOOM_HOME/kb``; ``sqlite:/some/dir`` = under that dir."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, name: str) -> Path:
        return self.root / f"{check_kb_name(name)}.db"

    def open(self, name: str, create: bool = True) -> SQLiteStore:
        path = self._path(name)
        if not path.exists():
            if not create:
                raise NotFound(
                    f"no knowledge base named {name!r}", hint="see `genloom kb list`, or ingest into it"
                )
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        return SQLiteStore(path, name)

    def names(self) -> list[str]:
        return sorted(p.stem for p in self.root.glob("*.db")) if self.root.is_dir() else []

    def replace(self, name: str, staged: str) -> None:
        """Both files are checkpointed (their WAL folded in), then ``staged``'s file is renamed over ``name``'s
        (one atomic rename: a new opener sees one file or the other). Stores of ``name`` opened before keep
        reading the old file until they are closed; the server opens one per request."""
        src, dst = self._path(staged), self._path(name)
        if not src.exists():
            raise NotFound(f"no knowledge base named {staged!r} to put in place of {name!r}")
        for path in (src, dst):
            if path.exists():
                with contextlib.closing(sqlite3.connect(path)) as db:
                    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        for p in (Path(f"{dst}-wal"), Path(f"{dst}-shm")):  # the old file's: must not meet the new one
            p.unlink(missing_ok=True)
        os.replace(src, dst)
        for p in (Path(f"{src}-wal"), Path(f"{src}-shm")):
            p.unlink(missing_ok=True)

    def drop(self, name: str) -> bool:
        path = self._path(name)
        found = path.exists()
        for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            p.unlink(missing_ok=True)
        return found
