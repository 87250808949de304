"""The LLM backend seam: one small Protocol, several siblings (fake, llama.cpp, later OpenAI-compatible).

A backend turns chat messages into a stream of text pieces. It does not validate, time or budget —
that is the engine's job (genloom.generate.engine) so every backend behaves the same to callers.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from genloom.types import Capabilities, Delta, Message, ModelInfo, SamplingParams

if TYPE_CHECKING:
    from genloom.structured.constraint import Constraint


@runtime_checkable
class LLMBackend(Protocol):
    capabilities: Capabilities

    def info(self) -> ModelInfo:
        """Identity, context length and where the weights come from. Must not load the model."""
        ...

    def tokenize(self, text: str) -> list[int]:
        """Token ids of ``text`` alone (no BOS, no chat template)."""
        ...

    def count_prompt_tokens(self, messages: Sequence[Message]) -> int:
        """Tokens the messages take once the chat template is applied (what the context window sees)."""
        ...

    def stream(
        self, messages: Sequence[Message], params: SamplingParams, *, constraint: Constraint | None = None
    ) -> Iterator[Delta]:
        """Yield pieces as they are produced; the last Delta carries finish_reason and usage.

        Closing the iterator early (``.close()``, or breaking out of a for loop) must stop generation.
        ``constraint``: a steerable backend (``capabilities.logits``) must force the output to satisfy it; a
        black-box one passes it on (an OpenAI ``response_format``; for kind ``tools`` the ``tools`` fields)
        -- the engine validates either way. With kind ``tools`` the reply's calls come as
        ``Delta.tool_calls`` pieces and the last Delta's finish_reason is ``tool_calls``. Steerable backends
        also take ``hooks`` (per-token logits rules, genloom.backends.llm.llamacpp.LogitsHook).
        """
        ...


def apply_stops(pieces: Iterator[str], stops: Sequence[str]) -> Generator[tuple[str, bool], None, None]:
    """Cut a stream of text at the first stop sequence.

    Yields ``(text, stopped)``. Text that could be the start of a stop sequence is held back until it is
    known not to be one, so no part of a stop sequence is ever emitted. ``stopped`` is True on the last
    piece when a stop sequence ended the stream.
    """
    if not stops:
        for p in pieces:
            yield p, False
        return
    buf = ""
    for p in pieces:
        if not p:  # an empty piece carries something else (tool-call pieces): pass it on at once
            yield "", False
            continue
        buf += p
        cut = min((i for i in (buf.find(s) for s in stops) if i >= 0), default=-1)
        if cut >= 0:
            yield buf[:cut], True
            return
        # hold back the longest tail of buf that is the beginning of some stop sequence
        keep = 0
        for s in stops:
            for k in range(min(len(s) - 1, len(buf)), keep, -1):
                if buf.endswith(s[:k]):
                    keep = k
                    break
        if len(buf) > keep:
            out, buf = buf[: len(buf) - keep], buf[len(buf) - keep :]
            yield out, False
    if buf:
        yield buf, False
