"""``genloom usage``: tokens and spend per API key over time, and each key's budget (issue 21)."""

from __future__ import annotations

import time

import typer

from genloom.cli._common import console, print_json
from genloom.errors import NotFound


def usage(
    by: str = typer.Option(
        "day", "--by", help="Group by day, month, model, or arm (online A/B with ratings)."
    ),
    days: int = typer.Option(31, "--days", help="The last N days."),
    key: str | None = typer.Option(None, "--key", help="Only this API key id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Requests, tokens and cost (USD by the price table, setting 'prices') per key, from the audit log."""
    from genloom.serve.audit import AuditLog
    from genloom.serve.usage import budget_status, report
    from genloom.settings import get_settings

    s = get_settings()
    path = s.home / "audit.db"
    if not path.is_file():
        raise NotFound(
            f"there is no audit log at {path}", hint="usage is recorded by `genloom serve`; set GENLOOM_HOME"
        )
    audit = AuditLog(path)
    try:
        rows = report(audit, s, key, by, time.time() - days * 86400)
        keys = sorted({r["key_id"] for r in rows if "key_id" in r} | ({key} if key else set()))
        budgets = [budget_status(audit, s, k) for k in keys]
    finally:
        audit.close()
    if as_json:
        print_json({"by": by, "days": days, "data": rows, "budgets": budgets})
        return
    if by == "arm":  # online A/B: one line per target and arm, with its ratings
        for r in rows:
            rate = "-" if r["up_rate"] is None else f"{r['up_rate']:.0%}"
            console.print(f"{r['target']:<20} {r['arm']} {r['variant']:<24} {r['requests']:>6} req {r['keys']:>4} keys "
                          f"{r['up']:>4} up {r['down']:>4} down ({rate})  {r['latency_ms']:.0f} ms  ${r['cost']:.6f}")  # fmt: skip
        return
    console.print(f"{'key':<16} {by:<12} {'requests':>8} {'prompt':>9} {'completion':>10} {'cost USD':>12}")
    for r in rows:
        console.print(f"{r['key_id']:<16} {r[by]!s:<12} {r['requests']:>8} {r['prompt_tokens']:>9} "
                      f"{r['completion_tokens']:>10} {r['cost']:>12.6f}")  # fmt: skip
    for b in budgets:
        if b["budget"] is not None:
            console.print(f"budget {b['key_id']}: ${b['spent']:.4f} of ${b['budget']:.4f} this {b['period']}, "
                          f"${b['remaining']:.4f} left")  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command("usage")(usage)
