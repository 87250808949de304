"""Property-based requests generated from /openapi.json: whatever the input, the server never answers 5xx.

schemathesis generates the cases from the live schema; hypothesis drives them (schemathesis' own pytest
plugin does not load with this pytest, so each operation's strategy is run directly).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from genloom.serve import create_app, embed_input
from genloom.settings import Settings
from serve_fakes import FakeAnswerStream, FakeEmbedder, FakeKBs, live_server


def test_no_server_errors_on_generated_input(tmp_path):
    kbs = FakeKBs()
    kbs("default", True)
    s = Settings(
        home=tmp_path / "home",
        model="fake:",
        rate_limit_rpm=0,
        rate_limit_tpm=0,
        max_tokens_limit=64,
        allowed_hosts="testserver",  # schemathesis' ASGI client's Host (no keys: loopback names only)
    )
    app = create_app(s, kb_factory=kbs, kb_lister=kbs.names, embedder=FakeEmbedder(),
                     answer_factory=lambda q, **o: FakeAnswerStream(kbs, q, **o))  # fmt: skip
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 10
    seen: dict[str, set[int]] = {}
    rejected: list[str] = []  # why chats with a served model were refused (shown if none got through)
    for op in operations:

        @given(case=op.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case) -> None:  # type: ignore[no-untyped-def]
            for valid in (False, True):  # as generated, then with a model / KB that exist, to get past 404
                if valid:
                    if isinstance(case.body, dict) and "model" in case.body:
                        case.body["model"] = "fake:"
                        # the echo model cannot follow a format: its replies fail validation (a 503 that is
                        # right for it); structured outputs are tested on llama.cpp (test_serve_structured)
                        case.body.pop("response_format", None)
                        # nor report token log-probs (a 400 naming the field, right for it; llama.cpp does)
                        case.body.pop("logprobs", None)
                        case.body.pop("top_logprobs", None)
                        # nor call tools: a tool_choice naming a function not in tools is a 400 (cross-field)
                        if isinstance(case.body.get("tool_choice"), dict):
                            case.body.pop("tool_choice")
                    if case.path_parameters and "kb" in case.path_parameters:
                        case.path_parameters["kb"] = "default"
                response = case.call()
                if valid and case.path == "/v1/chat/completions" and response.status_code == 400:
                    rejected.append(response.json()["error"]["message"])
                where = (
                    f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
                )
                assert response.status_code < 500, where
                if response.status_code >= 400:
                    assert set(response.json()["error"]) == {"message", "type", "param", "code"}, where
                seen.setdefault(f"{case.method} {case.path}", set()).add(response.status_code)

        check()
    assert set(seen) == {op.label for op in operations}
    assert 200 in seen["POST /v1/chat/completions"], rejected[:8]  # generated chats did reach the model


def test_the_document_states_the_servers_limits_and_json_types(tmp_path):
    """The OpenAPI document carries the server's max_tokens limit and no FastAPI 422 the server never sends;
    bodies take JSON types as the document states them (an integer is 5 or 5.0, never true or "5")."""
    app = create_app(Settings(home=tmp_path / "home", model="fake:", max_tokens_limit=64, rate_limit_rpm=0))
    doc = app.openapi()
    text = json.dumps(doc)
    assert "HTTPValidationError" not in text
    for raw in ('"ge":', '"le":', '"gt":', '"lt":'):  # a bound pydantic failed to spell as JSON Schema's
        assert raw not in text, raw
    chat = doc["components"]["schemas"]["ChatCompletionRequest"]["properties"]["max_tokens"]["anyOf"][0]
    assert chat == {"type": "integer", "minimum": 1, "maximum": 64}
    c = TestClient(app, base_url="http://localhost")
    chat_body = {"model": "fake:", "messages": [{"role": "user", "content": "hi"}]}
    assert c.post("/v1/chat/completions", json={**chat_body, "max_tokens": 5.0}).status_code == 200
    for field, value in (("max_tokens", True), ("max_tokens", "5"), ("stream", 0), ("temperature", False)):
        r = c.post("/v1/chat/completions", json={**chat_body, field: value})
        assert r.status_code == 400 and r.json()["error"]["param"] == field, (field, value, r.text)
    assert c.post("/v1/chat/completions", json={**chat_body, "max_tokens": 65}).status_code == 400
    r = c.post("/v1/conversations", json={"title": " \u3000 "})  # blank by Python's measure: the schema's too
    assert r.status_code == 400 and r.json()["error"]["param"] == "title"
    assert c.post("/v1/conversations", json={"title": "tea"}).status_code == 200


@pytest.mark.slow
def test_schemathesis_all_checks_pass(tmp_path, monkeypatch):
    """``st run --checks all`` on every operation (every phase: examples, coverage incl. undeclared methods such
    as TRACE, fuzzing, stateful) with a bounded example count and a fixed seed, against a live server with a
    key; the allowances for what OpenAPI cannot say are in tests/schemathesis.toml."""
    import llama_index.core

    # token-id embedding inputs are decoded (tiktoken's cl100k_base, as LlamaIndex ships it): none downloads
    monkeypatch.setenv(
        "TIKTOKEN_CACHE_DIR", str(Path(llama_index.core.__file__).parent / "_static" / "tiktoken_cache")
    )
    embed_input._encoding.cache_clear()
    kbs = FakeKBs()
    kbs("default", True)
    s = Settings(home=tmp_path / "home", model="fake:", rate_limit_rpm=0, rate_limit_tpm=0, max_tokens_limit=64,
                 api_keys="alice=sk-fuzz-alice@tenant:a")  # fmt: skip
    app = create_app(s, kb_factory=kbs, kb_lister=kbs.names, embedder=FakeEmbedder(),
                     answer_factory=lambda q, **o: FakeAnswerStream(kbs, q, **o))  # fmt: skip
    st = Path(sys.executable).with_name("st")
    config = Path(__file__).with_name("schemathesis.toml")
    with live_server(app) as url:
        cmd = [str(st), "--no-color", "--config-file", str(config), "run", f"{url}/openapi.json", "--checks", "all",
               "--max-examples", "8", "--seed", "18",
               "--generation-database", "none", "-H", "Authorization: Bearer sk-fuzz-alice"]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    embed_input._encoding.cache_clear()
    assert done.returncode == 0, done.stdout[-6000:]
    n = sum(len(methods) for methods in app.openapi()["paths"].values())
    assert f"Operations:       {n} selected / {n} total" in done.stdout  # every operation, none left out
