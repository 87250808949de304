"""What a grounded answer returns: the text, its citations to exact spans, the checked claims, or a refusal."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from genloom.types import Usage

AnswerMode = Literal["generated", "extractive", "refused"]


@dataclass(slots=True)
class Citation:
    n: int  # the [n] marker in the answer
    doc_id: str
    source: str
    chunk_id: str
    start: int  # character offsets of the quoted span in the document's extracted text
    end: int
    quote: str
    heading_path: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Claim:
    text: str  # the sentence as the answer states it (markers removed)
    support: float  # 0..1, best support found in the evidence
    citation: int | None  # the [n] that supports it (may differ from what the model wrote: we re-attribute)
    supported: bool  # kept in the answer; unsupported claims are dropped and listed here


@dataclass(slots=True)
class Answer:
    question: str
    answer: str
    refused: bool
    refusal_reason: str | None
    mode: AnswerMode
    citations: list[Citation]
    claims: list[Claim]
    kb: str
    query: str  # what was searched (the question rewritten with the chat history, if any)
    model: str | None
    template: str | None
    relevance: float  # how well the best evidence matches the question (the refusal gate's input)
    usage: Usage = field(default_factory=Usage)
    timings: dict[str, float] = field(default_factory=dict)
    guard: list[dict[str, Any]] = field(
        default_factory=list
    )  # what the guards found (genloom.guard, issue 14)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["usage"] = self.usage.to_dict()
        return d
