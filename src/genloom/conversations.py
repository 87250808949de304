"""Conversations kept server-side: one SQLite file, ``$GENLOOM_HOME/conversations.db``, owned per API key.

Every call names its ``owner`` (the caller's key id; ``local`` for the local owner) and only ever sees that
owner's conversations: another owner's id reads as "not found", so a key cannot even learn that it exists.
A message is ``{"role", "content", "meta"}``; ``meta`` is what a client wants back with it (for an answer:
the chat completion id that feedback refers to, citations, claims, finish_reason).

    store = ConversationStore(home / "conversations.db")
    c = store.create("alice", messages=[{"role": "user", "content": "What is a kettle?"}])
    store.append("alice", c["id"], [{"role": "assistant", "content": "...", "meta": {"id": "chatcmpl-..."}}])
    store.list("alice", query="kettle")      # titles and message text, newest first

Per-owner UI preferences (model, temperature, ...) live in the same file. The schema is versioned by named
migrations (genloom.migrate, the one mechanism for genloom's SQLite files).
"""

from __future__ import annotations

import builtins
import json
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from genloom import migrate
from genloom.errors import NotFound, UserError

MIGRATIONS: list[tuple[str, str]] = [
    (
        "001_conversations",
        """
        CREATE TABLE conversations (
            id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,              -- the key id that created it, nobody else sees it
            title TEXT NOT NULL,
            model TEXT,                       -- the model (or rag:<kb>) last used in it
            created REAL NOT NULL,
            updated REAL NOT NULL
        );
        CREATE INDEX conversations_owner ON conversations(owner, updated);
        CREATE TABLE messages (
            conversation_id TEXT NOT NULL,
            seq INTEGER NOT NULL,             -- 0, 1, 2, ... in conversation order
            role TEXT NOT NULL,
            content TEXT NOT NULL,
            meta TEXT NOT NULL DEFAULT '{}',  -- JSON object
            ts REAL NOT NULL,
            PRIMARY KEY (conversation_id, seq)
        );
        CREATE TABLE preferences (
            owner TEXT PRIMARY KEY,
            data TEXT NOT NULL,               -- JSON object
            updated REAL NOT NULL
        )
        """,
    ),
]

ROLES = ("system", "user", "assistant")
MAX_TITLE = 200
MAX_CONTENT = 1_000_000  # characters in one message


