"""The HTTP API through FastAPI's TestClient: OpenAI shapes, SSE framing, errors, keys, limits, audit, KB."""

from __future__ import annotations

import base64
import json
import sqlite3

import numpy as np
import pytest
from fastapi.testclient import TestClient

from genloom.serve import create_app
from genloom.settings import Settings
from serve_fakes import FakeAnswerStream, FakeEmbedder, FakeKBs

ALICE = "sk-alice-123"
BOB = "sk-bob-456"


@pytest.fixture
def kbs() -> FakeKBs:
    return FakeKBs()


@pytest.fixture
def make(tmp_path, kbs):
    def make(**overrides):
        s = Settings(home=tmp_path / "home", model="fake:", **overrides)
        app = create_app(
            s,
            kb_factory=kbs,
            kb_lister=kbs.names,
            answer_factory=lambda q, **o: FakeAnswerStream(kbs, q, **o),
            embedder=FakeEmbedder(),
        )
        return TestClient(app, base_url="http://localhost")  # no keys: loopback Host only

    return make


@pytest.fixture
def client(make):
    return make()


def chat(client, content="hello there", **kw):
    body = {"model": "fake:", "messages": [{"role": "user", "content": content}], **kw}
    return client.post("/v1/chat/completions", json=body, headers=kw.pop("headers", None) or {})


def sse(text: str) -> list:
    """Parse an SSE body strictly: every event is 'data: ...' followed by a blank line."""
    assert text.endswith("data: [DONE]\n\n")
    events = text.split("\n\n")[:-1]
    assert all(e.startswith("data: ") and "\n" not in e for e in events), events
    return [e[6:] if e[6:] == "[DONE]" else json.loads(e[6:]) for e in events]


def test_models_lists_llms_and_knowledge_bases(client, kbs):
    kbs("docs", True)
    data = client.get("/v1/models").json()
    assert data["object"] == "list"
    assert [m["id"] for m in data["data"]] == ["fake:", "fake-embed:", "rag:docs"]
    assert all(m["object"] == "model" and m["owned_by"] == "genloom" for m in data["data"])


def test_chat_completion_shape_and_usage(client):
    r = chat(client, temperature=0)
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert body["choices"][0]["message"] == {
        "role": "assistant",
        "content": "You said: hello there",
        "refusal": None,
        "tool_calls": None,
    }
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"] == {"prompt_tokens": 4, "completion_tokens": 4, "total_tokens": 8, "cost": 0.0}


def test_sampling_fields_reach_the_engine(client):
    a = chat(client, "one two three four five six", temperature=1.0, seed=3).json()
    b = chat(client, "one two three four five six", temperature=1.0, seed=3).json()
    c = chat(client, "one two three four five six", max_tokens=2, temperature=0).json()
    assert a["choices"][0]["message"]["content"] == b["choices"][0]["message"]["content"]
    assert c["choices"][0]["message"]["content"] == "You said: "
    assert c["choices"][0]["finish_reason"] == "length" and c["usage"]["completion_tokens"] == 2
    d = chat(client, "alpha beta", temperature=0, stop=["beta"]).json()
    assert d["choices"][0]["message"]["content"] == "You said: alpha "


def test_streaming_chunks_are_framed_like_openai(client):
    r = chat(client, temperature=0, stream=True)
    assert r.headers["content-type"].startswith("text/event-stream")
    events = sse(r.text)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == "You said: hello there"
    assert chunks[-1]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
    assert all("usage" not in c for c in chunks)


def test_stream_options_include_usage_sends_a_usage_chunk(client):
    chunks = sse(chat(client, temperature=0, stream=True, stream_options={"include_usage": True}).text)[:-1]
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 4, "completion_tokens": 4, "total_tokens": 8, "cost": 0.0}


