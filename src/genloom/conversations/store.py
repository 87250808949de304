"""What a conversation store does, written once over a tiny database adapter; SQLite and Postgres supply one.

Every call names its ``owner`` (the caller's key id; ``local`` for the local owner) and only ever sees that
owner's conversations: another owner's id reads as "not found", so a key cannot even learn that it exists.
A message is ``{"role", "content", "meta"}``; ``meta`` is what a client wants back with it (for an answer:
the chat completion id that feedback refers to, citations, claims, finish_reason). Per-owner UI preferences
(model, temperature, ...) are kept beside them.

    store = open_conversations(settings)      # SQLite in the home dir, or the Postgres store's database
    c = store.create("alice", messages=[{"role": "user", "content": "What is a kettle?"}])
    store.append("alice", c["id"], [{"role": "assistant", "content": "...", "meta": {"id": "chatcmpl-..."}}])
    store.list("alice", query="kettle")      # titles and message text, newest first

SQL here is written with ``?`` placeholders and ``{c}``/``{m}``/``{p}`` for the three tables' names; an
adapter runs it in one transaction per call (:meth:`Conversations._tx`).
"""

from __future__ import annotations

import builtins
import json
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, ClassVar

from genloom.errors import Conflict, NotFound, UserError

ROLES = ("system", "user", "assistant")
MAX_TITLE = 200
MAX_CONTENT = 1_000_000  # characters in one message

Run = Callable[[str, Sequence[Any]], builtins.list[tuple[Any, ...]]]  # (sql, args) -> rows


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


def _summary(r: Sequence[Any]) -> dict[str, Any]:
    return {"id": r[0], "object": "conversation", "title": r[1], "model": r[2], "created": r[3],
            "updated": r[4], "messages_count": int(r[5])}  # fmt: skip


class Conversations:
    """The store's behaviour; a subclass gives the table names, the case-insensitive LIKE and ``_tx``."""

    tables: ClassVar[dict[str, str]] = {"c": "conversations", "m": "messages", "p": "preferences"}
    ilike = "LIKE"  # SQLite's LIKE ignores ASCII case already; Postgres says ILIKE

    def _tx(self) -> AbstractContextManager[Run]:
        """One transaction (committed when the block ends without an exception), as a ``run`` function."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the database (no-op where the connection is shared)."""

    def _sql(self, sql: str) -> str:
        return sql.format(**self.tables)

    # -- reading -----------------------------------------------------------------------------------------
    def _row(self, run: Run, owner: str, cid: str) -> dict[str, Any]:
        rows = run(
            self._sql(
                "SELECT c.id, c.title, c.model, c.created, c.updated, (SELECT COUNT(*) FROM {m} m"
                " WHERE m.conversation_id = c.id) FROM {c} c WHERE c.id = ? AND c.owner = ?"
            ),
            (cid, owner),
        )
        if not rows:
            raise NotFound(f"conversation {cid!r} does not exist", hint="list yours: GET /v1/conversations")
        return _summary(rows[0])

    def list(self, owner: str, query: str | None = None, limit: int = 100) -> builtins.list[dict[str, Any]]:
        """The owner's conversations, most recently updated first; ``query`` matches titles and message text."""
        sql = (
            "SELECT c.id, c.title, c.model, c.created, c.updated,"
            " (SELECT COUNT(*) FROM {m} m WHERE m.conversation_id = c.id) FROM {c} c WHERE c.owner = ?"
        )
        args: builtins.list[Any] = [owner]
        if query and query.strip():
            like = "%" + query.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            sql += (
                f" AND (c.title {self.ilike} ? ESCAPE '\\' OR EXISTS (SELECT 1 FROM {{m}} m WHERE"
                f" m.conversation_id = c.id AND m.content {self.ilike} ? ESCAPE '\\'))"
            )
            args += [like, like]
        sql += " ORDER BY c.updated DESC, c.id LIMIT ?"
        args.append(max(1, min(limit, 1000)))
        with self._tx() as run:
            return [_summary(r) for r in run(self._sql(sql), args)]

    def get(self, owner: str, cid: str) -> dict[str, Any]:
        """One conversation with its messages."""
        with self._tx() as run:
            return self._get(run, owner, cid)

    def _get(self, run: Run, owner: str, cid: str) -> dict[str, Any]:
        conv = self._row(run, owner, cid)
        rows = run(
            self._sql("SELECT role, content, meta, ts FROM {m} WHERE conversation_id = ? ORDER BY seq"),
            (cid,),
        )
        conv["messages"] = [
            {"role": r[0], "content": r[1], "meta": json.loads(r[2]), "ts": r[3]} for r in rows
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
            title = title_from(next((c for r, c, _ in rows if r == "user"), ""))
        title = _check_title(title)
        cid, now = f"conv-{uuid.uuid4().hex[:24]}", time.time()
        with self._tx() as run:
            run(self._sql("INSERT INTO {c} VALUES (?, ?, ?, ?, ?, ?)"), (cid, owner, title, model, now, now))
            self._insert(run, cid, 0, rows, now)
            return self._get(run, owner, cid)

    def _insert(
        self, run: Run, cid: str, start: int, rows: builtins.list[tuple[str, str, str]], now: float
    ) -> None:
        for i, (r, c, m) in enumerate(rows):
            run(self._sql("INSERT INTO {m} VALUES (?, ?, ?, ?, ?, ?)"), (cid, start + i, r, c, m, now))

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
        with self._tx() as run:
            n = self._row(run, owner, cid)["messages_count"]
            if replace_from is not None:
                if not 0 <= replace_from <= n:
                    raise Conflict(
                        f"replace_from is {replace_from}, but the conversation has {n} messages",
                        hint=f"use an index from 0 to {n}",
                    )
                run(self._sql("DELETE FROM {m} WHERE conversation_id = ? AND seq >= ?"), (cid, replace_from))
                n = replace_from
            self._insert(run, cid, n, rows, now)
            run(
                self._sql("UPDATE {c} SET updated = ?, model = COALESCE(?, model) WHERE id = ?"),
                (now, model, cid),
            )
            return self._get(run, owner, cid)

    def rename(self, owner: str, cid: str, title: str) -> dict[str, Any]:
        title = _check_title(title)
        with self._tx() as run:
            self._row(run, owner, cid)
            run(self._sql("UPDATE {c} SET title = ?, updated = ? WHERE id = ?"), (title, time.time(), cid))
            return self._row(run, owner, cid)

    def delete(self, owner: str, cid: str) -> None:
        with self._tx() as run:
            self._row(run, owner, cid)
            run(self._sql("DELETE FROM {m} WHERE conversation_id = ?"), (cid,))
            run(self._sql("DELETE FROM {c} WHERE id = ?"), (cid,))

    # -- preferences -------------------------------------------------------------------------------------
    def preferences(self, owner: str) -> dict[str, Any]:
        with self._tx() as run:
            rows = run(self._sql("SELECT data FROM {p} WHERE owner = ?"), (owner,))
        return {} if not rows else dict(json.loads(rows[0][0]))

    def set_preferences(self, owner: str, data: dict[str, Any]) -> dict[str, Any]:
        with self._tx() as run:
            run(
                self._sql(
                    "INSERT INTO {p} VALUES (?, ?, ?) ON CONFLICT(owner) DO UPDATE SET data = excluded.data,"
                    " updated = excluded.updated"
                ),
                (owner, json.dumps(data, ensure_ascii=False), time.time()),
            )
        return data
