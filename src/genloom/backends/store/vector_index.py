"""In-memory vector search derived from the store's rows: exact below ``ivf_min`` vectors, an IVF index
(k-means lists, probe the nearest few) above it. The SQLite file stays the source of truth; this is a cache.

Why IVF and not exact at scale: a 100k x 384 float32 scan reads 150 MB per query, which on a small VM is
~40 ms of memory bandwidth. Probing the nearest 25% of lists reads a quarter of that. The share was 8% until
measured on real MiniLM vectors (20k chunks of the PostgreSQL and Python manuals, bench/store_scale.py
--corpus real): recall@10 0.90 at 8%, 0.95 at 16%, 0.97-0.98 at 24%; synthetic clusters had flattered it
(1.00 at 8%). At 100k chunks the store's vector search p50 stayed ~11 ms with 20% (bench/search.py). Results are re-scored exactly,
and when the allowed (ACL/metadata-filtered) candidates in the probed lists are fewer than k, the search
falls back to an exact scan, so a restricted caller still gets k results whenever k exist.
"""

from __future__ import annotations

import numpy as np


class VectorIndex:
    def __init__(self, vectors: np.ndarray, ivf_min: int = 20_000, probe_fraction: float = 0.25) -> None:
        self.vectors = vectors
        self.n = len(vectors)
        self.ivf = self.n >= ivf_min
        self.probe_fraction = probe_fraction
        if self.ivf:
            self._build()

    def _build(self, iterations: int = 8, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        n_lists = max(16, int(np.sqrt(self.n)))
        sample = self.vectors[rng.choice(self.n, size=min(self.n, n_lists * 64), replace=False)]
        centroids = sample[rng.choice(len(sample), size=n_lists, replace=False)].copy()
        for _ in range(iterations):  # spherical k-means on a sample
            assign = np.argmax(sample @ centroids.T, axis=1)
            sums = np.zeros_like(centroids)
            np.add.at(sums, assign, sample)
            norms = np.linalg.norm(sums, axis=1, keepdims=True)
            empty = norms[:, 0] == 0
            sums[empty] = centroids[empty]
            norms[empty] = 1.0
            centroids = (sums / norms).astype(np.float32)
        assign = np.empty(self.n, dtype=np.int64)
        for s in range(0, self.n, 16384):  # assign everything, in blocks to bound memory
            assign[s : s + 16384] = np.argmax(self.vectors[s : s + 16384] @ centroids.T, axis=1)
        self.order = np.argsort(assign, kind="stable")  # row ids grouped by list
        self.sorted_vectors = np.ascontiguousarray(self.vectors[self.order])
        counts = np.bincount(assign, minlength=n_lists)
        self.offsets = np.concatenate([[0], np.cumsum(counts)])
        self.centroids = centroids
        self.nprobe = max(1, int(np.ceil(n_lists * self.probe_fraction)))

    def search(self, q: np.ndarray, k: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Row indices (into the original vectors) and cosine scores of the top k allowed rows, best first."""
        if self.ivf:
            lists = np.argpartition(-(self.centroids @ q), self.nprobe - 1)[: self.nprobe]
            spans = [(int(self.offsets[i]), int(self.offsets[i + 1])) for i in np.sort(lists)]
            rows = np.concatenate([self.order[a:b] for a, b in spans])
            scores = np.concatenate([self.sorted_vectors[a:b] @ q for a, b in spans])
            if allowed is not None:
                keep = allowed[rows]
                rows, scores = rows[keep], scores[keep]
            if len(rows) >= k:
                return _top(rows, scores, k)
        scores = self.vectors @ q
        rows = np.arange(self.n)
        if allowed is not None:
            rows, scores = rows[allowed], scores[allowed]
        return _top(rows, scores, k)


def _top(rows: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    k = min(k, len(rows))
    if k == 0:
        return rows[:0], scores[:0]
    idx = np.argpartition(-scores, k - 1)[:k] if k < len(rows) else np.arange(len(rows))
    idx = idx[np.lexsort((rows[idx], -scores[idx]))]  # score desc, then row for a stable order
    return rows[idx], scores[idx]
