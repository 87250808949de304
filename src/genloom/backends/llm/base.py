"""The LLM backend seam: one small Protocol, several siblings (fake, llama.cpp, later OpenAI-compatible).

A backend turns chat messages into a stream of text pieces. It does not validate, time or budget —
that is the engine's job (genloom.generate.engine) so every backend behaves the same to callers.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
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
        """Yield text pieces as they are produced; the last Delta carries finish_reason and usage.

        Closing the iterator early (``.close()``, or breaking out of a for loop) must stop generation.
        ``constraint`` (optional; backends written before it may omit the keyword): a steerable backend
        (``capabilities.logits``) must force the output to satisfy it; a black-box one may pass it on
        (e.g. as an OpenAI ``response_format``) or ignore it -- the engine validates either way.
        """
        ...


def apply_stops(pieces: Iterator[str], stops: Sequence[str]) -> Iterator[tuple[str, bool]]:
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
