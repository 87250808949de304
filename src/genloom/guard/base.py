"""The guard seam: one small Protocol every guard implements, and the typed value it returns.

A guard looks at one piece of text and says where in it something is wrong. *Where* the text sits in the life of a
request decides what is checked and, through the policy (settings), what the outcome does:

    document     a document's text at ingest (before it is split and stored)
    input        what a user sent (a question, chat messages, a prompt)
    evidence     a retrieved passage about to be shown to the model or quoted
    output       what the model produced (each verified sentence, or the streamed text)
    tool_call    the arguments of a tool call the model made
    tool_result  what a tool returned, about to be shown to the model

A guard returns ``None`` when it found nothing, else a :class:`Finding` with the action it proposes (``redact``
with the spans to replace, or ``block`` with a reason and a category). The policy may turn a proposal into a
weaker or stronger action; guards themselves never raise for a finding.

    class NoSecrets:
        name = "no_secrets"
        def check(self, text, where):
            i = text.find("hunter2")
            if i < 0:
                return None
            return Finding(self.name, where, "redact", "secret", "a password", (Span(i, i + 7, "secret"),))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, get_args, runtime_checkable

Where = Literal["document", "input", "evidence", "output", "tool_call", "tool_result"]
WHERES: tuple[str, ...] = get_args(Where)
Action = Literal["allow", "redact", "block"]
ACTIONS: tuple[str, ...] = get_args(Action)


@dataclass(frozen=True, slots=True)
class Span:
    """Characters ``text[start:end]`` that a guard objects to; ``replacement`` is what redaction puts there
    (default ``[CATEGORY]``, e.g. ``[EMAIL]``)."""

    start: int
    end: int
    category: str
    reason: str = ""
    replacement: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end:
            raise ValueError(f"bad span {self.start}..{self.end}")

    @property
    def placeholder(self) -> str:
        return self.replacement if self.replacement is not None else f"[{self.category.upper()}]"


@dataclass(frozen=True, slots=True)
class Finding:
    """What one guard found in one text: the action it proposes, why, and where (spans; empty = the whole)."""

    guard: str
    where: str
    action: Action
    category: str
    reason: str
    spans: tuple[Span, ...] = field(default=())
    score: float | None = None  # the detector's confidence in [0, 1] where it has one

    def __post_init__(self) -> None:
        if self.where not in WHERES:
            raise ValueError(f"where must be one of {WHERES}, not {self.where!r}")
        if self.action not in ACTIONS:
            raise ValueError(f"action must be one of {ACTIONS}, not {self.action!r}")

    def to_dict(self) -> dict[str, object]:
        return {
            "guard": self.guard,
            "where": self.where,
            "action": self.action,
            "category": self.category,
            "reason": self.reason,
            "score": self.score,
            "spans": [
                {"start": s.start, "end": s.end, "category": s.category, "reason": s.reason} for s in self.spans
            ],
        }


@runtime_checkable
class Guard(Protocol):
    """A guard: a name (used in settings, metrics and audit records) and one check."""

    name: str

    def check(self, text: str, where: Where) -> Finding | None: ...


def redact(text: str, spans: tuple[Span, ...] | list[Span]) -> str:
    """``text`` with every span replaced by its placeholder; overlapping spans are merged (the first's
    placeholder is kept)."""
    out: list[str] = []
    pos = 0
    for s in sorted(spans, key=lambda s: (s.start, -s.end)):
        if s.end <= pos:  # inside a span already replaced
            continue
        out.append(text[pos : max(pos, s.start)])
        if s.start >= pos:
            out.append(s.placeholder)
        pos = max(pos, s.end)
    out.append(text[pos:])
    return "".join(out)