def title_from(text: str, limit: int = 60) -> str:
    """A conversation title from its first question: one line, cut at a word near ``limit`` characters."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line or "New conversation"
    cut = line[:limit].rsplit(" ", 1)[0]
    return (cut if len(cut) > limit // 2 else line[:limit]) + "…"


def _check_messages(messages: Sequence[dict[str, Any]]) -> list[tuple[str, str, str]]:
    out = []
    for i, m in enumerate(messages):
        role, content, meta = m.get("role"), m.get("content"), m.get("meta") or {}
        if role not in ROLES:
            raise UserError(
                f"message {i}: role {role!r} is not one of {', '.join(ROLES)}", hint="fix the role"
            )
        if not isinstance(content, str):
            raise UserError(f"message {i}: content must be a string", hint="send the text as 'content'")
        if len(content) > MAX_CONTENT:
            raise UserError(f"message {i} is over {MAX_CONTENT} characters", hint="shorten it")
        if not isinstance(meta, dict):
            raise UserError(f"message {i}: meta must be an object", hint="send meta as a JSON object")
        out.append((role, content, json.dumps(meta, ensure_ascii=False)))
    return out


def _check_title(title: str) -> str:
    title = " ".join(title.split())
    if not title:
        raise UserError("the title is empty", hint="send a title with some text")
    if len(title) > MAX_TITLE:
        raise UserError(f"the title is over {MAX_TITLE} characters", hint="shorten it")
    return title


class ConversationStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = migrate.open_db(path, MIGRATIONS)

    # -- reading -----------------------------------------------------------------------------------------
    def _row(self, owner: str, cid: str) -> dict[str, Any]:
        cur = self._db.execute(
            "SELECT id, title, model, created, updated FROM conversations WHERE id = ? AND owner = ?",
            (cid, owner),
        )
        r = cur.fetchone()
        if r is None:
            raise NotFound(f"conversation {cid!r} does not exist", hint="list yours: GET /v1/conversations")
        n = self._db.execute("SELECT COUNT(*) FROM messages WHERE conversation_id = ?", (cid,)).fetchone()[0]
        return {"id": r[0], "object": "conversation", "title": r[1], "model": r[2], "created": r[3],
                "updated": r[4], "messages_count": n}  # fmt: skip

    def list(self, owner: str, query: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The owner's conversations, most recently updated first; ``query`` matches titles and message text."""
        sql = (
            "SELECT c.id, c.title, c.model, c.created, c.updated,"
            " (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id)"
            " FROM conversations c WHERE owner = ?"
        )
        args: builtins.list[Any] = [owner]
        if query and query.strip():
            like = "%" + query.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            sql += (
                " AND (title LIKE ? ESCAPE '\\' OR EXISTS (SELECT 1 FROM messages m WHERE"
                " m.conversation_id = c.id AND m.content LIKE ? ESCAPE '\\'))"
            )
            args += [like, like]
        sql += " ORDER BY updated DESC, id LIMIT ?"
        args.append(max(1, min(limit, 1000)))
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [{"id": r[0], "object": "conversation", "title": r[1], "model": r[2], "created": r[3],
                 "updated": r[4], "messages_count": r[5]} for r in rows]  # fmt: skip

    def get(self, owner: str, cid: str) -> dict[str, Any]:
        """One conversation with its messages."""
        with self._lock:
            conv = self._row(owner, cid)
            cur = self._db.execute(
                "SELECT role, content, meta, ts FROM messages WHERE conversation_id = ? ORDER BY seq", (cid,)
            )
            conv["messages"] = [
                {"role": r[0], "content": r[1], "meta": json.loads(r[2]), "ts": r[3]} for r in cur
            ]
        return conv

    # -- writing -----------------------------------------------------------------------------------------
    def create(
        self,
        owner: str,
        title: str | None = None,
        model: str | None = None,
        messages: Sequence[dict[str, Any]] = (),
    ) -> dict[str, Any]:
        """A new conversation; untitled ones are named after their first user message."""
        rows = _check_messages(messages)
        if title is None:
            first = next((c for r, c, _ in rows if r == "user"), "")
            title = title_from(first)
        title = _check_title(title)
        cid, now = f"conv-{uuid.uuid4().hex[:24]}", time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT INTO conversations VALUES (?, ?, ?, ?, ?, ?)",
                    (cid, owner, title, model, now, now),
                )
                self._insert(cid, 0, rows, now)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return self.get(owner, cid)

    def _insert(self, cid: str, start: int, rows: builtins.list[tuple[str, str, str]], now: float) -> None:
        self._db.executemany(
            "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?)",
            [(cid, start + i, r, c, m, now) for i, (r, c, m) in enumerate(rows)],
        )

    def append(
        self,
        owner: str,
        cid: str,
        messages: Sequence[dict[str, Any]],
        replace_from: int | None = None,
        model: str | None = None,
    ) -> dict[str, Any]:
        """Add messages at the end; with ``replace_from`` drop the messages from that index on first (an
        edited question or a regenerated answer replaces what followed it)."""
        rows = _check_messages(messages)
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                n = self._row(owner, cid)["messages_count"]
                if replace_from is not None:
                    if not 0 <= replace_from <= n:
                        raise UserError(
                            f"replace_from is {replace_from}, but the conversation has {n} messages",
                            hint=f"use an index from 0 to {n}",
                        )
                    self._db.execute(
                        "DELETE FROM messages WHERE conversation_id = ? AND seq >= ?", (cid, replace_from)
                    )
                    n = replace_from
                self._insert(cid, n, rows, now)
                self._db.execute(
                    "UPDATE conversations SET updated = ?, model = COALESCE(?, model) WHERE id = ?",
                    (now, model, cid),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return self.get(owner, cid)

    def rename(self, owner: str, cid: str, title: str) -> dict[str, Any]:
        title = _check_title(title)
        with self._lock:
            self._row(owner, cid)
            self._db.execute(
                "UPDATE conversations SET title = ?, updated = ? WHERE id = ?", (title, time.time(), cid)
            )
            return self._row(owner, cid)

    def delete(self, owner: str, cid: str) -> None:
        with self._lock:
            self._row(owner, cid)
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("DELETE FROM messages WHERE conversation_id = ?", (cid,))
                self._db.execute("DELETE FROM conversations WHERE id = ?", (cid,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    # -- preferences -------------------------------------------------------------------------------------
    def preferences(self, owner: str) -> dict[str, Any]:
        with self._lock:
            r = self._db.execute("SELECT data FROM preferences WHERE owner = ?", (owner,)).fetchone()
        return {} if r is None else dict(json.loads(r[0]))

    def set_preferences(self, owner: str, data: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._db.execute(
                "INSERT INTO preferences VALUES (?, ?, ?) ON CONFLICT(owner) DO UPDATE SET data = excluded.data,"
                " updated = excluded.updated",
                (owner, json.dumps(data, ensure_ascii=False), time.time()),
            )
        return data

    def close(self) -> None:
        with self._lock:
            self._db.close()
