"""A grounded answer through a ``cascade:SMALL|BIG`` model: the small model answers first and its answer
stands when its claims are supported by the evidence (genloom's own verifier, genloom.answer.verify), else
the big model answers the same question from the same knowledge base.

Accepted: a refusal of the relevance gate (no model was asked: the big one would see the same evidence), or a
generated answer whose share of supported claims is at least the setting ``cascade_min_supported``.
Escalated: an answer that fell back to quoting (too few supported claims) or below that share.
``route`` says which model answered and why, as the chat cascade does (genloom.route.cascade).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from genloom.route.cascade import parse_spec, threshold
from genloom.settings import Settings, get_settings


def judge(answer: Any, min_supported: float) -> tuple[bool, str, float | None]:
    if answer.refused and not answer.claims:
        return True, "refused by the relevance gate (no model involved)", None
    generated = [c for c in answer.claims if c.citation is not None or not c.supported]
    if answer.mode != "generated":
        share = sum(c.supported for c in generated) / len(generated) if generated else 0.0
        return (
            False,
            f"the small model's claims were not supported (the answer fell back to {answer.mode})",
            share,
        )
    share = sum(c.supported for c in answer.claims) / len(answer.claims) if answer.claims else 0.0
    if share >= min_supported:
        return True, f"{share:.0%} of the small model's claims are supported (>= {min_supported:.0%})", share
    return False, f"{share:.0%} of the small model's claims are supported (< {min_supported:.0%})", share


class CascadeAnswerStream:
    """Iterate for the answer's text; ``answer`` and ``route`` are set when the iteration ends (``route`` is
    set before the first piece is yielded)."""

    def __init__(
        self, question: str, *, model: str, settings: Settings | None = None, **options: Any
    ) -> None:
        from genloom.rag import AnswerStream

        self.settings = settings or get_settings()
        self.specs = parse_spec(model.removeprefix("cascade:"))
        self.min_supported = threshold(self.settings, "cascade_min_supported")
        self._make = lambda spec: AnswerStream(question, model=spec, settings=self.settings, **options)
        self.small = self._make(self.specs[0])  # bad options fail here, before anything runs
        self.answer: Any = None
        self.route: dict[str, Any] | None = None

    def __iter__(self) -> Iterator[str]:
        pieces = list(self.small)
        a = self.small.answer
        assert a is not None
        ok, reason, share = judge(a, self.min_supported)
        tried = {"model": self.specs[0], "accepted": ok, "signal": None if share is None else round(share, 4),
                 "reason": reason, "prompt_tokens": a.usage.prompt_tokens,
                 "completion_tokens": a.usage.completion_tokens}  # fmt: skip
        if ok:
            self.route, self.answer = {"model": self.specs[0], "reason": reason, "cascade": [tried]}, a
            yield from pieces
            return
        self.route = {"model": self.specs[1], "reason": f"escalated: {reason}", "cascade": [tried]}
        big = self._make(self.specs[1])
        yield from big
        self.answer = big.answer


def answer_stream(question: str, **options: Any) -> Any:
    """An AnswerStream, or a CascadeAnswerStream when ``model`` is a ``cascade:`` spec."""
    model = options.get("model")
    if isinstance(model, str) and model.startswith("cascade:"):
        return CascadeAnswerStream(question, **options)
    from genloom.rag import AnswerStream

    return AnswerStream(question, **options)


__all__ = ["CascadeAnswerStream", "answer_stream", "judge"]