def test_text_completions(client):
    body = client.post("/v1/completions", json={"model": "fake:", "prompt": "hi", "temperature": 0}).json()
    assert body["object"] == "text_completion" and body["choices"][0]["text"] == "You said: hi"
    r = client.post(
        "/v1/completions", json={"model": "fake:", "prompt": "hi", "temperature": 0, "stream": True}
    )
    events = sse(r.text)
    assert "".join(e["choices"][0]["text"] for e in events[:-1]) == "You said: hi"
    assert events[-2]["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"model": "nope", "messages": [{"role": "user", "content": "x"}]}, 404, "model"),
        ({"model": "fake:", "messages": []}, 400, "messages"),
        (
            {"model": "fake:", "messages": [{"role": "user", "content": "x"}], "temperature": 9},
            400,
            "temperature",
        ),
        (
            {"model": "fake:", "messages": [{"role": "user", "content": "x"}], "max_tokens": 10**6},
            400,
            "max_tokens",
        ),
        ({"model": "fake:", "messages": [{"role": "wizard", "content": "x"}]}, 400, None),
        ({"model": "fake:", "messages": [{"role": "user", "content": "   "}]}, 400, None),
    ],
)
def test_errors_are_openai_error_objects(client, body, status, param):
    r = client.post("/v1/chat/completions", json=body)
    assert r.status_code == status
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["message"]
    assert err["type"] == "invalid_request_error"
    if param:
        assert err["param"] is not None and err["param"].startswith(param)


