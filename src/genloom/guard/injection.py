"""The ``injection`` guard: prompt injection in documents, evidence and tool results (indirect), and direct
jailbreaks / injections in user input: the rules of genloom.guard.rules beside the trained classifier of
genloom.guard.classifier, each sentence flagged when either says so.

Where it runs decides what it proposes: on ``input`` and ``tool_call`` it blocks (the classifier scores the
whole text against ``guard_jailbreak_threshold``); on ``document``, ``evidence``, ``tool_result`` and ``output``
it redacts the offending sentences (spans replaced by nothing), so the rest of the text stays usable
(classifier threshold ``guard_injection_threshold``). ``guard_classifier`` names the places where the
classifier is asked at all (default: input and tool calls; elsewhere the rules alone decide).
"""

from __future__ import annotations

from genloom.answer.text import sentences
from genloom.errors import UserError
from genloom.guard.base import WHERES, Finding, Span, Where
from genloom.guard.classifier import InjectionClassifier
from genloom.guard.rules import find
from genloom.settings import Settings

_BLOCKS_AT = ("input", "tool_call")
_MIN_WORDS = 5  # the classifier is not asked about texts shorter than this (it is unreliable there)


class InjectionGuard:
    name = "injection"

    def __init__(self, settings: Settings, rules: bool = True, classifier: list[str] | None = None) -> None:
        self.rules = rules
        self.clf_at = set(settings.names("guard_classifier") if classifier is None else classifier)
        bad = self.clf_at - set(WHERES)
        if bad:
            raise UserError(f"guard_classifier: unknown place(s) {', '.join(sorted(bad))}",
                            hint=f"use a comma-separated list of {', '.join(WHERES)} ('' = rules only)")  # fmt: skip
        self.clf = InjectionClassifier.load() if self.clf_at else None
        self.threshold = settings.guard_injection_threshold / 100
        self.jailbreak = settings.guard_jailbreak_threshold / 100

    def spans(self, text: str, threshold: float, classifier: bool = True) -> list[Span]:
        """The injection spans of ``text``: rule hits, then sentences the classifier scores >= threshold."""
        out = [Span(h.start, h.end, h.category, h.reason, "") for h in find(text)] if self.rules else []
        if self.clf is not None and classifier:
            todo = [s for s in sentences(text) if len(s.text.split()) >= _MIN_WORDS
                    and not any(x.start <= s.start and s.end <= x.end for x in out)]  # fmt: skip
            for s, p in zip(todo, self.clf.score([s.text for s in todo]), strict=True):
                if p >= threshold:
                    out.append(Span(s.start, s.end, "classifier", f"injection classifier score {p:.2f}", ""))
        return sorted(out, key=lambda s: (s.start, s.end))

    def check(self, text: str, where: Where) -> Finding | None:
        if where in _BLOCKS_AT:
            # a user's own link is not exfiltration (that is what the output guards are for)
            hits = [h for h in find(text) if h.category != "exfiltration"] if self.rules else []
            spans = [Span(h.start, h.end, h.category, h.reason) for h in hits]
            asked = self.clf is not None and where in self.clf_at and len(text.split()) >= _MIN_WORDS
            score = float(self.clf.score([text])[0]) if asked and self.clf is not None else 0.0
            if not spans and score < self.jailbreak:
                return None
            reason = spans[0].reason if spans else f"injection classifier score {score:.2f}"
            category = spans[0].category if spans else "classifier"
            return Finding(self.name, where, "block", category, reason, tuple(spans), round(score, 4))
        found = self.spans(text, self.threshold, where in self.clf_at)
        if not found:
            return None
        kinds = sorted({s.category for s in found})
        reason = f"{len(found)} injection-like span(s): " + "; ".join(dict.fromkeys(s.reason for s in found))
        return Finding(self.name, where, "redact", kinds[0] if len(kinds) == 1 else "injection", reason,
                       tuple(found))  # fmt: skip


__all__ = ["InjectionGuard"]
