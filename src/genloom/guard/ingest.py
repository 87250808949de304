"""Guards at ingest: a document's text is screened once, before it is split and stored.

A document is never dropped silently. What the ``document`` guards flag is *blanked* (replaced by spaces of
the same length, so heading offsets stay right) and never reaches the index, the rest of the document stays
usable, and the file's result lists every flagged span with its reason (``flagged`` in ``genloom ingest
--json`` and the upload API). Text the HTML loader found hidden (genloom.guard.hidden) is never in the text;
it is flagged when the guards find an instruction in it, else only counted (``hidden``). When a guard's action
is ``block`` (e.g. ``guard_actions = "injection@document=block"``) the document is quarantined instead: not
indexed at all, reported with its reasons.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from genloom.guard.base import Span
from genloom.guard.runner import policy
from genloom.settings import Settings

_SNIPPET = 160


@dataclass(slots=True)
class Screened:
    text: str
    flagged: list[dict[str, Any]] = field(default_factory=list)
    quarantined: bool = False
    hidden: int = 0  # hidden HTML elements kept out of the text


def blank(text: str, spans: list[Span]) -> str:
    """``text`` with every span's characters replaced by spaces (line breaks kept): offsets do not move."""
    chars = list(text)
    for s in spans:
        for i in range(s.start, min(s.end, len(chars))):
            if chars[i] != "\n":
                chars[i] = " "
    return "".join(chars)


class DocumentScreen:
    """Screens documents with the policy of ``settings`` (one per ingest run)."""

    def __init__(self, settings: Settings) -> None:
        self.policy = policy(settings)
        names = ",".join(g.name for g in self.policy.guards("document"))
        rules = sorted(f"{g}@{w}={a}" for (g, w), a in self.policy.overrides.items() if w == "document")
        # part of a document's fingerprint: a changed policy re-screens documents on the next ingest
        self.fingerprint = hashlib.sha256(f"{names}|{rules}|{settings.guard_injection_threshold}|"
                                          f"{settings.guard_classifier}".encode()).hexdigest()[:12]  # fmt: skip

    def screen(self, text: str, hidden: list[dict[str, str]] | None = None) -> Screened:
        out = Screened(text, hidden=len(hidden or []))
        if not self.policy.guards("document"):
            return out
        findings = self.policy.findings("document", text)
        spans: list[Span] = []
        for f in findings:
            for s in f.spans or (Span(0, len(text), f.category, f.reason),):
                out.flagged.append({"guard": f.guard, "action": f.action, "category": s.category,
                                    "reason": s.reason or f.reason, "start": s.start, "end": s.end,
                                    "text": " ".join(text[s.start : s.end].split())[:_SNIPPET]})  # fmt: skip
                if f.action != "allow":
                    spans.append(s)
        for h in hidden or []:
            found = self.policy.findings("document", h["text"])
            if found:
                findings += found
                kinds = sorted({f.category for f in found})
                out.flagged.append({"guard": found[0].guard, "action": found[0].action, "category": "hidden",
                                    "reason": f"{h['reason']} with an instruction ({', '.join(kinds)})",
                                    "start": None, "end": None, "text": h["text"][:_SNIPPET]})  # fmt: skip
        out.quarantined = any(f.action == "block" for f in findings)
        if spans and not out.quarantined:
            out.text = blank(text, spans)  # every guard saw the whole original text: its spans index it
        return out


__all__ = ["DocumentScreen", "Screened", "blank"]
