"""The relevance gate: refuse before any generation when the evidence does not answer the question.

Three checks, cheapest first, each with its own reason (issue 18):
  relevance  the best statement's mix of shared words and meaning (Evidence.relevance) < Thresholds.relevance
  semantic   the meaning-only similarity of the searched query to any statement < the embedder's gate
  aspect     the query asks about something neither the evidence nor the knowledge base mentions (a foreign
             aspect, answer/aspects.py) and the evidence matches it only moderately (relevance below the
             embedder's ``aspect_relevance``): "the boiling point of mercury" against planet constants
The semantic and aspect checks judge the searched query, so a follow-up keeps the context it was searched
with; the relevance check judges the question as asked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from genloom.answer.aspects import Aspect, foreign_aspects
from genloom.answer.verify import Embeds, Evidence, Match, Thresholds

Reason = Literal["no_evidence", "relevance", "semantic", "aspect"]


@dataclass(frozen=True, slots=True)
class Verdict:
    top: Match | None  # the statement that best matches the question
    relevance: float
    refused: Reason | None
    aspect: Aspect | None = None  # the foreign aspect that refused it


def judge(
    question: str,
    query: str,
    evidence: Evidence,
    hits: Sequence[Any],
    embedder: Embeds,
    embedder_id: str,
    th: Thresholds,
    known: Callable[[str], bool],
) -> Verdict:
    """Whether to answer ``question`` (searched as ``query``) from ``evidence`` (built from ``hits``).

    ``known(word)`` says whether the knowledge base has the word anywhere the asker may read."""
    top = evidence.relevance(question) if hits else None
    rel = top.score if top else 0.0
    if top is None:
        return Verdict(None, 0.0, "no_evidence")
    if rel < th.relevance:
        return Verdict(top, rel, "relevance")
    if evidence.semantic(query) < th.semantic_for(embedder_id):
        return Verdict(top, rel, "semantic")
    floor, needs = th.aspect_for(embedder_id)
    if rel < needs:  # a confident match can carry an unfamiliar word; a moderate one has to cover it
        aspects = foreign_aspects(query, evidence, embedder, known)
        if aspects and aspects[0].score < floor:
            return Verdict(top, rel, "aspect", aspects[0])
    return Verdict(top, rel, None)
