"""Moderation: precision/recall per category of genloom's rule-based moderation guard at the thresholds in
settings, and its false-positive rate on benign texts (security, medical, news, fiction, code), against a named
baseline: ``alt-profanity-check`` (a bundled SVM giving one offensive-language score, flag at >= 0.5), scored
on "harmful or not" only since it has no categories.

    .venv/bin/python bench/guard_moderation.py

Sets written for this benchmark: bench/data/moderation_labelled.jsonl (101 texts; the rules were tuned on it,
so its numbers are an upper bound) and bench/data/moderation_heldout.jsonl (30 texts written before that tuning
and not tuned on). A text's label is its category, or none (benign).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from genloom.guard.moderation import CATEGORIES, make_moderation_guard
from genloom.settings import Settings

DATA = Path(__file__).parent / "data"


def load(name: str) -> list[tuple[str, str | None]]:
    rows = [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines()]
    return [(r["text"], (r["labels"] or [None])[0]) for r in rows]


def report(name: str, data: list[tuple[str, str | None]], pred: list[str | None], per_category: bool) -> None:
    harmful = [g is not None for _, g in data]
    flagged = [p is not None for p in pred]
    tp = sum(h and f for h, f in zip(harmful, flagged, strict=True))
    fp = sum(f and not h for h, f in zip(harmful, flagged, strict=True))
    n_h, n_b = sum(harmful), len(data) - sum(harmful)
    print(f"  {name:<22} harmful-or-not: precision {tp / max(1, tp + fp):.3f}, recall {tp / max(1, n_h):.3f}, "
          f"benign false positives {fp}/{n_b} ({fp / max(1, n_b):.1%})")  # fmt: skip
    if not per_category:
        return
    for c in CATEGORIES:
        ctp = sum(g == c and p == c for (_, g), p in zip(data, pred, strict=True))
        cfp = sum(p == c and g != c for (_, g), p in zip(data, pred, strict=True))
        n = sum(g == c for _, g in data)
        print(f"    {c:<12} n={n:>2}  precision {ctp / max(1, ctp + cfp):.3f}  recall {ctp / max(1, n):.3f}")


def main() -> None:
    guard = make_moderation_guard(Settings.load())
    try:
        from profanity_check import predict_prob
    except ImportError:
        predict_prob = None
    print(f"thresholds {guard.thresholds}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for name in ("moderation_labelled.jsonl", "moderation_heldout.jsonl"):
        data = load(name)
        print(f"\n{name}: {len(data)} texts, {sum(g is not None for _, g in data)} harmful")
        t0 = time.perf_counter()
        found = [guard.check(t, "input") for t, _ in data]
        ms = (time.perf_counter() - t0) * 1000 / len(data)
        report(f"rules ({ms:.3f} ms/text)", data, [f.category if f else None for f in found], True)
        if predict_prob is None:
            print("  alt-profanity-check: not installed (pip install alt-profanity-check==1.9.1)")
            continue
        t0 = time.perf_counter()
        probs = predict_prob([t for t, _ in data])
        ms = (time.perf_counter() - t0) * 1000 / len(data)
        report(
            f"profanity-check ({ms:.3f} ms/text)",
            data,
            ["harmful" if p >= 0.5 else None for p in probs],
            False,
        )


if __name__ == "__main__":
    main()
