"""The green-list watermark (genloom.provenance.watermark) as a logits hook of the llama.cpp token loop.

Each step adds the scheme's ``delta`` to the green tokens' logits, green being decided by the previous
``context_width`` token ids (the prompt's last ones for the first generated token; forced tokens count as
context like sampled ones). Only finite logits are biased, so a token a constraint masked stays masked and
an allowed one stays allowed: the hook goes after the constraint hooks and composes with any grammar.
One hook object per generation (it tracks that generation's tokens).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from genloom.backends.llm.llamacpp.loop import LogitsHook
from genloom.provenance.watermark import Scheme, token_mix

_mixed: dict[int, np.ndarray] = {}  # n_vocab -> token_mix(arange(n_vocab)), computed once per vocab size


class WatermarkHook(LogitsHook):
    def __init__(self, scheme: Scheme, n_vocab: int) -> None:
        self.scheme = scheme
        mixed = _mixed.get(n_vocab)
        if mixed is None:
            mixed = _mixed[n_vocab] = token_mix(np.arange(n_vocab, dtype=np.uint64))
        self.mixed = mixed
        self.delta = np.float32(scheme.delta)
        self.context: list[int] = []

    def start(self, prompt: Sequence[int]) -> None:
        self.context = list(prompt[-self.scheme.context_width :])

    def process(self, logits: np.ndarray) -> None:
        if len(self.context) < self.scheme.context_width:
            return  # not enough context yet (a prompt shorter than the width): nothing to seed from
        green = self.scheme.green_mixed(self.scheme.seed(self.context), self.mixed)
        green &= np.isfinite(logits)
        logits[green] += self.delta

    def accept(self, tokens: Sequence[int]) -> None:
        self.context = (self.context + list(tokens))[-self.scheme.context_width :]
