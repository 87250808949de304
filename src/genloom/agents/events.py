"""What an agent run yields, step by step; ``to_dict()`` is the JSON line ``genloom agent --json`` prints.

Every event has ``step`` (the model call it belongs to, from 1) and ``total_tokens`` (prompt + completion
tokens the run has used so far). The events a model call produced (a thought, its tool calls, or the answer)
carry that call's ``prompt_tokens``/``completion_tokens`` on the first of them (0 on the others), so summing
them over a run gives its usage.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal

from genloom.answer.result import Citation, Claim
from genloom.types import Usage

StopReason = Literal["answer", "step_budget", "token_budget", "model_error"]


class _Event:
    type: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **asdict(self)}  # type: ignore[call-overload]


@dataclass(slots=True)
class Thought(_Event):
    type: ClassVar[str] = "thought"
    step: int
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


@dataclass(slots=True)
class ToolCallEvent(_Event):
    type: ClassVar[str] = "tool_call"
    step: int
    id: str
    name: str
    arguments: str  # JSON text, as the model wrote it
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


@dataclass(slots=True)
class Observation(_Event):
    type: ClassVar[str] = "observation"
    step: int
    id: str  # the tool call it answers
    name: str
    content: str  # what the model reads
    ok: bool
    error: str | None = None  # arguments | exception | refused | unknown_tool
    truncated: bool = False
    total_tokens: int = 0


@dataclass(slots=True)
class AnswerEvent(_Event):
    type: ClassVar[str] = "answer"
    step: int
    text: str  # with [n] after each sentence the sources support
    citations: list[Citation] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


@dataclass(slots=True)
class ErrorEvent(_Event):
    type: ClassVar[str] = "error"
    step: int
    kind: StopReason
    message: str
    total_tokens: int = 0


Event = Thought | ToolCallEvent | Observation | AnswerEvent | ErrorEvent


@dataclass
class AgentResult:
    task: str
    answer: str | None  # None when the run stopped without one (see ``stopped`` and ``error``)
    stopped: StopReason
    error: str | None = None
    citations: list[Citation] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    steps: int = 0  # model calls
    usage: Usage = field(default_factory=Usage)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # every call and its result (the audit)
    tools: list[str] = field(default_factory=list)  # the allow-list of the run
    events: list[Event] = field(default_factory=list)

    def to_dict(self, with_events: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {
            "task": self.task,
            "answer": self.answer,
            "stopped": self.stopped,
            "error": self.error,
            "citations": [asdict(c) for c in self.citations],
            "claims": [asdict(c) for c in self.claims],
            "steps": self.steps,
            "usage": self.usage.to_dict(),
            "tool_calls": list(self.tool_calls),
            "tools": list(self.tools),
        }
        if with_events:
            d["events"] = [e.to_dict() for e in self.events]
        return d
