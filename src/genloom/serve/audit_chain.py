"""The audit log's hash chain: every row's ``row_hash`` is SHA-256 of the canonical row (its columns as
sorted-key JSON, ``id`` and ``prev_hash`` included), and ``prev_hash`` is the row before's ``row_hash``
(:data:`GENESIS` for the first). Editing a row breaks its own hash; deleting or moving one breaks the link of
the row after it; deleting the newest rows disagrees with ``chain_head`` (the last id and hash, kept in the
same transaction as each insert).

Appends take SQLite's write lock first (``BEGIN IMMEDIATE``), read the head, insert and update the head in one
transaction: writers in one process (the caller also holds a thread lock around its connection) and in
several processes sharing the file make one linear chain; a second process waits up to the connection's busy
timeout for the lock.

Retention: :func:`prune` deletes the oldest rows behind a *checkpoint* row (endpoint ``audit/prune``) that is
itself chained and names the last deleted row's id and hash, so the first surviving row's ``prev_hash`` is
still accounted for. What a chain without a secret cannot show: someone rewriting every row and the head
together. ``genloom audit verify`` prints the head hash; kept elsewhere, it is checked with ``--head``.

``hash_v`` says which columns a row's hash covers (:data:`HASHED`): a later migration that adds a column to
``requests`` adds a new version here that includes it, so older rows still verify.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

GENESIS = "0" * 64
PRUNE_ENDPOINT = "audit/prune"
_V1 = ("id", "ts", "request_id", "key_id", "endpoint", "model", "template", "kb", "chunk_ids", "prompt",
       "output", "prompt_tokens", "completion_tokens", "latency_ms", "status", "error_type", "finish_reason",
       "redaction", "prev_hash", "cache_hit", "tool_calls", "guard", "hash_v",
       "cost", "route", "manifest")  # fmt: skip
HASHED: dict[int, tuple[str, ...]] = {1: _V1}
CHAIN_V = max(HASHED)


def row_hash(row: dict[str, Any]) -> str:
    """The hash of one row as stored (the columns its ``hash_v`` names)."""
    cols = HASHED.get(row.get("hash_v") or 0)
    if cols is None:
        raise ValueError(f"row {row.get('id')} has unknown hash_v {row.get('hash_v')!r}")
    canonical = json.dumps(
        {c: row.get(c) for c in cols}, sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _one(db: sqlite3.Connection, sql: str, args: tuple[Any, ...] = ()) -> dict[str, Any] | None:
    cur = db.execute(sql, args)
    r = cur.fetchone()
    return None if r is None else dict(zip([d[0] for d in cur.description], r, strict=True))


def head(db: sqlite3.Connection) -> tuple[int, str]:
    """(last id, last hash) of the chain; (0, GENESIS) when nothing was ever chained."""
    r = db.execute("SELECT last_id, last_hash FROM chain_head WHERE id = 1").fetchone()
    return (0, GENESIS) if r is None else (int(r[0]), str(r[1]))


def _append_locked(db: sqlite3.Connection, row: dict[str, Any]) -> int:
    """Insert ``row`` chained to the head; the caller holds the write transaction."""
    row = {**row, "prev_hash": head(db)[1], "hash_v": CHAIN_V, "row_hash": None}
    cols = ", ".join(row)
    rid = db.execute(
        f"INSERT INTO requests ({cols}) VALUES ({', '.join('?' * len(row))})", list(row.values())
    ).lastrowid
    assert rid is not None
    stored = _one(db, "SELECT * FROM requests WHERE id = ?", (rid,))
    assert stored is not None
    h = row_hash(stored)  # of the row as read back: what verify will recompute
    db.execute("UPDATE requests SET row_hash = ? WHERE id = ?", (h, rid))
    db.execute("INSERT INTO chain_head VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET last_id = excluded.last_id,"
               " last_hash = excluded.last_hash", (rid, h))  # fmt: skip
    return rid


def _transaction(db: sqlite3.Connection) -> Any:
    class _Tx:
        def __enter__(self) -> None:
            db.execute("BEGIN IMMEDIATE")

        def __exit__(self, kind: Any, *_: Any) -> None:
            db.execute("COMMIT" if kind is None else "ROLLBACK")

    return _Tx()


def append(db: sqlite3.Connection, row: dict[str, Any]) -> int:
    """Insert one audit row (column → value, without id/prev_hash/row_hash) at the end of the chain."""
    with _transaction(db):
        return _append_locked(db, row)


def seal_unchained(db: sqlite3.Connection, rewrite: Any) -> int:
    """Chain the rows written before the chain existed (``row_hash`` NULL, all older than any chained row),
    first passing each through ``rewrite(row) -> row`` (redaction). Returns how many were sealed."""
    with _transaction(db):
        cur = db.execute("SELECT * FROM requests WHERE row_hash IS NULL ORDER BY id")
        names = [d[0] for d in cur.description]
        legacy = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        for old in legacy:
            row = rewrite(old)
            row.update(prev_hash=head(db)[1], hash_v=CHAIN_V, row_hash=None)
            sets = ", ".join(f"{c} = ?" for c in row if c != "id")
            db.execute(
                f"UPDATE requests SET {sets} WHERE id = ?",
                [v for c, v in row.items() if c != "id"] + [old["id"]],
            )
            stored = _one(db, "SELECT * FROM requests WHERE id = ?", (old["id"],))
            assert stored is not None
            h = row_hash(stored)
            db.execute("UPDATE requests SET row_hash = ? WHERE id = ?", (h, old["id"]))
            db.execute("INSERT INTO chain_head VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET"
                       " last_id = excluded.last_id, last_hash = excluded.last_hash", (old["id"], h))  # fmt: skip
    return len(legacy)


def prune(db: sqlite3.Connection, cutoff_ts: float, now: float) -> int:
    """Delete the oldest rows (the longest prefix older than ``cutoff_ts``) behind a checkpoint row."""
    with _transaction(db):
        young = db.execute("SELECT MIN(id) FROM requests WHERE ts >= ?", (cutoff_ts,)).fetchone()[0]
        last = db.execute("SELECT MAX(id) FROM requests" + (" WHERE id < ?" if young else ""),
                          (young,) if young else ()).fetchone()[0]  # fmt: skip
        if last is None:
            return 0
        through = _one(db, "SELECT id, row_hash FROM requests WHERE id = ?", (last,))
        assert through is not None
        n = db.execute("SELECT COUNT(*) FROM requests WHERE id <= ?", (last,)).fetchone()[0]
        note = {"through_id": last, "through_hash": through["row_hash"], "pruned": n, "cutoff_ts": cutoff_ts}
        _append_locked(db, {"ts": now, "request_id": f"prune-{last}", "key_id": "system", "endpoint": PRUNE_ENDPOINT,
                            "output": json.dumps(note, sort_keys=True), "status": 200, "redaction": "none"})  # fmt: skip
        db.execute("DELETE FROM requests WHERE id <= ?", (last,))
    return int(n)


@dataclass(frozen=True, slots=True)
class Problem:
    id: int  # the row where the chain stops holding
    kind: str  # edited | deleted | reordered | truncated | forged | unchained
    message: str


@dataclass
class Verdict:
    rows: int = 0
    checkpoints: int = 0
    head_id: int = 0
    head_hash: str = GENESIS
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "rows": self.rows, "checkpoints": self.checkpoints, "head_id": self.head_id,
                "head_hash": self.head_hash, "problems": [{"id": p.id, "kind": p.kind, "message": p.message}
                                                          for p in self.problems]}  # fmt: skip


def rows(db: sqlite3.Connection) -> Iterator[dict[str, Any]]:
    cur = db.execute("SELECT * FROM requests ORDER BY id")
    names = [d[0] for d in cur.description]
    for r in cur:
        yield dict(zip(names, r, strict=True))


def verify(db: sqlite3.Connection, known_head: str | None = None) -> Verdict:
    """Recompute the chain; every row where it breaks is a :class:`Problem` naming the row's id."""
    all_rows = list(rows(db))
    v = Verdict(rows=len(all_rows))
    v.head_id, v.head_hash = head(db)
    by_hash = {r["row_hash"]: r["id"] for r in all_rows if r["row_hash"]}
    anchors: set[str] = set()
    for r in all_rows:
        if r["endpoint"] == PRUNE_ENDPOINT and r["key_id"] == "system":
            v.checkpoints += 1
            with contextlib.suppress(ValueError, KeyError, TypeError):  # an edited one fails its own hash
                anchors.add(str(json.loads(r["output"])["through_hash"]))
    add = v.problems.append
    prev: dict[str, Any] | None = None
    for r in all_rows:
        rid = r["id"]
        if r["row_hash"] is None:
            add(Problem(rid, "unchained", f"row {rid} has no hash (written outside genloom's audit log)"))
        elif row_hash(r) != r["row_hash"]:
            add(Problem(rid, "edited", f"row {rid} was changed after it was written (its content does not match "
                                       "its hash)"))  # fmt: skip
        expected = GENESIS if prev is None else prev["row_hash"]
        if r["prev_hash"] != expected and not (prev is None and r["prev_hash"] in anchors):
            if r["prev_hash"] in by_hash and prev is not None:
                add(Problem(rid, "reordered", f"row {rid} follows row {by_hash[r['prev_hash']]} in the chain but "
                                              f"is stored after row {prev['id']}"))  # fmt: skip
            elif prev is None:
                add(Problem(rid, "deleted", f"the rows before row {rid} were deleted (no checkpoint accounts for "
                                            "them)"))  # fmt: skip
            else:
                add(Problem(rid, "deleted", f"rows between row {prev['id']} and row {rid} were deleted (or row "
                                            f"{rid}'s prev_hash edited)"))  # fmt: skip
        prev = r
    last_id, last_hash = (prev["id"], prev["row_hash"]) if prev else (0, GENESIS)
    if (last_id, last_hash) != (v.head_id, v.head_hash):
        if v.head_id > last_id:
            add(Problem(v.head_id, "truncated", f"the newest rows (after row {last_id}, through row {v.head_id}) "
                                                "were deleted"))  # fmt: skip
        else:
            add(Problem(last_id, "forged", f"row {last_id} was not written by the audit log (the chain head is "
                                           f"row {v.head_id})"))  # fmt: skip
    if known_head and known_head != GENESIS and known_head not in by_hash and known_head not in anchors:
        add(Problem(0, "truncated", f"the recorded head {known_head[:16]}… is not in the chain (rows rewritten, "
                                    "deleted, or pruned by retention since it was recorded)"))  # fmt: skip
    return v
