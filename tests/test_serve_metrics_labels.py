"""/metrics label values are bounded (issue 18): client-chosen model names, methods and validation errors
never become label values of their own."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from genloom.serve import create_app
from genloom.settings import Settings
from serve_fakes import FakeEmbedder


def test_label_values_come_from_known_sets(tmp_path):
    app = create_app(Settings(home=tmp_path / "home", model="fake:"), embedder=FakeEmbedder())
    c = TestClient(app, base_url="http://localhost")
    msgs = [{"role": "user", "content": "hi"}]
    for junk in ("gpt-4o", "LPT1", "x" * 200, "rag:nope"):
        assert c.post("/v1/chat/completions", json={"model": junk, "messages": msgs}).status_code == 404
        assert c.post("/v1/embeddings", json={"model": junk, "input": "hi"}).status_code == 404
    assert c.post("/v1/chat/completions", json={"model": "fake:", "messages": msgs}).status_code == 200
    assert c.post("/v1/chat/completions", json={"model": "fake:", "messages": []}).status_code == 400
    assert c.request("FOO", "/v1/models").status_code == 405
    text = c.get("/metrics").text
    models = set(re.findall(r'model="([^"]*)"', text))
    assert models and models <= {"fake:", "fake-embed:", "rag", "other"}, models
    assert 'code=""' not in text and 'code="none"' in text
    methods = set(re.findall(r'method="([^"]*)"', text))
    assert "FOO" not in methods and "other" in methods
