"""Spend per key from the audit log, and the budget check every generation passes (issue 21).

Spend is the sum of the audit rows' ``cost`` (migration 008_cost) since the budget period began; the audit log
is the one record of what ran, so the CLI (``genloom usage``), ``GET /v1/usage`` and the 429 all agree.
"""

from __future__ import annotations

import time
from typing import Any

from genloom import cost
from genloom.errors import UserError
from genloom.serve.audit import AuditLog
from genloom.serve.errors import APIError
from genloom.settings import Settings

GROUPS = {"day": "date(ts, 'unixepoch')", "month": "strftime('%Y-%m', ts, 'unixepoch')", "model": "model"}


def spent(audit: AuditLog, key_id: str, since: float) -> float:
    rows = audit.select("SELECT COALESCE(SUM(cost), 0) AS usd FROM requests WHERE key_id = ? AND ts >= ?",
                        (key_id, since))  # fmt: skip
    return float(rows[0]["usd"])


def report(
    audit: AuditLog, s: Settings, key_id: str | None = None, by: str = "day", since: float = 0.0
) -> list[dict[str, Any]]:
    """Requests, tokens and cost per key and ``by`` (day | month | model | arm), oldest first; ``key_id``: one
    key. ``arm``: per online A/B arm (every key together) with its feedback: thumbs up and down, up rate."""
    if by == "arm":
        return arm_report(audit, key_id, since)
    if by not in GROUPS:
        raise UserError(f"cannot group usage by {by!r}", hint=f"use one of {', '.join(GROUPS)}, arm")
    where, args = "WHERE ts >= ?", list[Any]([since])
    if key_id is not None:
        where, args = where + " AND key_id = ?", [since, key_id]
    sql = (
        f"SELECT key_id, {GROUPS[by]} AS {by}, COUNT(*) AS requests, SUM(prompt_tokens) AS prompt_tokens,"
        f" SUM(completion_tokens) AS completion_tokens, ROUND(SUM(cost), 8) AS cost FROM requests {where}"
        f" GROUP BY key_id, {by} ORDER BY key_id, {by}"
    )
    return audit.select(sql, tuple(args))


def arm_report(audit: AuditLog, key_id: str | None = None, since: float = 0.0) -> list[dict[str, Any]]:
    """Per A/B target and arm: requests, keys, tokens, cost, mean latency, ratings (issue 21, online A/B)."""
    where, args = "WHERE json_extract(r.route, '$.ab.arm') IS NOT NULL AND r.ts >= ?", list[Any]([since])
    if key_id is not None:
        where, args = where + " AND r.key_id = ?", [since, key_id]
    rows = audit.select(
        "SELECT json_extract(r.route, '$.ab.target') AS target, json_extract(r.route, '$.ab.arm') AS arm,"
        " json_extract(r.route, '$.ab.variant') AS variant, COUNT(*) AS requests, COUNT(DISTINCT r.key_id) AS keys,"
        " SUM(r.prompt_tokens) AS prompt_tokens, SUM(r.completion_tokens) AS completion_tokens,"
        " ROUND(SUM(r.cost), 8) AS cost, ROUND(AVG(r.latency_ms), 2) AS latency_ms,"
        " SUM(f.rating = 'up') AS up, SUM(f.rating = 'down') AS down"
        f" FROM requests r LEFT JOIN feedback f ON f.request_id = r.request_id {where}"
        " GROUP BY target, arm, variant ORDER BY target, arm",
        tuple(args),
    )
    for r in rows:
        r["up"], r["down"] = int(r["up"] or 0), int(r["down"] or 0)
        rated = r["up"] + r["down"]
        r["up_rate"] = round(r["up"] / rated, 4) if rated else None
    return rows


def budget_status(audit: AuditLog, s: Settings, key_id: str, now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    budget = cost.budget_of(key_id, s)
    start = cost.period_start(s, now)
    used = spent(audit, key_id, start)
    return {"key_id": key_id, "period": s.budget_period, "period_start": start, "resets_at": cost.period_end(s, now),
            "budget": budget, "spent": round(used, 8),
            "remaining": None if budget is None else round(max(0.0, budget - used), 8)}  # fmt: skip


def enforce_budget(audit: AuditLog, s: Settings, key_id: str) -> None:
    """429 when ``key_id`` has spent its budget for the period (no budget set: nothing to check)."""
    if cost.budget_of(key_id, s) is None:
        return
    b = budget_status(audit, s, key_id)
    if b["remaining"] is not None and b["remaining"] <= 0:
        resets = b["resets_at"]
        when = f"; it starts over in {max(0.0, resets - time.time()) / 3600:.1f} h" if resets else ""
        raise APIError(
            429,
            f"The budget of key {key_id!r} is spent: ${b['spent']:.4f} of ${b['budget']:.4f} this "
            f"{'period' if s.budget_period == 'total' else s.budget_period}{when}. Ask the operator to raise "
            "its budget (setting 'budgets'), or use a model with a lower price.",
            "insufficient_quota",
            code="budget_exceeded",
            retry_after=max(1.0, resets - time.time()) if resets else None,
        )


__all__ = ["arm_report", "budget_status", "enforce_budget", "report", "spent"]
