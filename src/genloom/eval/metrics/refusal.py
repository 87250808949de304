"""Refusal quality: did genloom refuse exactly the questions its documents cannot answer?

precision          refused & should_refuse / refused
recall             refused & should_refuse / should_refuse
false_refusal_rate refused & answerable    / answerable
Each is None when its denominator is zero (nothing to measure), never a made-up 0 or 1.
"""

from __future__ import annotations

from collections.abc import Sequence


def refusal_metrics(pairs: Sequence[tuple[bool, bool]]) -> dict[str, float | None]:
    """``pairs`` = (refused, should_refuse) per case."""
    refused = sum(1 for r, _ in pairs if r)
    should = sum(1 for _, s in pairs if s)
    answerable = len(pairs) - should
    tp = sum(1 for r, s in pairs if r and s)
    fp = sum(1 for r, s in pairs if r and not s)
    return {
        "refusal_precision": tp / refused if refused else None,
        "refusal_recall": tp / should if should else None,
        "false_refusal_rate": fp / answerable if answerable else None,
    }
