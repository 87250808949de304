"""The audit log: one SQLite row per API request, in ``$GENLOOM_HOME/audit.db``.

A row holds who (key id), what (endpoint, model, prompt-template version, KB and the chunk ids retrieved),
the prompt and the output, token counts, latency, status and error type, and whether the cache answered.

Prompts, outputs and tool calls are redacted (PII: genloom.guard.pii, setting ``audit_pii_engine``) before
they are written unless ``audit_raw`` = 1; ``redaction`` records the policy (``pii:patterns``, ``none``). Rows
are hash-chained (``prev_hash``/``row_hash``, genloom.serve.audit_chain): ``genloom audit verify`` finds an
edited, deleted or reordered row. ``audit_retention_days`` prunes old rows behind a checkpoint. The file is
private (0600). The schema is versioned by named migrations (genloom.migrate, the one mechanism for every
SQLite file genloom owns).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from genloom import migrate
from genloom.serve import audit_chain
from genloom.serve.audit_policy import AuditPolicy, private
from genloom.settings import Settings, get_settings

MIGRATIONS: list[tuple[str, str]] = [
    (
        "001_requests",
        """
        CREATE TABLE requests (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            ts REAL NOT NULL,                 -- unix time the request arrived
            request_id TEXT NOT NULL,         -- the id returned to the client (chatcmpl-..., ...)
            key_id TEXT NOT NULL,
            endpoint TEXT NOT NULL,
            model TEXT,
            template TEXT,                    -- prompt template id@version (grounded answers)
            kb TEXT,
            chunk_ids TEXT NOT NULL DEFAULT '[]',   -- JSON list
            prompt TEXT NOT NULL DEFAULT '',  -- JSON (messages) or text
            output TEXT NOT NULL DEFAULT '',
            prompt_tokens INTEGER NOT NULL DEFAULT 0,
            completion_tokens INTEGER NOT NULL DEFAULT 0,
            latency_ms REAL NOT NULL DEFAULT 0,
            status INTEGER NOT NULL,
            error_type TEXT,
            finish_reason TEXT,
            redaction TEXT,                   -- the PII policy applied to prompt/output (later issue)
            prev_hash TEXT,                   -- hash chain for tamper evidence (later issue)
            row_hash TEXT
        );
        CREATE INDEX requests_ts ON requests(ts);
        CREATE INDEX requests_key ON requests(key_id, ts);
        """,
    ),
    (
        "002_cache_hit",
        """
        -- 1 when the response came from the cache (nothing was generated or embedded for it)
        ALTER TABLE requests ADD COLUMN cache_hit INTEGER NOT NULL DEFAULT 0;
        """,
    ),
    (
        "003_tool_calls",
        """
        -- JSON list: every tool call of the request and its result (agent runs: step, id, name, arguments,
        -- ok, error, result, refused calls included)
        ALTER TABLE requests ADD COLUMN tool_calls TEXT NOT NULL DEFAULT '[]';
        """,
    ),
    (
        "004_feedback",
        """
        -- a person's rating of one response (thumbs up/down, optional comment): what a later fine-tuning or
        -- evaluation loop reads (genloom feedback export). One per request, rating again replaces it.
        CREATE TABLE feedback (
            request_id TEXT PRIMARY KEY,      -- requests.request_id (the chat completion id)
            key_id TEXT NOT NULL,             -- who rated it: the key that made the request
            ts REAL NOT NULL,                 -- unix time of the (latest) rating
            rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
            comment TEXT
        );
        CREATE INDEX requests_request_id ON requests(request_id);
        CREATE INDEX feedback_ts ON feedback(ts)
        """,
    ),
    (
        "005_guard",
        """
        -- JSON list: what the guards found in this request (genloom.guard, issue 14): guard, where (input,
        -- evidence, output, tool_call, tool_result), action (allow/redact/block), category, reason, spans
        ALTER TABLE requests ADD COLUMN guard TEXT NOT NULL DEFAULT '[]';
        """,
    ),
    (
        "006_audit_chain",
        """
        -- hash_v: which columns row_hash covers (audit_chain.HASHED). chain_head: the newest row, kept with each insert
        ALTER TABLE requests ADD COLUMN hash_v INTEGER;
        CREATE TABLE chain_head (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            last_id INTEGER NOT NULL,
            last_hash TEXT NOT NULL
        )
        """,
    ),
    (
        "007_manifest",
        """
        -- the signed provenance manifest (JSON) returned with the output, when manifests are on (issue 16)
        ALTER TABLE requests ADD COLUMN manifest TEXT;
        """,
    ),
    (
        "008_cost",
        """
        -- issue 21: what the request cost in USD by the price table (settings.prices, 0 for local models)
        ALTER TABLE requests ADD COLUMN cost REAL NOT NULL DEFAULT 0;
        -- JSON: which model answered and why (cascade, router, online A/B arm), NULL when nothing chose
        ALTER TABLE requests ADD COLUMN route TEXT;
        """,
    ),
]


@dataclass
class AuditRecord:
    request_id: str
    key_id: str
    endpoint: str
    ts: float = field(default_factory=time.time)
    model: str | None = None
    template: str | None = None
    kb: str | None = None
    chunk_ids: list[str] = field(default_factory=list)
    prompt: Any = ""
    output: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    status: int = 200
    error_type: str | None = None
    finish_reason: str | None = None
    # answered from the cache: the token counts are the cached response's, and none were charged
    cache_hit: bool = False
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    guard: list[dict[str, Any]] = field(default_factory=list)  # the guards' findings (issue 14)
    cost: float = 0.0  # USD by the price table (issue 21; genloom.cost)
    route: dict[str, Any] | None = None  # issue 21: {"model", "reason", "cascade"?, "rule"?, "arm"?}
    manifest: str | None = None  # the signed provenance manifest, JSON (genloom.serve.manifests)


class AuditLog:
    def __init__(self, path: Path, settings: Settings | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._policy = AuditPolicy.from_settings(settings or get_settings())
        self._db = migrate.open_db(path, MIGRATIONS)
        private(path)
        with self._lock:
            audit_chain.seal_unchained(self._db, self._policy.rewrite_row)
        self._next_prune = 0.0
        self.pruned_at_open = self.prune()

    def write(self, rec: AuditRecord) -> None:
        row = self._policy.row(asdict(rec))
        with self._lock:
            audit_chain.append(self._db, row)
        if self._policy.retention_s and time.time() >= self._next_prune:
            self.prune()

    def prune(self) -> int:
        """Delete rows older than ``audit_retention_days`` (behind a checkpoint row); how many went."""
        if not self._policy.retention_s:
            return 0
        now = time.time()
        self._next_prune = now + min(3600.0, self._policy.retention_s / 10)
        with self._lock:
            return audit_chain.prune(self._db, now - self._policy.retention_s, now)

    def verify(self, known_head: str | None = None) -> audit_chain.Verdict:
        with self._lock:
            return audit_chain.verify(self._db, known_head)

    def export(self) -> Iterator[dict[str, Any]]:
        """Every row, oldest first, redacted (rows stored raw under ``audit_raw`` are redacted here)."""
        with self._lock:
            all_rows = list(audit_chain.rows(self._db))
        for r in all_rows:
            yield self._policy.export_row(r)

    def rows(self, limit: int = 100) -> list[dict[str, Any]]:
        with self._lock:
            cur = self._db.execute("SELECT * FROM requests ORDER BY id DESC LIMIT ?", (limit,))
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def request(self, request_id: str) -> dict[str, Any] | None:
        """The audit row of one response (by the id returned to the client), or None."""
        with self._lock:
            cur = self._db.execute(
                "SELECT * FROM requests WHERE request_id = ? ORDER BY id DESC LIMIT 1", (request_id,)
            )
            names = [d[0] for d in cur.description]
            r = cur.fetchone()
        return None if r is None else dict(zip(names, r, strict=True))

    def put_feedback(self, request_id: str, key_id: str, rating: str, comment: str | None) -> float:
        ts = time.time()
        with self._lock:
            self._db.execute(
                "INSERT INTO feedback VALUES (?, ?, ?, ?, ?) ON CONFLICT(request_id) DO UPDATE SET"
                " key_id = excluded.key_id, ts = excluded.ts, rating = excluded.rating, comment = excluded.comment",
                (request_id, key_id, ts, rating, comment),
            )
        return ts

    def delete_feedback(self, request_id: str, key_id: str) -> bool:
        with self._lock:
            cur = self._db.execute(
                "DELETE FROM feedback WHERE request_id = ? AND key_id = ?", (request_id, key_id)
            )
        return cur.rowcount > 0

    def feedback_rows(self, key_id: str | None = None) -> list[dict[str, Any]]:
        """Each rating joined with its response's audit row (oldest first); ``key_id`` = only that key's."""
        sql = (
            "SELECT f.request_id, f.ts, f.key_id, f.rating, f.comment, r.endpoint, r.model, r.kb, r.template,"
            " r.prompt, r.output FROM feedback f JOIN requests r ON r.id = (SELECT MAX(id) FROM requests"
            " WHERE request_id = f.request_id)"
        )
        args: tuple[Any, ...] = ()
        if key_id is not None:
            sql, args = sql + " WHERE f.key_id = ?", (key_id,)
        with self._lock:
            cur = self._db.execute(sql + " ORDER BY f.ts, f.request_id", args)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def select(self, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """A read-only query's rows as dicts (usage and spend reports: genloom.serve.usage)."""
        with self._lock:
            cur = self._db.execute(sql, args)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def close(self) -> None:
        with self._lock:
            self._db.close()
