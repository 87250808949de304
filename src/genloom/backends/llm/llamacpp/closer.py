"""Steer a looping or out-of-budget constrained output to close its value, instead of running out of tokens.

A small model under a JSON grammar can repeat itself inside an unbounded string or array until max_tokens ends
it mid-value (then the caller gets OutputIncomplete). This hook watches the generated tokens; when the last
tokens are one short pattern repeated, or the budget is nearly spent, it keeps only the allowed tokens that
close something (a token containing ``"``, ``]`` or ``}``), whenever the grammar allows any. The grammar still
decides what is valid: this hook only ever narrows the allowed set, never widens it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from genloom.backends.llm.llamacpp.loop import LogitsHook
from genloom.backends.llm.llamacpp.model import Runtime

MAX_PERIOD = 12  # the longest repeated pattern (tokens) looked for
REPEATS = 3  # a pattern seen this many times in a row is a loop
MARGIN = 24  # tokens before the end of the budget at which the value is closed anyway
_NEG_INF = np.float32(-np.inf)
_closers: dict[int, np.ndarray] = {}


def closing_tokens(rt: Runtime) -> np.ndarray:
    """Bool (n_vocab,): the tokens whose bytes contain a closing quote, bracket or brace (built once)."""
    mask = _closers.get(id(rt))
    if mask is None:
        mask = np.fromiter(
            (any(c in rt.token_bytes(t) for c in b'"]}') for t in range(rt.n_vocab)), bool, rt.n_vocab
        )
        _closers[id(rt)] = mask
    return mask


class CloseOnLoop(LogitsHook):
    def __init__(self, rt: Runtime, room: int) -> None:
        self.closers = closing_tokens(rt)
        self.room = room
        self.tokens: list[int] = []
        self.closing = False
        self.triggered: str | None = None  # why steering started: "loop" | "budget"

    def accept(self, tokens: Sequence[int]) -> None:
        self.tokens.extend(tokens)
        if self.closing:
            return
        if self.room - len(self.tokens) <= MARGIN:
            self.closing, self.triggered = True, "budget"
        elif _looping(self.tokens):
            self.closing, self.triggered = True, "loop"

    def process(self, logits: np.ndarray) -> None:
        if not self.closing:
            return
        keep = self.closers & np.isfinite(logits)
        if keep.any():
            logits[~keep] = _NEG_INF


def _looping(tokens: list[int]) -> bool:
    n = len(tokens)
    for p in range(1, MAX_PERIOD + 1):
        if n < p * REPEATS:
            break
        tail = tokens[n - p :]
        if all(tokens[n - (k + 1) * p : n - k * p] == tail for k in range(1, REPEATS)):
            return True
    return False
