"""The ONNX Runtime embedders against the torch reference: same vectors (fp32), close ones (int8), the export
cache, and what a knowledge base made by one embedder accepts from the others."""

from __future__ import annotations

import numpy as np
import pytest

from genloom.backends.embed import resolve_embedder, same_vectors
from genloom.backends.embed.onnx import OnnxMiniLMEmbedder
from genloom.backends.embed.onnx_export import bundled_model_dir, exported
from genloom.errors import UserError
from genloom.kb import KnowledgeBase
from genloom.settings import Settings

TEXTS = [
    "The cat sat on the mat.",
    "  A feline rested on a rug.  ",
    "PostgreSQL VACUUM reclaims storage occupied by dead tuples; VACUUM FULL rewrites the whole table.",
    "Chapter 3 > Installing Debian\nYou can install Debian from a USB stick, a DVD or over the network. "
    * 12,
    "ünïcödé ✓ 日本語のテキスト",
    "",
]


def test_same_vectors_table():
    assert same_vectors("minilm:", "onnx:") and same_vectors("onnx:", "minilm:")
    assert same_vectors("hash:384", "hash:384") and not same_vectors("hash:384", "hash:64")
    assert not same_vectors("onnx:int8", "minilm:") and not same_vectors("onnx:int8", "onnx:")
    assert not same_vectors("minilm:/some/other/folder", "onnx:")


def test_bad_variant_is_a_user_error():
    with pytest.raises(UserError, match="ONNX embedder variant"):
        resolve_embedder("onnx:int4")


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """One home (so one export) for the whole module."""
    return tmp_path_factory.mktemp("onnx-home")


@pytest.mark.model
def test_onnx_fp32_matches_torch_and_int8_is_close(home):
    torch_v = resolve_embedder("minilm:").embed_documents(TEXTS)
    fp32 = OnnxMiniLMEmbedder(home / "cache" / "onnx", "fp32")
    v = fp32.embed_documents(TEXTS)
    assert v.shape == (len(TEXTS), 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert (v * torch_v).sum(axis=1).min() > 0.99999  # float rounding only: the same vectors
    np.testing.assert_allclose(fp32.embed_query(TEXTS[0]), v[0], atol=1e-5)
    assert fp32.embed_documents([]).shape == (0, 384)
    int8 = OnnxMiniLMEmbedder(home / "cache" / "onnx", "int8")
    q = int8.embed_documents(TEXTS)
    cos = (q * torch_v).sum(axis=1)
    assert cos.min() > 0.95 and cos.mean() > 0.98  # close, not equal: its own vector space
    assert int8.info()["id"] == "onnx:int8" and fp32.info()["id"] == "onnx:"


@pytest.mark.model
def test_export_is_cached_and_keyed_by_the_weights(home):
    cache = home / "cache" / "onnx"
    path = exported(bundled_model_dir(), cache, "fp32")
    mtime = path.stat().st_mtime_ns
    assert exported(bundled_model_dir(), cache, "fp32") == path and path.stat().st_mtime_ns == mtime
    assert len(path.name.split("-")[1]) == 16  # the weights' sha256 prefix names the file
    assert not list(cache.glob(".*.tmp"))  # written aside, then renamed


@pytest.mark.model
def test_kb_made_by_torch_is_searched_and_extended_by_onnx(home, tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    (d / "pets.txt").write_text("Kittens need vaccinations and a warm place to sleep.")
    (d / "money.txt").write_text("Interest rates rose again this quarter, hurting bond prices.")
    s = Settings.load(env={"GENLOOM_HOME": str(home)})
    kb = KnowledgeBase.open("mixed", s, create=True, embedder="minilm:")
    kb.ingest([d])
    before = kb.search("caring for young cats", k=2, mode="vector")
    kb.close()
    kb = KnowledgeBase.open("mixed", s, embedder="onnx:")
    assert kb.embedder.info()["id"] == "onnx:" and kb.stats()["embedder"] == "minilm:"
    after = kb.search("caring for young cats", k=2, mode="vector")
    assert [h.chunk_id for h in after] == [h.chunk_id for h in before]
    assert abs(after[0].score - before[0].score) < 1e-4
    (d / "garden.txt").write_text("Tomatoes grow best in full sun with regular watering.")
    assert kb.ingest([d]).count("added") == 1
    assert kb.search("vegetables in the sunshine", k=1, mode="vector")[0].source.endswith("garden.txt")
    kb.close()
    with pytest.raises(UserError, match="built with embedder"):
        KnowledgeBase.open("mixed", s, embedder="onnx:int8")
    # without --embedder: the configured embedder when it makes the same vectors, else the stored one
    for configured, used in (("onnx:", "onnx:"), ("onnx:int8", "minilm:")):
        env = {"GENLOOM_HOME": str(home), "GENLOOM_EMBEDDER": configured}
        with KnowledgeBase.open("mixed", Settings.load(env=env)) as kb:
            assert kb.embedder.info()["id"] == used
