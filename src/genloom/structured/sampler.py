"""genloom's own seeded sampler over masked logits: repeat penalty, top-k, min-p, top-p, temperature.

Used on the constrained path, where logits are read from llama.cpp, masked to the tokens the grammar
allows, and sampled here. ``temperature == 0`` is greedy over the allowed tokens. Same seed, same params
and same logits give the same tokens.

Order: repeat penalty (last 64 tokens) -> min-p (relative to the top allowed token) -> top-k -> top-p ->
temperature -> draw. min-p first is an optimisation (it is a logit threshold, so it only ever removes
tail tokens); it keeps most steps to a handful of candidates.
"""

from __future__ import annotations

import math

import numpy as np

from genloom.types import SamplingParams

PENALTY_WINDOW = 64
_NEG_INF = np.float32(-np.inf)


class Sampler:
    def __init__(self, params: SamplingParams, n_vocab: int) -> None:
        self.p = params
        self.n_vocab = n_vocab
        self.rng = np.random.default_rng(params.seed)
        self.history: list[int] = []

    def allowed(self, bitmask: np.ndarray) -> np.ndarray:
        """A bool view (n_vocab,) of an llguidance int32 bitmask."""
        return np.unpackbits(bitmask.view(np.uint8), bitorder="little", count=self.n_vocab).view(bool)

    def sample(self, logits: np.ndarray, allowed: np.ndarray) -> int:
        """Pick a token among ``allowed`` from raw ``logits`` (float32, n_vocab)."""
        p = self.p
        masked = np.where(allowed, logits, _NEG_INF)
        if p.repeat_penalty != 1.0 and self.history:
            recent = np.unique(np.asarray(self.history[-PENALTY_WINDOW:], dtype=np.int64))
            vals = masked[recent]
            masked[recent] = np.where(vals > 0, vals / p.repeat_penalty, vals * p.repeat_penalty)
        top = int(np.argmax(masked))
        if p.temperature == 0 or not math.isfinite(float(masked[top])):
            return self._take(top)
        # candidates: min-p as a logit threshold, else every allowed token
        floor = masked[top] + math.log(p.min_p) if p.min_p > 0 else -np.inf
        cand = np.flatnonzero(masked >= floor) if p.min_p > 0 else np.flatnonzero(np.isfinite(masked))
        vals = masked[cand].astype(np.float64)
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
