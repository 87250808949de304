"""The green-list text watermark (KGW, Kirchenbauer et al. 2023, "A Watermark for Large Language Models"),
engine-independent: which tokens are green, how much to favour them, and how to score a token sequence.

Scheme. Before each token, the previous ``context_width`` token ids and a secret key give a 64-bit seed
(``HMAC-SHA256(key, ids)``); token ``t`` is *green* for that seed when ``mix64(seed ^ mix64(t + C))`` falls in
the lowest ``gamma`` fraction of 64-bit values (``mix64`` is SplitMix64's finaliser, a bijection with full
avalanche). Generation adds ``delta`` to the logits of green tokens, so a watermarked text has far more than
the ``gamma`` share of green tokens that any text written without the key has. Nothing here depends on an
RNG implementation (no torch / numpy generators): the same key, ids and parameters give the same green
lists on any machine and engine, forever.

Detection counts green tokens among the scored ones and reports the one-proportion z-score
``(green - gamma T) / sqrt(T gamma (1 - gamma))`` and its one-sided p-value. Each distinct (context, token)
pair is scored once (repeated n-grams would otherwise inflate z on repetitive text, human or not), and the
first ``context_width`` tokens, which have no context in the text, are not scored.

Why KGW with a left hash: it needs only the logits hook, works for greedy and sampled decoding, is robust to
local edits (a substituted word disturbs at most ``context_width + 1`` scores) and its false-positive rate
is analytic (the z-test), with no model needed at detection time.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)


def mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser over a uint64 array (wrapping arithmetic)."""
    x = x.copy()
    x ^= x >> _S30
    x *= _M1
    x ^= x >> _S27
    x *= _M2
    x ^= x >> _S31
    return x


@dataclass(frozen=True, slots=True)
class Scheme:
    """One watermark: the secret key and its public id, the green share ``gamma``, the logit bias ``delta``
    and how many previous tokens seed the green list (``context_width``)."""

    key: bytes
    key_id: str
    gamma: float = 0.25
    delta: float = 2.0
    context_width: int = 1

    def __post_init__(self) -> None:
        if not 0.0 < self.gamma < 1.0:
            raise ValueError(f"gamma must be in (0, 1), got {self.gamma}")
        if not (math.isfinite(self.delta) and self.delta > 0):
            raise ValueError(f"delta must be a positive finite number, got {self.delta}")
        if not 1 <= self.context_width <= 8:
            raise ValueError(f"context_width must be in [1, 8], got {self.context_width}")
        if len(self.key) < 16:
            raise ValueError("the watermark key must be at least 16 bytes")

    @property
    def threshold(self) -> np.uint64:
        return np.uint64(min(int(self.gamma * 2.0**64), 2**64 - 1))

    def seed(self, context: Sequence[int]) -> int:
        """The 64-bit seed of the green list that follows ``context`` (its last ``context_width`` ids)."""
        ids = list(context[-self.context_width :])
        msg = b"".join(int(t).to_bytes(4, "little", signed=True) for t in ids)
        return int.from_bytes(hmac.new(self.key, msg, hashlib.sha256).digest()[:8], "little")

    def green(self, seeds: np.ndarray | int, tokens: np.ndarray) -> np.ndarray:
        """Bool array: is ``tokens[i]`` green after ``seeds[i]`` (``seeds`` may be one seed for all)."""
        return self.green_mixed(seeds, token_mix(tokens))

    def green_mixed(self, seeds: np.ndarray | int, mixed: np.ndarray) -> np.ndarray:
        """:meth:`green` over tokens already passed through :func:`token_mix` (a hook mixes its vocab once)."""
        return mix64(np.asarray(seeds, dtype=np.uint64) ^ mixed) < self.threshold


def token_mix(tokens: np.ndarray) -> np.ndarray:
    """The per-token half of the green test (independent of key and context)."""
    return mix64(np.asarray(tokens, dtype=np.uint64) + _GOLDEN)


@dataclass(frozen=True, slots=True)
class Score:
    tokens_scored: int
    green: int
    z: float
    p_value: float


def score(scheme: Scheme, ids: Sequence[int]) -> Score:
    """Count green tokens of ``ids`` under ``scheme``: each distinct (context, token) pair once."""
    h = scheme.context_width
    seen: set[tuple[int, ...]] = set()
    seeds: list[int] = []
    toks: list[int] = []
    for i in range(h, len(ids)):
        gram = tuple(ids[i - h : i + 1])
        if gram in seen:
            continue
        seen.add(gram)
        seeds.append(scheme.seed(ids[i - h : i]))
        toks.append(ids[i])
    n = len(toks)
    if n == 0:
        return Score(0, 0, 0.0, 1.0)
    g = int(scheme.green(np.array(seeds, dtype=np.uint64), np.array(toks, dtype=np.uint64)).sum())
    gamma = scheme.gamma
    z = (g - gamma * n) / math.sqrt(n * gamma * (1.0 - gamma))
    return Score(n, g, z, p_value(z))


def p_value(z: float) -> float:
    """One-sided p-value of a standard normal z-score."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))
