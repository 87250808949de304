"""The real bundled MiniLM embedder: shapes, normalization, and semantic retrieval keyword search misses."""

from __future__ import annotations

import numpy as np
import pytest

from genloom.backends.embed import resolve_embedder
from genloom.kb import KnowledgeBase
from genloom.settings import Settings

pytestmark = pytest.mark.model


def test_minilm_vectors():
    e = resolve_embedder("minilm:")
    v = e.embed_documents(["The cat sat on the mat.", "A feline rested on a rug.", "Stock prices fell."])
    assert v.shape == (3, 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2
    q = e.embed_query("The cat sat on the mat.")
    np.testing.assert_allclose(q, v[0], atol=1e-5)
    assert e.info()["dim"] == 384 and e.embed_documents([]).shape == (0, 384)


def test_semantic_search_with_minilm(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    (d / "pets.txt").write_text("Kittens need vaccinations and a warm place to sleep.")
    (d / "money.txt").write_text("Interest rates rose again this quarter, hurting bond prices.")
    (d / "garden.txt").write_text("Tomatoes grow best in full sun with regular watering.")
    kb = KnowledgeBase.open("m", Settings.load(), create=True)
    kb.ingest([d])
    assert kb.stats()["embedder"] == "onnx:"  # the default since issue 20 (same vectors as minilm:)
    assert kb.search("caring for young cats", k=3, mode="keyword") == []  # no shared words
    top = kb.search("caring for young cats", k=1, mode="vector")[0]
    assert top.source.endswith("pets.txt")
    assert kb.search("caring for young cats", k=1)[0].source.endswith("pets.txt")
