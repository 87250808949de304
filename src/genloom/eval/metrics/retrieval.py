"""Retrieval metrics over a ranked list of retrieved sources.

A retrieved source matches a gold source when they are equal, or when the gold is a path suffix of the
source on a path-separator boundary (``pkg-basics.en.html`` matches ``/data/faq/pkg-basics.en.html``).
Several chunks from the same document count once: ranks are over distinct gold documents found.
"""

from __future__ import annotations

from collections.abc import Sequence


def matches(source: str, gold: str) -> bool:
    s, g = source.replace("\\", "/"), gold.replace("\\", "/").lstrip("./")
    return s == g or s.endswith("/" + g)


def gold_of(source: str, gold: Sequence[str]) -> str | None:
    """The gold entry ``source`` matches, if any."""
    return next((g for g in gold if matches(source, g)), None)


def hit_at_k(ranked: Sequence[str], gold: Sequence[str]) -> float:
    """1 if any of the retrieved sources is gold."""
    return 1.0 if any(gold_of(s, gold) for s in ranked) else 0.0


def recall_at_k(ranked: Sequence[str], gold: Sequence[str]) -> float:
    """Share of the distinct gold sources that were retrieved."""
    if not gold:
        return 0.0
    found = {gold_of(s, gold) for s in ranked} - {None}
    return len(found) / len(set(gold))


def reciprocal_rank(ranked: Sequence[str], gold: Sequence[str]) -> float:
    """1 / rank of the first gold source (ranks start at 1); 0 when none was retrieved."""
    for i, s in enumerate(ranked, start=1):
        if gold_of(s, gold):
            return 1.0 / i
    return 0.0