def test_malformed_json_and_unknown_routes(client):
    r = client.post(
        "/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    r = client.get("/v1/nothing-here")
    assert r.status_code == 404 and "error" in r.json()


def test_body_limit_gives_413(make):
    client = make(max_request_bytes=2000)
    r = chat(client, "word " * 1000)
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"


def test_keys_required_when_configured(make):
    client = make(api_keys=f"alice={ALICE}@tenant:a")
    r = client.get("/v1/models")
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    assert client.get("/v1/models", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/v1/models", headers={"Authorization": f"Bearer {ALICE}"}).status_code == 200
    assert client.get("/healthz").json() == {"status": "ok"}  # no details without a key
    assert client.get("/healthz", headers={"Authorization": f"Bearer {ALICE}"}).json()["auth"] == "keys"


def test_rate_limit_gives_429_with_retry_after(make):
    client = make(api_keys=f"alice={ALICE} bob={BOB}", rate_limit_rpm=2)
    alice, bob = {"Authorization": f"Bearer {ALICE}"}, {"Authorization": f"Bearer {BOB}"}
    assert [client.get("/v1/models", headers=alice).status_code for _ in range(2)] == [200, 200]
    r = client.get("/v1/models", headers=alice)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert r.json()["error"]["code"] == "rate_limit_exceeded"
    assert client.get("/v1/models", headers=bob).status_code == 200  # limits are per key


def test_token_limit_refuses_after_the_budget_is_spent(make):
    client = make(rate_limit_tpm=10)
    assert chat(client, "one two three four five six seven", temperature=0).status_code == 200  # 8+9 tokens
    r = chat(client, temperature=0)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1


def test_audit_rows_are_written(client, tmp_path):
    chat(client, "audit me", temperature=0)
    chat(client, "audit me too", temperature=0, stream=True)
    chat(client, "x", model="missing")
    db = sqlite3.connect(tmp_path / "home" / "audit.db")
    db.row_factory = sqlite3.Row
    rows = db.execute("SELECT * FROM requests ORDER BY id").fetchall()
    assert [r["status"] for r in rows] == [200, 200]  # a request refused before it runs is not generated
    first = rows[0]
    assert (
        first["key_id"] == "local"
        and first["model"] == "fake:"
        and first["endpoint"] == "/v1/chat/completions"
    )
    assert json.loads(first["prompt"]) == [{"role": "user", "content": "audit me"}]
    assert (
        first["output"] == "You said: audit me"
        and first["prompt_tokens"] == 4
        and first["completion_tokens"] == 4
    )
    assert first["latency_ms"] > 0 and first["finish_reason"] == "stop"
    assert rows[1]["output"] == "You said: audit me too"
    assert [r[0] for r in db.execute("SELECT name FROM migrations")] == [
        "001_requests",
        "002_cache_hit",
        "003_tool_calls",
        "004_feedback",
        "005_guard",
        "006_audit_chain",
        "007_manifest",
        "008_cost",
    ]


def test_metrics_exposes_the_series(client):
    chat(client, temperature=0, stream=True)
    chat(client, model="nope")
    text = client.get("/metrics").text
    for name in ("genloom_requests_total", "genloom_request_latency_seconds_bucket", "genloom_tokens_total",
                 "genloom_time_to_first_token_seconds_bucket", "genloom_queue_depth", "genloom_errors_total"):  # fmt: skip
        assert name in text, name
    assert 'genloom_tokens_total{direction="out",model="fake:"} 4.0' in text
    assert 'status="404"' in text


def test_health_and_openapi(client):
    assert client.get("/healthz").json()["status"] == "ok"
    spec = client.get("/openapi.json").json()
    assert "/v1/chat/completions" in spec["paths"] and "/v1/embeddings" in spec["paths"]


# -- embeddings ------------------------------------------------------------------------------------------
def test_embeddings_float_and_base64_agree(client):
    f = client.post("/v1/embeddings", json={"model": "fake-embed", "input": ["red apple", "blue sky"]}).json()
    b = client.post("/v1/embeddings", json={"model": "fake-embed", "input": ["red apple", "blue sky"],
                                           "encoding_format": "base64"}).json()  # fmt: skip
    assert f["object"] == "list" and [d["index"] for d in f["data"]] == [0, 1]
    expected = FakeEmbedder().embed_documents(["red apple", "blue sky"])
    assert np.allclose(np.array([d["embedding"] for d in f["data"]]), expected, atol=1e-6)
    decoded = np.stack([np.frombuffer(base64.b64decode(d["embedding"]), dtype="<f4") for d in b["data"]])
    assert np.array_equal(decoded, expected)
    assert f["usage"] == {"prompt_tokens": 4, "total_tokens": 4}


def test_embeddings_reject_empty_input(client):
    r = client.post("/v1/embeddings", json={"model": "fake-embed", "input": [""]})
    assert r.status_code == 400 and r.json()["error"]["param"] == "input"


# -- knowledge bases and grounded answers ----------------------------------------------------------------
def upload(
    client, kb="docs", name="kettles.txt", text="Kettles boil water quickly. They whistle.", headers=None
):
    return client.post(f"/v1/kb/{kb}/documents", files=[("files", (name, text.encode(), "text/plain"))],
                       headers=headers or {})  # fmt: skip


def test_kb_upload_list_search_delete(client):
    r = upload(client)
    assert r.status_code == 200, r.text
    doc_id = r.json()["report"]["files"][0]["doc_id"]
    assert [d["doc_id"] for d in client.get("/v1/kb/docs/documents").json()["data"]] == [doc_id]
    hits = client.post("/v1/kb/docs/search", json={"query": "how do kettles work"}).json()["data"]
    assert hits[0]["doc_id"] == doc_id and hits[0]["text"].startswith("Kettles")
    assert client.get("/v1/kb").json()["data"] == [{"name": "docs"}]
    assert client.delete(f"/v1/kb/docs/documents/{doc_id}").json()["deleted"] is True
    assert client.get("/v1/kb/docs/documents").json()["data"] == []
    assert client.delete(f"/v1/kb/docs/documents/{doc_id}").status_code == 404
    assert client.get("/v1/kb/nope/documents").status_code == 404


def test_kb_ask_returns_the_answer_object(client):
    upload(client)
    a = client.post("/v1/kb/docs/ask", json={"question": "What do kettles boil?"}).json()
    assert a["refused"] is False and a["answer"] == "Kettles boil water quickly. [1]"
    assert a["citations"][0]["quote"] == "Kettles boil water quickly."


def test_rag_chat_carries_citations(client):
    upload(client)
    body = {"model": "rag:docs", "messages": [{"role": "user", "content": "What do kettles boil?"}]}
    msg = client.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]
    assert msg["content"] == "Kettles boil water quickly. [1]" and msg["refused"] is False
    assert msg["citations"][0]["n"] == 1 and msg["citations"][0]["source"] == "kettles.txt"


def test_rag_chat_streams_citations_in_the_final_chunk(client):
    upload(client)
    body = {
        "model": "rag:docs",
        "stream": True,
        "messages": [{"role": "user", "content": "What do kettles boil?"}],
    }
    chunks = sse(client.post("/v1/chat/completions", json=body).text)[:-1]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text.strip() == "Kettles boil water quickly. [1]"
    last = chunks[-1]["choices"][0]
    assert last["finish_reason"] == "stop" and last["delta"]["refused"] is False
    assert last["delta"]["citations"][0]["quote"] == "Kettles boil water quickly."


def test_rag_chat_refusal_and_history(client, kbs):
    upload(client)
    body = {"model": "rag:docs", "messages": [
        {"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"}, {"role": "user", "content": "Who won the football?"}]}  # fmt: skip
    msg = client.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]
    assert msg["refused"] is True and msg["citations"] == [] and "found nothing" in msg["content"]
    assert msg["refusal"] == msg["content"]
    assert client.post("/v1/chat/completions", json={**body, "model": "rag:nope"}).status_code == 404


