"""What the audit log stores of a request: its columns, with prompt, output and tool calls redacted first.

The policy comes from settings: ``audit_pii_engine`` (what finds PII: ``patterns`` by default, microseconds a
row; ``presidio`` adds person names at a spaCy pass per text), ``pii_entities`` (which entities; "" = all),
``audit_raw`` (1 = store as sent, the ``redaction`` column then says ``none``), ``audit_retention_days``.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genloom.errors import UserError
from genloom.guard.pii import PIIGuard, make_audit_redactor
from genloom.settings import Settings

_REDACTED = ("prompt", "output", "tool_calls")  # the columns that hold what people and models wrote


def private(path: Path) -> None:
    """Make the database and its WAL/shared-memory files readable by their owner only (an older genloom, or a
    copied file, may have left them world-readable)."""
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if p.exists() and stat.S_IMODE(p.stat().st_mode) & 0o077:
            os.chmod(p, 0o600)


@dataclass(frozen=True)
class AuditPolicy:
    redactor: PIIGuard
    raw: bool
    retention_s: float

    @classmethod
    def from_settings(cls, s: Settings) -> AuditPolicy:
        if s.audit_raw not in (0, 1):
            raise UserError(
                "audit_raw must be 0 or 1", hint="set GENLOOM_AUDIT_RAW (1 stores prompts unredacted)"
            )
        if s.audit_retention_days < 0:
            raise UserError(f"audit_retention_days must be >= 0, got {s.audit_retention_days}",
                            hint="set GENLOOM_AUDIT_RETENTION_DAYS (0 = keep every row)")  # fmt: skip
        return cls(make_audit_redactor(s), bool(s.audit_raw), s.audit_retention_days * 86400.0)

    @property
    def name(self) -> str:
        """What the ``redaction`` column records: ``none`` or ``pii:<engine>[:<entities>]``."""
        if self.raw:
            return "none"
        ents = self.redactor.entities
        return f"pii:{self.redactor.engine}" + (f":{','.join(sorted(ents))}" if ents else "")

    def row(self, rec: dict[str, Any]) -> dict[str, Any]:
        """An :class:`~genloom.serve.audit.AuditRecord` (as a dict) → the columns to insert, redacted."""
        row = dict(rec)
        if not self.raw:
            for col in _REDACTED:
                row[col] = self.redactor.redact_value(row[col])
        row["chunk_ids"] = json.dumps(row["chunk_ids"])
        row["tool_calls"] = json.dumps(row["tool_calls"], ensure_ascii=False, default=str)
        row["guard"] = json.dumps(row["guard"], ensure_ascii=False, default=str)
        row["route"] = (
            None if row["route"] is None else json.dumps(row["route"], ensure_ascii=False, default=str)
        )
        if not isinstance(row["prompt"], str):
            row["prompt"] = json.dumps(row["prompt"], ensure_ascii=False)
        row["redaction"] = self.name
        return row

    def rewrite_row(self, stored: dict[str, Any]) -> dict[str, Any]:
        """A row written before redaction existed, redacted now (unless ``audit_raw``)."""
        row = dict(stored)
        if not self.raw:
            for col in _REDACTED:
                row[col] = self._redact_column(row[col])
            row["redaction"] = self.name
        elif row.get("redaction") is None:
            row["redaction"] = "none"
        return row

    def export_row(self, stored: dict[str, Any]) -> dict[str, Any]:
        """A stored row as exported: JSON columns decoded, raw rows redacted."""
        row = dict(stored)
        if row.get("redaction") == "none" and row.get("endpoint") != "audit/prune":
            for col in _REDACTED:
                row[col] = self._redact_column(row[col])
            row["redaction"] = f"pii:{self.redactor.engine} (on export)"
        for col in ("chunk_ids", "tool_calls"):
            row[col] = _maybe_json(row[col])
        return row

    def _redact_column(self, value: Any) -> Any:
        """Redact a stored TEXT column, inside its JSON when it holds JSON (messages, tool calls)."""
        if not isinstance(value, str) or not value:
            return value
        decoded = _maybe_json(value)
        if isinstance(decoded, list | dict):
            return json.dumps(self.redactor.redact_value(decoded), ensure_ascii=False)
        return self.redactor.redact(value)


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
