"""Reciprocal rank fusion: the arithmetic, weights and a stable order."""

from __future__ import annotations

import pytest

from genloom.retrieve import rrf
from genloom.types import Hit


def h(cid: str) -> Hit:
    return Hit(cid, cid.split(":")[0], "/s", "t", [], 0, 1, 0.0, "x")


def test_rrf_scores_and_order():
    vec = [h("a:0"), h("b:0"), h("c:0")]
    kw = [h("c:0"), h("d:0")]
    out = rrf([vec, kw], k=10, rrf_k=60)
    scores = {x.chunk_id: x.score for x in out}
    assert scores["c:0"] == pytest.approx(1 / 63 + 1 / 61)
    assert scores["a:0"] == pytest.approx(1 / 61)
    assert [x.chunk_id for x in out] == ["c:0", "a:0", "b:0", "d:0"]  # b (2nd) beats d (2nd, later id)
    assert len(rrf([vec, kw], k=2)) == 2


def test_rrf_weights_and_ties():
    vec, kw = [h("a:0")], [h("b:0")]
    assert [x.chunk_id for x in rrf([vec, kw], 2)] == ["a:0", "b:0"]  # equal scores: by chunk id
    assert [x.chunk_id for x in rrf([vec, kw], 2, weights=[0.3, 1.0])] == ["b:0", "a:0"]
    assert rrf([[], []], 5) == []
