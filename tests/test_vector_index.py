"""The in-memory vector index: exact when small; IVF when large, with high recall and a filter fallback."""

from __future__ import annotations

import numpy as np

from genloom.backends.store.vector_index import VectorIndex


def _data(n: int, dim: int = 32, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(50, dim))
    v = centres[rng.integers(0, 50, n)] + 0.5 * rng.normal(size=(n, dim))
    v = (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)
    q = v[rng.integers(0, n, 50)] + 0.1 * rng.normal(size=(50, dim)).astype(np.float32)
    return v, (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


def _exact(v, q, k, allowed=None):
    s = v @ q
    if allowed is not None:
        s = np.where(allowed, s, -np.inf)
    return set(np.argsort(-s)[:k].tolist())


def test_small_index_is_exact():
    v, qs = _data(2000)
    idx = VectorIndex(v, ivf_min=10_000)
    assert not idx.ivf
    for q in qs:
        rows, scores = idx.search(q, 10, None)
        assert set(rows.tolist()) == _exact(v, q, 10)
        assert np.all(np.diff(scores) <= 0)


def test_ivf_recall_and_filter_fallback():
    v, qs = _data(30_000)
    idx = VectorIndex(v, ivf_min=10_000)
    assert idx.ivf
    recall = np.mean([len(set(idx.search(q, 10, None)[0].tolist()) & _exact(v, q, 10)) / 10 for q in qs])
    assert recall >= 0.9
    allowed = np.zeros(len(v), dtype=bool)
    allowed[np.random.default_rng(1).choice(len(v), 12, replace=False)] = True  # a very restricted caller
    for q in qs[:5]:
        rows, _ = idx.search(q, 10, allowed)
        assert len(rows) == 10 and allowed[rows].all()
        assert set(rows.tolist()) == _exact(v, q, 10, allowed)  # the fallback is exact
