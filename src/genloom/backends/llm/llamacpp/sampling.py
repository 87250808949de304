"""genloom's own seeded sampler: repeat penalty, min-p, top-k, top-p, temperature, over (masked) logits.

Every llama.cpp generation samples here, after the logits hooks have masked (``-inf``) or biased the step's
logits, so constraints, tool calls and watermarks all compose with the same sampling. ``temperature == 0`` is
greedy over the allowed tokens. Same seed, same params and same logits give the same tokens.

Order: repeat penalty (last 64 tokens) -> min-p (relative to the top token) -> top-k -> top-p -> temperature ->
draw. min-p first is an optimisation (it is a logit threshold, so it only ever removes tail tokens); it keeps
most steps to a handful of candidates.
"""

from __future__ import annotations

import math

import numpy as np

from genloom.types import SamplingParams

PENALTY_WINDOW = 64


class Sampler:
    def __init__(self, params: SamplingParams, n_vocab: int) -> None:
        self.p = params
        self.n_vocab = n_vocab
        self.rng = np.random.default_rng(params.seed)
        self.history: list[int] = []

    def sample(self, logits: np.ndarray) -> int:
        """Pick a token from ``logits`` (float32, n_vocab; ``-inf`` = not allowed). Modifies ``logits``."""
        p = self.p
        if p.repeat_penalty != 1.0 and self.history:
            recent = np.unique(np.asarray(self.history[-PENALTY_WINDOW:], dtype=np.int64))
            vals = logits[recent]
            logits[recent] = np.where(vals > 0, vals / p.repeat_penalty, vals * p.repeat_penalty)
        top = int(np.argmax(logits))
        if p.temperature == 0 or not math.isfinite(float(logits[top])):
            return self._take(top)
        # candidates: min-p as a logit threshold, else every allowed token
        if p.min_p > 0:
            cand = np.flatnonzero(logits >= logits[top] + math.log(p.min_p))
        else:
            cand = np.flatnonzero(np.isfinite(logits))
        vals = logits[cand].astype(np.float64)
        if p.top_k and len(cand) > p.top_k:
            keep = np.argpartition(vals, -p.top_k)[-p.top_k :]
            cand, vals = cand[keep], vals[keep]
        order = np.argsort(-vals, kind="stable")
        cand, vals = cand[order], vals[order]
        if p.top_p < 1.0:
            probs = np.exp(vals - vals[0])
            probs /= probs.sum()
            cut = int(np.searchsorted(np.cumsum(probs), p.top_p)) + 1
            cand, vals = cand[:cut], vals[:cut]
        weights = np.exp((vals - vals[0]) / p.temperature)
        cdf = np.cumsum(weights)
        i = int(np.searchsorted(cdf, self.rng.random() * cdf[-1], side="right"))
        return self._take(int(cand[min(i, len(cand) - 1)]))

    def _take(self, token: int) -> int:
        self.history.append(token)
        return token
