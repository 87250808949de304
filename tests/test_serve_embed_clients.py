"""/v1/embeddings and /v1/models with the client libraries users bring (issue 18): LangChain's
OpenAIEmbeddings with its defaults (token-id arrays), LlamaIndex's OpenAIEmbedding, the openai SDK."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import openai
import pytest

from genloom.serve import create_app, embed_input
from genloom.settings import Settings
from serve_fakes import FakeEmbedder, live_server

TEXTS = ["Green tea is brewed at 80 degrees.", "Black tea likes boiling water."]


@pytest.fixture
def tiktoken_cache(monkeypatch):
    """tiktoken's cl100k_base file as LlamaIndex ships it (so nothing downloads); cleared caches around."""
    import llama_index.core

    cache = Path(llama_index.core.__file__).parent / "_static" / "tiktoken_cache"
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    embed_input._encoding.cache_clear()
    yield
    embed_input._encoding.cache_clear()


@pytest.fixture
def url(tmp_path):
    app = create_app(Settings(home=tmp_path / "home", model="fake:"), embedder=FakeEmbedder())
    with live_server(app) as u:
        yield u


def direct(texts):
    return np.asarray(FakeEmbedder().embed_documents(texts))


def test_langchain_default_settings_send_token_ids_and_get_the_texts_vectors(url, tiktoken_cache):
    from langchain_openai import OpenAIEmbeddings

    emb = OpenAIEmbeddings(model="fake-embed", base_url=f"{url}/v1", api_key="x", max_retries=0)
    assert emb.check_embedding_ctx_length  # the default: token ids go over the wire
    got = np.asarray(emb.embed_documents(TEXTS))
    want = direct(TEXTS)
    assert np.allclose(got / np.linalg.norm(got, axis=1, keepdims=True), want, atol=1e-5)
    assert np.allclose(emb.embed_query(TEXTS[0]), want[0], atol=1e-5)


def test_token_ids_without_the_encoding_name_the_langchain_setting(url, monkeypatch, tmp_path):
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "empty"))  # not cached; the network is blocked
    embed_input._encoding.cache_clear()
    try:
        r = httpx.post(f"{url}/v1/embeddings", json={"model": "fake-embed", "input": [[9906, 1917]]})
    finally:
        embed_input._encoding.cache_clear()
    assert r.status_code == 400 and r.json()["error"]["param"] == "input"
    assert "check_embedding_ctx_length=False" in r.json()["error"]["message"]


def test_llama_index_openai_embedding(url):
    from llama_index.embeddings.openai import OpenAIEmbedding

    emb = OpenAIEmbedding(model_name="fake-embed", api_base=f"{url}/v1", api_key="x", max_retries=0)
    got = np.asarray(emb.get_text_embedding_batch(TEXTS))
    assert np.allclose(got, direct(TEXTS), atol=1e-5)


def test_embedding_models_are_listed_and_validated(url):
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)
    ids = [m.id for m in client.models.list().data]
    assert "fake-embed:" in ids and "fake:" in ids
    assert client.models.retrieve("fake:").id == "fake:"
    assert client.models.retrieve("fake-embed").id == "fake-embed:"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4o")
    with pytest.raises(openai.NotFoundError, match="fake-embed:"):
        client.embeddings.create(model="text-embedding-3-small", input="hello")
    r = client.embeddings.create(model="fake-embed", input="hello")
    assert r.model == "fake-embed:" and len(r.data[0].embedding) == 16


@pytest.mark.parametrize("bad", ["", [], [""], ["  "], [[]], [[-1]]])
def test_empty_or_bad_input_is_a_400_naming_input(url, bad):
    r = httpx.post(f"{url}/v1/embeddings", json={"model": "fake-embed", "input": bad})
    assert r.status_code == 400 and r.json()["error"]["param"] == "input", r.text
