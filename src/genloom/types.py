"""The plain data that flows through genloom.

Dataclasses with slots: they are created once per token on the streaming path, so they stay cheap.
Field names follow the OpenAI API where one exists (prompt_tokens, finish_reason, ...).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from genloom.errors import UserError

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "tool_calls", "cancelled"]


@dataclass(slots=True)
class ToolCall:
    """A call of a function the model asked for; OpenAI's ``{"id", "type": "function", "function": {...}}``."""

    id: str
    name: str
    arguments: str  # JSON text, as OpenAI sends it

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ToolCall:
        fn = d.get("function") or {}
        return cls(str(d.get("id") or ""), str(fn.get("name") or ""), str(fn.get("arguments") or ""))


@dataclass(slots=True)
class ToolCallDelta:
    """A piece of a streamed tool call, framed as OpenAI frames ``delta.tool_calls``: the first piece of call
    ``index`` carries its ``id`` and ``name``; later pieces carry fragments of ``arguments``."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""

    def to_dict(self) -> dict[str, Any]:
        fn: dict[str, Any] = {"arguments": self.arguments}
        if self.name is not None:
            fn["name"] = self.name
        d: dict[str, Any] = {"index": self.index, "function": fn}
        if self.id is not None:
            d.update(id=self.id, type="function")
        return d


@dataclass(slots=True)
class Message:
    role: Role
    content: str
    tool_calls: list[ToolCall] | None = None  # assistant turns that call tools
    tool_call_id: str | None = None  # tool turns: the call this result answers
    name: str | None = None  # tool turns: the function's name (optional)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            d["tool_calls"] = [c.to_dict() for c in self.tool_calls]
        if self.tool_call_id is not None:
            d["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            d["name"] = self.name
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Message:
        calls = d.get("tool_calls")
        return cls(
            d["role"],
            d.get("content") or "",
            [c if isinstance(c, ToolCall) else ToolCall.from_dict(c) for c in calls] if calls else None,
            d.get("tool_call_id"),
            d.get("name"),
        )


def as_messages(
    prompt: str | list[Message] | list[dict[str, Any]], system: str | None = None
) -> list[Message]:
    """Accept a bare prompt, Message objects or OpenAI-style dicts; return Messages."""
    if isinstance(prompt, str):
        msgs = [Message("user", prompt)]
    else:
        msgs = [m if isinstance(m, Message) else Message.from_dict(m) for m in prompt]
    if system is not None:
        msgs = [m for m in msgs if m.role != "system"]
        msgs.insert(0, Message("system", system))
    return msgs


@dataclass(slots=True)
class SamplingParams:
    """How to pick tokens. ``temperature=0`` is greedy; a fixed ``seed`` makes sampling repeatable."""

    max_tokens: int = 256
    temperature: float = 0.7
    top_p: float = 0.95
    top_k: int = 40
    min_p: float = 0.05
    repeat_penalty: float = 1.1
    seed: int | None = None
    stop: list[str] = field(default_factory=list)
    logprobs: int | None = None  # None: none reported; N (0-20): each token's log-prob and N alternatives

    def validate(self) -> SamplingParams:
        """Raise a UserError that says what to pass instead of the first bad value found."""
        checks: list[tuple[bool, str, str]] = [
            (self.max_tokens >= 1, "max_tokens must be at least 1", "pass --max-tokens 1 or more"),
            (
                math.isfinite(self.temperature) and self.temperature >= 0,
                f"temperature must be >= 0, got {self.temperature}",
                "use 0 for greedy decoding or a value such as 0.7",
            ),
            (
                0 < self.top_p <= 1,
                f"top_p must be in (0, 1], got {self.top_p}",
                "use a value such as 0.95; 1 disables nucleus sampling",
            ),
            (self.top_k >= 0, f"top_k must be >= 0, got {self.top_k}", "use 0 to disable top-k, or e.g. 40"),
            (
                0 <= self.min_p < 1,
                f"min_p must be in [0, 1), got {self.min_p}",
                "use 0 to disable min-p, or e.g. 0.05",
            ),
            (
                math.isfinite(self.repeat_penalty) and self.repeat_penalty > 0,
                f"repeat_penalty must be > 0, got {self.repeat_penalty}",
                "use 1.0 to disable it, or e.g. 1.1",
            ),
            (
                self.seed is None or 0 <= self.seed < 2**32,
                f"seed must be in [0, 2^32), got {self.seed}",
                "pass a non-negative integer seed",
            ),
            (all(self.stop), "stop sequences must not be empty strings", "remove the empty --stop"),
            (
                self.logprobs is None or 0 <= self.logprobs <= 20,
                f"logprobs must be in [0, 20], got {self.logprobs}",
                "ask for 0 (the chosen token only) up to 20 alternatives",
            ),
        ]
        for ok, message, hint in checks:
            if not ok:
                raise UserError(message, hint=hint)
        return self


@dataclass(slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


@dataclass(slots=True)
class Timings:
    """Wall-clock measurements of one generation, in seconds."""

    time_to_first_token: float | None = None
    total: float = 0.0
    tokens_per_second: float | None = None  # decode rate: tokens after the first / time after the first

    def to_dict(self) -> dict[str, float | None]:
        return asdict(self)


@dataclass(slots=True)
class TokenLogprob:
    """One generated token and its natural-log probability under the model's raw distribution (before
    temperature, penalties and masks), with the ``top`` most likely tokens at that step, best first.

    A token forced by a constraint (no choice was sampled) is reported with ``logprob`` 0.0 and ``top`` [].
    ``mean_logprob`` of a reply's list is a simple confidence signal."""

    token: str
    logprob: float
    top: list[tuple[str, float]] = field(default_factory=list)

    def to_openai(self) -> dict[str, Any]:
        """OpenAI's ``{"token", "logprob", "bytes", "top_logprobs"}`` item."""
        return {
            "token": self.token,
            "logprob": self.logprob,
            "bytes": list(self.token.encode("utf-8")),
            "top_logprobs": [
                {"token": t, "logprob": lp, "bytes": list(t.encode("utf-8"))} for t, lp in self.top
            ],
        }


