"""Make a conversation fit the context window: drop the oldest turns, or cut a too-long message.

The system message and the newest message are always kept. Counting goes through the backend's
``count_prompt_tokens`` so the chat template's own tokens are included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from genloom.backends.llm.base import LLMBackend
from genloom.errors import ContextOverflow
from genloom.types import Message


@dataclass(slots=True)
class Fitted:
    messages: list[Message]
    prompt_tokens: int
    dropped_turns: int = 0  # whole messages removed from the front of the history
    truncated_chars: int = 0  # characters cut from the front of the newest message


def fit(
    backend: LLMBackend,
    messages: Sequence[Message],
    limit: int,
    reserve: int,
    *,
    drop_history: bool = False,
    truncate: bool = False,
) -> Fitted:
    """Return messages whose prompt leaves ``reserve`` tokens free in a window of ``limit`` tokens.

    ``drop_history`` removes the oldest non-system messages first (chat); ``truncate`` then cuts the
    beginning of the newest message. Without either, a prompt that does not fit raises ContextOverflow.
    """
    msgs = list(messages)
    budget = limit - reserve
    n = backend.count_prompt_tokens(msgs)
    dropped = 0
    if drop_history:
        while n > budget and _droppable(msgs):
            i = _first_droppable(msgs)
            del msgs[i]
            # keep user/assistant pairs together: a reply without its question confuses the model
            if i < len(msgs) - 1 and msgs[i].role == "assistant":
                del msgs[i]
                dropped += 1
            dropped += 1
            n = backend.count_prompt_tokens(msgs)
    cut = 0
    if n > budget and truncate:
        msgs, cut = _truncate_last(backend, msgs, budget)
        n = backend.count_prompt_tokens(msgs)
    if n > budget:
        raise ContextOverflow(prompt_tokens=n, limit=limit, reserved=min(reserve, limit))
    return Fitted(msgs, n, dropped, cut)


def _first_droppable(msgs: list[Message]) -> int:
    return next(i for i, m in enumerate(msgs) if m.role != "system")


def _droppable(msgs: list[Message]) -> bool:
    return sum(1 for m in msgs if m.role != "system") > 1


def _truncate_last(backend: LLMBackend, msgs: list[Message], budget: int) -> tuple[list[Message], int]:
    """Cut the start of the newest message (keeping its end, where the question usually is)."""
    last = msgs[-1]
    text = last.content
    lo, hi = 0, len(text)  # find the smallest cut so the prompt fits
    while lo < hi:
        mid = (lo + hi) // 2
        trial = [*msgs[:-1], Message(last.role, text[mid:])]
        if backend.count_prompt_tokens(trial) <= budget:
            hi = mid
        else:
            lo = mid + 1
    return [*msgs[:-1], Message(last.role, text[lo:])], lo
