"""The guards of one grounded answer (genloom.rag.AnswerStream): the question, each evidence passage and each
verified sentence, with every finding kept for ``Answer.guard`` (``--json``, the API, the audit record).

    g = AnswerGuards(settings)
    g.question(q)                    # GuardViolation when the input guards block it
    Evidence(hits, embedder, screen=g.evidence)
    text = g.sentence(claim_text)    # the sentence as it may be shown (links removed ...), None = withheld
"""

from __future__ import annotations

from typing import Any

from genloom.guard.base import Finding
from genloom.guard.runner import GuardResult, policy
from genloom.settings import Settings


class AnswerGuards:
    def __init__(self, settings: Settings) -> None:
        self.policy = policy(settings)
        self.findings: list[Finding] = []

    def _run(self, where: str, text: str) -> GuardResult:
        r = self.policy.run(where, text)
        self.findings += r.findings
        return r

    def question(self, text: str) -> None:
        self._run("input", text).raise_if_blocked()

    def evidence(self, text: str) -> GuardResult:
        return self._run("evidence", text)

    def sentence(self, text: str) -> str | None:
        r = self._run("output", text)
        if r.blocked:
            return None
        out = " ".join(r.text.split())
        return out or None

    def to_list(self) -> list[dict[str, Any]]:
        return [f.to_dict() for f in self.findings]


__all__ = ["AnswerGuards"]
