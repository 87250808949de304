"""Token log-probabilities as a LogitsHook (OpenAI's ``logprobs`` / ``top_logprobs``).

The hook runs FIRST in the hook list, so it reads the model's raw logits before any constraint masks or bias
changes them: what it reports is the model's own distribution (temperature 1, no penalties, no masks), the
same for every sampling setting. For each sampled token it records ``log_softmax(logits)[token]`` and the ``top``
best alternatives. A token forced by a constraint (no sampling step: the grammar knew what must come) is
reported with log-prob 0.0 and no alternatives -- it was certain given the constraint. End-of-generation tokens
are not reported (they are not part of the text or of ``completion_tokens``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from genloom.backends.llm.llamacpp.loop import LogitsHook
from genloom.backends.llm.llamacpp.model import Runtime
from genloom.types import TokenLogprob


def log_softmax(logits: np.ndarray) -> np.ndarray:
    x = logits.astype(np.float64)  # a copy: the loop's logits are never changed here
    finite = np.isfinite(x)
    m = x[finite].max()
    return x - (m + np.log(np.exp(x[finite] - m).sum()))


class LogprobHook(LogitsHook):
    """Records each produced token's log-prob; :meth:`take` hands over those recorded since the last call."""

    def __init__(self, rt: Runtime, top: int) -> None:
        self.rt, self.top = rt, top
        self._items: list[TokenLogprob] = []
        self._step: np.ndarray | None = None  # this step's log-softmax, set by process(), used by accept()

    def _text(self, token: int) -> str:
        return self.rt.token_bytes(token).decode("utf-8", errors="replace")

    def process(self, logits: np.ndarray) -> None:
        self._step = log_softmax(logits)

    def accept(self, tokens: Sequence[int]) -> None:
        step, self._step = self._step, None
        if step is None:  # forced by a constraint
            self._items += [TokenLogprob(self._text(t), 0.0) for t in tokens if not self.rt.is_eog(t)]
            return
        (token,) = tokens
        if self.rt.is_eog(token):
            return
        top: list[tuple[str, float]] = []
        if self.top:
            best = np.argpartition(-step, self.top - 1)[: self.top]
            best = best[np.argsort(-step[best], kind="stable")]
            top = [(self._text(int(t)), float(step[t])) for t in best]
        self._items.append(TokenLogprob(self._text(token), float(step[token]), top))

    def take(self) -> list[TokenLogprob]:
        items, self._items = self._items, []
        return items