def mean_logprob(items: list[TokenLogprob] | None) -> float | None:
    """The mean log-probability of the tokens (None when there are none)."""
    return sum(t.logprob for t in items) / len(items) if items else None


@dataclass(slots=True)
class Delta:
    """One piece of a stream: text and/or tool-call pieces. The last one has ``finish_reason`` and ``usage``."""

    text: str
    finish_reason: FinishReason | None = None
    usage: Usage | None = None
    tool_calls: list[ToolCallDelta] | None = None
    route: dict[str, Any] | None = None  # issue 21: which model answered and why (a cascade's first piece)
    logprobs: list[TokenLogprob] | None = None  # the tokens produced since the last Delta (when asked for)


@dataclass(slots=True)
class Completion:
    text: str
    model: str
    finish_reason: FinishReason
    usage: Usage
    timings: Timings
    seed: int | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)  # empty when the model answered in text
    route: dict[str, Any] | None = None  # issue 21: {"model", "reason", ...} when a cascade or router chose
    logprobs: list[TokenLogprob] | None = (
        None  # one per completion token, when SamplingParams.logprobs is set
    )

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "text": self.text,
            "model": self.model,
            "finish_reason": self.finish_reason,
            "seed": self.seed,
            "usage": self.usage.to_dict(),
            "timings": self.timings.to_dict(),
        }
        if self.tool_calls:
            d["tool_calls"] = [c.to_dict() for c in self.tool_calls]
        if self.route is not None:
            d["route"] = dict(self.route)
        return d


@dataclass(slots=True, frozen=True)
class Capabilities:
    """What a backend can do; callers branch on these, never on the backend's class."""

    streaming: bool = True
    seed: bool = True  # same seed + settings -> same text
    exact_tokens: bool = True  # tokenize() uses the model's own tokenizer
    logits: bool = False  # steerable token by token (constrained decoding through a logits hook)
    remote: bool = False
    tools: bool = True  # takes ``tools`` (steerable: forced by grammar; black box: passed on, then validated)
    logprobs: bool = False  # can score given tokens (``scorer()``: perplexity, detection)
    concurrency: int = 1  # generations this backend runs at once (the server admits that many per backend)


@dataclass(slots=True, frozen=True)
class ModelInfo:
    id: str  # the spec that selects it, e.g. "llamacpp:/path/model.gguf"
    backend: str  # "llamacpp", "fake", ...
    context_length: int
    source: str  # the file or URL the weights come from
    details: dict[str, Any] = field(default_factory=dict)


# --- knowledge base -------------------------------------------------------------------------------------

PUBLIC = "*"  # the principal that marks a document readable by everyone


@dataclass(slots=True)
class Document:
    """One ingested source. ``text`` is the full extracted text that chunk offsets point into."""

    doc_id: str
    source: str
    title: str
    content_hash: str
    text: str = ""
    principals: list[str] = field(default_factory=lambda: [PUBLIC])
    metadata: dict[str, Any] = field(default_factory=dict)
    n_chunks: int = 0
    updated_at: float = 0.0
    writers: list[str] = field(default_factory=list)  # security (issue 19): who may change it; [] = admins
    chars: int | None = (
        None  # the text's length when ``text`` was not loaded (document lists); None: len(text)
    )

    def to_dict(self, with_text: bool = False) -> dict[str, Any]:
        d = {
            "doc_id": self.doc_id,
            "source": self.source,
            "title": self.title,
            "content_hash": self.content_hash,
            "principals": list(self.principals),
            "metadata": dict(self.metadata),
            "n_chunks": self.n_chunks,
            "chars": len(self.text) if self.chars is None else self.chars,
            "updated_at": self.updated_at,
            "writers": list(self.writers),  # security (issue 19)
        }
        if with_text:
            d["text"] = self.text
        return d


@dataclass(slots=True)
class Chunk:
    """A contiguous span ``[start, end)`` of its document's extracted text."""

    chunk_id: str
    doc_id: str
    ordinal: int
    text: str
    start: int
    end: int
    heading_path: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Hit:
    """A retrieved chunk with its provenance; ``document.text[start:end] == text``."""

    chunk_id: str
    doc_id: str
    source: str
    title: str
    heading_path: list[str]
    start: int
    end: int
    score: float
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "chunk_id": self.chunk_id,
            "doc_id": self.doc_id,
            "source": self.source,
            "title": self.title,
            "heading_path": list(self.heading_path),
            "start": self.start,
            "end": self.end,
            "score": self.score,
            "text": self.text,
            "metadata": dict(self.metadata),
        }
