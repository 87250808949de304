"""Steer a looping or out-of-budget constrained output to close its value, instead of running out of tokens.

A small model under a JSON grammar can repeat itself inside an unbounded string or array until max_tokens ends
it mid-value (then the caller gets OutputIncomplete). This hook watches the generated tokens; when the last
tokens are one short pattern repeated, or the budget is nearly spent, it narrows the allowed tokens: the
tokens of the repeating pattern go (when anything else is allowed), then it keeps the tokens that close
something, a ``"`` first, else a ``]`` or ``}``, whenever the grammar allows any. The grammar still decides what
is valid: this hook only ever narrows the allowed set, never widens it.
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
_tiers: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def closing_tokens(rt: Runtime) -> tuple[np.ndarray, np.ndarray]:
    """Two bool masks (n_vocab,), built once per model: tokens with a ``"`` (they close a string), and tokens
    with a ``]`` or ``}`` (they close an array or object)."""
    tiers = _tiers.get(id(rt))
    if tiers is None:
        pieces = [rt.token_bytes(t) for t in range(rt.n_vocab)]
        quotes = np.fromiter((b'"' in p for p in pieces), bool, rt.n_vocab)
        brackets = np.fromiter((b"]" in p or b"}" in p for p in pieces), bool, rt.n_vocab)
        tiers = _tiers[id(rt)] = (quotes, brackets)
    return tiers


class CloseOnLoop(LogitsHook):
    def __init__(self, rt: Runtime, room: int, *, only_after: bytes = b"") -> None:
        """``only_after``: act only on output that starts with these bytes (tool calls: not on a text answer)."""
        self.tiers = closing_tokens(rt)
        self.only_after = only_after
        self._head = b""
        self.room = room
        self.tokens: list[int] = []
        self.pieces = rt.token_bytes
        self.in_string = False  # inside a JSON string (unescaped quotes so far are odd)
        self._escaped = False
        self.loop: list[int] = []  # the tokens of the repeating pattern, once one is seen
        self.closing = False
        self.triggered: str | None = None  # why steering started: "loop" | "budget"

    def accept(self, tokens: Sequence[int]) -> None:
        if len(self._head) < len(self.only_after):
            self._head += b"".join(self.pieces(t) for t in tokens)
        self.tokens.extend(tokens)
        for t in tokens:
            for ch in self.pieces(t):
                if self._escaped:
                    self._escaped = False
                elif ch == 0x5C and self.in_string:  # backslash
                    self._escaped = True
                elif ch == 0x22:  # quote
                    self.in_string = not self.in_string
        pattern = _loop(self.tokens)
        if pattern:
            self.loop = pattern
        if not self.closing and (pattern or self.room - len(self.tokens) <= MARGIN):
            self.closing, self.triggered = True, "loop" if pattern else "budget"

    def process(self, logits: np.ndarray) -> None:
        if not self.closing or not self._head.startswith(self.only_after):
            return
        allowed = np.isfinite(logits)
        if self.loop:  # never continue the loop when anything else is allowed
            other = allowed.copy()
            other[self.loop] = False
            if other.any():
                allowed = other
        # then close: a string first, else (outside strings, where brackets are only text) an array or object
        for tier in self.tiers[:1] if self.in_string else self.tiers:
            keep = allowed & tier
            if keep.any():
                allowed = keep
                break
        logits[~allowed] = _NEG_INF


def _loop(tokens: list[int]) -> list[int]:
    """The repeating pattern at the end of ``tokens`` (REPEATS times in a row), else []."""
    n = len(tokens)
    for p in range(1, MAX_PERIOD + 1):
        if n < p * REPEATS:
            break
        tail = tokens[n - p :]
        if all(tokens[n - (k + 1) * p : n - k * p] == tail for k in range(1, REPEATS)):
            return tail
    return []
