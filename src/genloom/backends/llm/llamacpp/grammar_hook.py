"""Constrained decoding as a logits hook: an llguidance matcher masks every token its grammar does not allow.

Per step the matcher computes the bitmask of allowed tokens (~0.1-0.5 ms at a 49k vocab); when the grammar
forces the next bytes (the closing quote and the next key of an object, the fixed head of a tool call), those
tokens are returned by :meth:`forced` and fed in one batch without sampling ("fast-forward"). The grammar
(JSON Schema, regex, choice, tool calls) comes from genloom.structured; this module only applies it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from genloom.backends.llm.llamacpp.loop import LogitsHook
from genloom.backends.llm.llamacpp.model import Runtime
from genloom.errors import BackendError
from genloom.structured.constraint import Constraint
from genloom.structured.grammar import matcher

FAST_FORWARD = (
    True  # feed grammar-forced tokens in one batch without sampling (bench/structured.py toggles it)
)
_NEG_INF = np.float32(-np.inf)


class GrammarHook(LogitsHook):
    def __init__(self, rt: Runtime, constraint: Constraint) -> None:
        self.m = matcher(constraint, rt.lltokenizer())
        self.n_vocab = rt.n_vocab
        self.bitmask = np.full((rt.n_vocab + 31) // 32, -1, dtype=np.int32)

    def forced(self) -> list[int]:
        return list(self.m.compute_ff_tokens()) if FAST_FORWARD else []

    def process(self, logits: np.ndarray) -> None:
        self.m.unsafe_compute_mask_ptr(self.bitmask.ctypes.data, self.bitmask.nbytes)
        if self.m.is_error():
            raise self._failed()
        allowed = np.unpackbits(self.bitmask.view(np.uint8), bitorder="little", count=self.n_vocab).view(bool)
        logits[~allowed] = _NEG_INF

    def accept(self, tokens: Sequence[int]) -> None:
        ok = self.m.consume_token(tokens[0]) if len(tokens) == 1 else self.m.consume_tokens(list(tokens))
        if not ok:
            raise self._failed()

    def finished(self) -> bool:
        return bool(self.m.is_stopped())

    def _failed(self) -> Exception:
        return BackendError(f"the grammar engine failed: {self.m.get_error() or 'unknown error'}")