def test_principals_from_the_key_reach_every_kb_call(make, kbs):
    client = make(api_keys=f"alice={ALICE}@tenant:a bob={BOB}@tenant:b")
    alice, bob = {"Authorization": f"Bearer {ALICE}"}, {"Authorization": f"Bearer {BOB}"}
    doc_id = upload(client, headers=alice).json()["report"]["files"][0]["doc_id"]
    assert kbs.kbs["docs"].calls[0] == ("ingest", ["tenant:a"])
    q = {"query": "kettles water"}
    assert len(client.post("/v1/kb/docs/search", json=q, headers=alice).json()["data"]) == 1
    # bob cannot read anything in "docs": for him it does not exist
    assert client.post("/v1/kb/docs/search", json=q, headers=bob).status_code == 404
    files = [("files", ("bob.txt", b"Bob writes about teapots only.", "text/plain"))]
    assert client.post("/v1/kb/docs/documents", files=files, headers=bob).status_code == 200
    assert kbs.kbs["docs"].calls[-1] == ("ingest", ["tenant:b"])
    assert client.post("/v1/kb/docs/search", json=q, headers=bob).json()["data"] == []
    assert [d["source"] for d in client.get("/v1/kb/docs/documents", headers=bob).json()["data"]] == [
        "bob.txt"
    ]
    assert client.delete(f"/v1/kb/docs/documents/{doc_id}", headers=bob).status_code == 404
    body = {"model": "rag:docs", "messages": [{"role": "user", "content": "What do kettles boil?"}]}
    msg = client.post("/v1/chat/completions", json=body, headers=bob).json()["choices"][0]["message"]
    assert msg["refused"] is True  # bob may not read alice's document, so nothing answers him
    assert kbs.kbs["docs"].calls[-1] == ("search", ["tenant:b", "key:bob"])


def test_upload_requires_files(client):
    r = client.post("/v1/kb/docs/documents", files=[])
    assert r.status_code == 400


def test_ui_is_served(client):
    html = client.get("/").text
    assert "<title>genloom</title>" in html
    assert client.get("/static/app.js").status_code == 200  # the page runs in a browser in test_serve_ui.py


def test_context_overflow_names_the_request_fields_not_cli_flags(client):
    """issue 18: the hint is for an API client (messages, max_tokens), never --truncate / --max-tokens."""
    words = " ".join(["word"] * 5000)
    r = client.post(
        "/v1/chat/completions", json={"model": "fake:", "messages": [{"role": "user", "content": words}]}
    )
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["code"] == "context_length_exceeded" and err["param"] == "messages"
    assert "max_tokens" in err["message"] and "--" not in err["message"]
