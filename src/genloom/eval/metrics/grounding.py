"""Faithfulness and citation quality, read off the grounded answer -- never re-verified here.

faithfulness       share of the answer's claims that genloom.answer.verify found supported by the evidence
                   (generated sentences it dropped count against it; extractive quotes support themselves)
citation_precision share of the answer's citations whose source is a gold source
citation_recall    share of the distinct gold sources that the answer cites
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from genloom.eval.metrics.retrieval import gold_of


def faithfulness(claims: Sequence[Any]) -> float | None:
    """None when the answer made no claims (refused, or nothing to check)."""
    if not claims:
        return None
    return sum(1 for c in claims if c.supported) / len(claims)


def citation_precision(cited_sources: Sequence[str], gold: Sequence[str]) -> float | None:
    if not cited_sources:
        return None
    return sum(1 for s in cited_sources if gold_of(s, gold)) / len(cited_sources)


def citation_recall(cited_sources: Sequence[str], gold: Sequence[str]) -> float:
    if not gold:
        return 0.0
    found = {gold_of(s, gold) for s in cited_sources} - {None}
    return len(found) / len(set(gold))
