"""Feedback export: each rated response as one JSON object per line, the input of fine-tuning and evaluation.

One line per rating, oldest first, exactly these fields::

    {"request_id": str, "ts": float, "key_id": str, "rating": "up"|"down", "comment": str|null,
     "endpoint": str, "model": str|null, "kb": str|null, "template": str|null,
     "messages": [{"role", "content"}, ...], "question": str, "answer": str}

``ts`` is when the rating was given; ``messages`` the request's prompt as audited (a text completion's prompt
becomes one user message); ``question`` its last user message; ``answer`` the audited output.
Ratings live in the audit database (table ``feedback``, migration ``004_feedback``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from genloom.serve.audit import AuditLog

RATINGS = ("up", "down")


def _messages(prompt: str) -> list[dict[str, str]]:
    try:
        data = json.loads(prompt)
    except ValueError:
        data = prompt
    if isinstance(data, list):
        return [
            {"role": str(m.get("role", "")), "content": str(m.get("content", ""))}
            for m in data
            if isinstance(m, dict)
        ]
    return [{"role": "user", "content": data if isinstance(data, str) else json.dumps(data)}]


def record(row: dict[str, Any]) -> dict[str, Any]:
    """One export object from a joined feedback + audit row (:meth:`AuditLog.feedback_rows`)."""
    messages = _messages(row["prompt"] or "")
    question = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    return {
        "request_id": row["request_id"],
        "ts": float(row["ts"]),
        "key_id": row["key_id"],
        "rating": row["rating"],
        "comment": row["comment"],
        "endpoint": row["endpoint"],
        "model": row["model"],
        "kb": row["kb"],
        "template": row["template"],
        "messages": messages,
        "question": question,
        "answer": row["output"] or "",
    }


def export_lines(audit: AuditLog, key_id: str | None = None) -> Iterator[str]:
    """The JSONL lines (each ending in a newline) of every rating, or only ``key_id``'s."""
    for row in audit.feedback_rows(key_id):
        yield json.dumps(record(row), ensure_ascii=False) + "\n"
