"""Semantic similarity of an answer to its reference: cosine of the knowledge base's own embedder."""

from __future__ import annotations

from typing import Any

from genloom.eval.metrics.text import strip_citations


def similarity(embedder: Any, prediction: str, reference: str) -> float:
    """Cosine in [0, 1] (negative cosines clip to 0); an empty answer scores 0."""
    prediction = strip_citations(prediction)
    if not prediction or not reference.strip():
        return 0.0
    a, b = embedder.embed_documents([prediction, reference])
    return float(max(0.0, min(1.0, float(a @ b))))
