"""The server's response and embedding caches: what is cached and what never is, the x-genloom-cache header,
Cache-Control, limits, audit and metrics (fake LLM and embedder, counted); then two real ``genloom serve``
processes sharing one cache through the real Redis at 127.0.0.1:6379."""

from __future__ import annotations

import base64
import json
import sqlite3
import time
from collections.abc import Sequence

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from genloom.backends.llm.fake import FakeLLM
from genloom.cache import MemoryCache, RedisCache
from genloom.errors import BackendError
from genloom.generate import Engine
from genloom.serve import create_app
from genloom.settings import Settings
from genloom.types import Delta, Message, SamplingParams
from openai_helpers import genloom_serve
from serve_fakes import FakeAnswerStream, FakeEmbedder, FakeKBs, SlowLLM, free_port, live_server

REDIS = "redis://127.0.0.1:6379/0"
HIT, MISS = "hit", "miss"


class CountingEmbedder(FakeEmbedder):
    """FakeEmbedder that records each batch it was asked to embed."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.batches.append(list(texts))
        return super().embed_documents(texts)


class FlakyLLM(FakeLLM):
    """Fails its first ``failures`` generations with a BackendError, then echoes."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def stream(self, messages: Sequence[Message], params: SamplingParams, *, constraint=None):  # type: ignore[override]
        if self.failures > 0:
            self.failures -= 1
            self.calls.append(list(messages))
            raise BackendError("the model fell over", hint="try again")
        yield from super().stream(messages, params, constraint=constraint)


class CutShortLLM(FakeLLM):
    """Reports its generations as cancelled (as a backend stopped from outside would)."""

    def stream(self, messages: Sequence[Message], params: SamplingParams, *, constraint=None):  # type: ignore[override]
        for d in super().stream(messages, params, constraint=constraint):
            yield Delta(d.text, finish_reason="cancelled", usage=d.usage) if d.finish_reason else d


class Server:
    def __init__(self, tmp_path, llm=None, cache=None, **overrides) -> None:
        self.settings = Settings(home=tmp_path / "home", model="fake:", **overrides)
        self.llm = llm or FakeLLM()
        self.embedder = CountingEmbedder()
        self.kbs = FakeKBs()
        self.answers: list[str] = []

        def answer(q, **o):
            self.answers.append(q)
            return FakeAnswerStream(self.kbs, q, **o)

        app = create_app(
            self.settings,
            engine_factory=lambda spec: Engine(self.llm, self.settings),
            cache=cache,
            kb_factory=self.kbs,
            kb_lister=self.kbs.names,
            answer_factory=answer,
            embedder=self.embedder,
        )
        self.client = TestClient(app, base_url="http://localhost")  # no keys: loopback Host only

    def chat(self, content="hello there", headers=None, **kw):
        body = {"model": "fake:", "messages": [{"role": "user", "content": content}], **kw}
        return self.client.post("/v1/chat/completions", json=body, headers=headers or {})

    def embed(self, texts, **kw):
        return self.client.post("/v1/embeddings", json={"model": "fake-embed", "input": texts, **kw})

    def audit(self) -> list[sqlite3.Row]:
        db = sqlite3.connect(self.settings.home / "audit.db")
        db.row_factory = sqlite3.Row
        return db.execute("SELECT * FROM requests ORDER BY id").fetchall()

    def metric(self, kind: str, result: str) -> float:
        line = f'genloom_cache_requests_total{{kind="{kind}",result="{result}"}} '
        for row in self.client.get("/metrics").text.splitlines():
            if row.startswith(line):
                return float(row[len(line) :])
        return 0.0


@pytest.fixture
def srv(tmp_path) -> Server:
    return Server(tmp_path)


def content(r: httpx.Response) -> str:
    return r.json()["choices"][0]["message"]["content"]


# -- chat and text completions ----------------------------------------------------------------------------
def test_identical_greedy_requests_generate_once(srv):
    a, b = srv.chat(temperature=0), srv.chat(temperature=0)
    assert a.status_code == b.status_code == 200
    assert (a.headers["x-genloom-cache"], b.headers["x-genloom-cache"]) == (MISS, HIT)
    assert len(srv.llm.calls) == 1  # the second never reached the engine
    assert content(a) == content(b) == "You said: hello there"
    assert a.json()["usage"] == b.json()["usage"]
    assert b.json()["id"].startswith("chatcmpl-") and b.json()["id"] != a.json()["id"]  # a fresh id
    assert b.json()["created"] >= a.json()["created"]
    assert srv.metric("chat", HIT) == 1 and srv.metric("chat", MISS) == 1
    rows = srv.audit()
    assert [r["cache_hit"] for r in rows] == [0, 1]
    assert rows[1]["output"] == "You said: hello there" and rows[1]["request_id"] == b.json()["id"]
    assert rows[1]["finish_reason"] == "stop" and rows[1]["completion_tokens"] == 4
    # tokens processed: only the generated request's count
    assert 'genloom_tokens_total{direction="out",model="fake:"} 4.0' in srv.client.get("/metrics").text


def test_text_completions_are_cached_too(srv):
    body = {"model": "fake:", "prompt": "hi", "temperature": 0}
    a, b = (srv.client.post("/v1/completions", json=body) for _ in range(2))
    assert (a.headers["x-genloom-cache"], b.headers["x-genloom-cache"]) == (MISS, HIT)
    assert a.json()["choices"][0]["text"] == b.json()["choices"][0]["text"] == "You said: hi"
    assert b.json()["object"] == "text_completion" and b.json()["id"].startswith("cmpl-")
    assert len(srv.llm.calls) == 1 and srv.metric("completion", HIT) == 1
    # a chat request with the same text is another kind of request: not the completion's entry
    assert srv.chat("hi", temperature=0).headers["x-genloom-cache"] == MISS


def test_seeded_sampling_is_cached_unseeded_never(srv):
    a, b = (srv.chat("one two three four", temperature=0.8, seed=7) for _ in range(2))
    assert (a.headers["x-genloom-cache"], b.headers["x-genloom-cache"]) == (MISS, HIT)
    assert content(a) == content(b)
    assert srv.chat("one two three four", temperature=0.8, seed=8).headers["x-genloom-cache"] == MISS
    calls = len(srv.llm.calls)
    for _ in range(2):
        r = srv.chat("one two three four", temperature=0.8)
        assert r.status_code == 200 and "x-genloom-cache" not in r.headers
    r = srv.chat("one two three four")  # the server's default temperature is not 0: not reproducible
    assert "x-genloom-cache" not in r.headers
    assert len(srv.llm.calls) == calls + 3


def test_streams_are_never_cached(srv):
    for _ in range(2):
        r = srv.chat(temperature=0, stream=True)
        assert r.status_code == 200 and "x-genloom-cache" not in r.headers
    assert len(srv.llm.calls) == 2
    # and a streamed answer does not fill the cache for a plain request either
    assert srv.chat(temperature=0).headers["x-genloom-cache"] == MISS
    # nor is a stream answered from what a plain request left there: it streams, from the engine
    r = srv.chat(temperature=0, stream=True)
    assert r.headers["content-type"].startswith("text/event-stream") and r.text.endswith("data: [DONE]\n\n")
    assert len(srv.llm.calls) == 4


def test_every_parameter_is_part_of_the_key(srv):
    assert srv.chat(temperature=0).headers["x-genloom-cache"] == MISS
    for kw in ({"max_tokens": 2}, {"stop": ["there"]}, {"seed": 1}, {"top_p": 0.5}, {"top_k": 3},
               {"repetition_penalty": 1.3}, {"response_format": {"type": "text"}}, {"repeat_penalty": 1.2}):  # fmt: skip
        assert srv.chat(temperature=0, **kw).headers["x-genloom-cache"] == MISS, kw
    # the documented bookkeeping fields change nothing the model sees: the same answer
    assert srv.chat(temperature=0, user="someone").headers["x-genloom-cache"] == HIT
    assert srv.chat("hello  there", temperature=0).headers["x-genloom-cache"] == MISS
    r = srv.chat(temperature=0, max_tokens=2)
    assert r.headers["x-genloom-cache"] == HIT and r.json()["choices"][0]["finish_reason"] == "length"
    # max_tokens: what the engine gets counts, not how the request spelled it
    r = srv.chat(temperature=0, max_completion_tokens=2)
    assert r.headers["x-genloom-cache"] == HIT and content(r) == "You said: "


def test_cache_control_no_cache_and_no_store(srv):
    srv.chat(temperature=0)
    r = srv.chat(temperature=0, headers={"Cache-Control": "no-cache"})
    assert r.headers["x-genloom-cache"] == MISS and len(srv.llm.calls) == 2
    assert srv.chat(temperature=0).headers["x-genloom-cache"] == HIT
    # no-store: not looked up, and its answer is not kept
    r = srv.chat("secret", temperature=0, headers={"Cache-Control": "max-age=0, No-Store"})
    assert r.headers["x-genloom-cache"] == MISS and r.status_code == 200
    assert srv.chat("secret", temperature=0).headers["x-genloom-cache"] == MISS
    assert srv.chat("secret", temperature=0).headers["x-genloom-cache"] == HIT
    assert len(srv.llm.calls) == 4


def test_errors_are_not_cached(tmp_path):
    srv = Server(tmp_path, llm=FlakyLLM(failures=1))
    r = srv.chat(temperature=0)
    assert r.status_code == 502 and r.json()["error"]["code"] == "backend_error"
    r = srv.chat(temperature=0)
    assert r.status_code == 200 and r.headers["x-genloom-cache"] == MISS and len(srv.llm.calls) == 2
    assert srv.chat(temperature=0).headers["x-genloom-cache"] == HIT
    # a refused request (bad parameter, unknown model) is an error before any lookup
    assert srv.chat(temperature=0, max_tokens=10**6).status_code == 400
    assert srv.chat(temperature=0, model="nope").status_code == 404


def test_an_answer_the_engine_reports_cancelled_is_not_cached(tmp_path):
    srv = Server(tmp_path, llm=CutShortLLM())
    for _ in range(2):
        r = srv.chat(temperature=0)
        assert r.status_code == 200 and r.headers["x-genloom-cache"] == MISS
    assert len(srv.llm.calls) == 2


def test_rag_answers_are_never_cached(srv):
    srv.client.post(
        "/v1/kb/docs/documents", files=[("files", ("k.txt", b"Kettles boil water.", "text/plain"))]
    )
    body = {"model": "rag:docs", "messages": [{"role": "user", "content": "Do kettles boil water?"}],
            "temperature": 0}  # fmt: skip
    for _ in range(2):
        r = srv.client.post("/v1/chat/completions", json=body)
        assert r.status_code == 200 and "x-genloom-cache" not in r.headers
    assert len(srv.answers) == 2


def test_hits_count_against_the_request_limit_but_charge_no_tokens(tmp_path):
    srv = Server(tmp_path, rate_limit_tpm=10)
    # the first generates 8 tokens (2 left in the bucket); hits charge none, so the bucket stays above 1
    assert [srv.chat(temperature=0).status_code for _ in range(4)] == [200] * 4
    assert len(srv.llm.calls) == 1
    srv = Server(tmp_path / "b", rate_limit_rpm=2)
    codes = [srv.chat(temperature=0).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_cache_ttl_zero_turns_caching_off(tmp_path):
    srv = Server(tmp_path, cache_ttl=0, cache=MemoryCache(1000))  # even an injected cache
    for _ in range(2):
        assert "x-genloom-cache" not in srv.chat(temperature=0).headers
    assert len(srv.llm.calls) == 2


def test_cached_entries_expire_after_cache_ttl(tmp_path):
    now = [0.0]
    srv = Server(tmp_path, cache_ttl=30, cache=MemoryCache(10**6, clock=lambda: now[0]))
    srv.chat(temperature=0)
    now[0] = 29
    assert srv.chat(temperature=0).headers["x-genloom-cache"] == HIT
    now[0] = 30
    assert srv.chat(temperature=0).headers["x-genloom-cache"] == MISS and len(srv.llm.calls) == 2


def test_keys_do_not_share_entries(tmp_path):
    srv = Server(tmp_path, api_keys="alice=sk-a bob=sk-b")
    alice, bob = {"Authorization": "Bearer sk-a"}, {"Authorization": "Bearer sk-b"}
    assert srv.chat(temperature=0, headers=alice).headers["x-genloom-cache"] == MISS
    assert srv.chat(temperature=0, headers=bob).headers["x-genloom-cache"] == MISS  # no cross-key hints
    assert srv.chat(temperature=0, headers=alice).headers["x-genloom-cache"] == HIT


def test_an_unreachable_redis_cache_fails_open(tmp_path):
    pytest.importorskip("redis")
    cache = RedisCache(f"redis://127.0.0.1:{free_port()}/0", "x:")
    srv = Server(tmp_path, cache=cache)
    for _ in range(2):
        r = srv.chat(temperature=0)
        assert r.status_code == 200 and r.headers["x-genloom-cache"] == MISS and content(r)
    assert len(srv.llm.calls) == 2 and cache.errors == 4  # two lookups, two writes


def test_a_cancelled_generation_is_not_cached(tmp_path):
    llm = SlowLLM(delay=0.05, n=30)  # 1.5 s for the whole answer
    s = Settings(home=tmp_path / "home", model="slow:")
    app = create_app(s, engine_factory=lambda spec: Engine(llm, s))
    body = {"model": "slow:", "messages": [{"role": "user", "content": "go"}], "temperature": 0}
    with live_server(app) as url:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{url}/v1/chat/completions", json=body, timeout=0.4)  # the client gives up
        deadline = time.monotonic() + 10
        while not llm.closed_early and time.monotonic() < deadline:
            time.sleep(0.05)
        assert llm.closed_early == [True]
        r = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=30)
        assert r.status_code == 200 and r.headers["x-genloom-cache"] == MISS
        assert r.json()["choices"][0]["message"]["content"] == "tok " * 30
        r = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=30)
        assert r.headers["x-genloom-cache"] == HIT and llm.produced[-1] == 30 and len(llm.produced) == 2


# -- embeddings -------------------------------------------------------------------------------------------
def test_embeddings_embed_only_the_texts_not_cached(srv):
    a = srv.embed(["red apple", "blue sky"]).json()
    b = srv.embed(["blue sky", "green grass grows", "red apple"]).json()
    assert srv.embedder.batches == [["red apple", "blue sky"], ["green grass grows"]]  # one batch of misses
    expected = FakeEmbedder().embed_documents(["blue sky", "green grass grows", "red apple"])
    assert np.allclose(np.array([d["embedding"] for d in b["data"]]), expected, atol=1e-6)
    assert [d["index"] for d in b["data"]] == [0, 1, 2]
    assert a["usage"] == {"prompt_tokens": 4, "total_tokens": 4}
    assert b["usage"] == {"prompt_tokens": 7, "total_tokens": 7}  # all inputs, cached or not
    c = srv.embed("red apple", encoding_format="base64", dimensions=4).json()
    assert len(srv.embedder.batches) == 2 and c["usage"]["prompt_tokens"] == 2
    assert len(np.frombuffer(base64.b64decode(c["data"][0]["embedding"]), "<f4")) == 4
    srv.embed(["new one", "new one"])  # a text repeated in one request is embedded once
    assert srv.embedder.batches[-1] == ["new one"]
    assert srv.metric("embedding", HIT) == 3 and srv.metric("embedding", MISS) == 5
    rows = srv.audit()
    assert [r["cache_hit"] for r in rows] == [0, 0, 1, 0]
    assert json.loads(rows[1]["prompt"]) == ["blue sky", "green grass grows", "red apple"]


def test_embeddings_charge_only_what_was_embedded(tmp_path):
    srv = Server(tmp_path, rate_limit_tpm=5)
    assert srv.embed(["one two three four"]).status_code == 200  # 4 tokens: 1 left
    assert [srv.embed(["one two three four"]).status_code for _ in range(3)] == [200] * 3
    assert len(srv.embedder.batches) == 1


# -- two real server processes sharing the cache through Redis --------------------------------------------


def test_a_response_from_one_process_is_a_hit_on_another(tmp_path, prefix):
    import redis

    env = {"GENLOOM_REDIS_URL": REDIS, "GENLOOM_REDIS_PREFIX": prefix, "GENLOOM_API_KEYS": "alice=sk-a"}
    procs = [genloom_serve(tmp_path / f"home{i}", "-m", "fake:", env=env) for i in range(2)]
    try:
        (_, a), (_, b) = procs
        h = {"Authorization": "Bearer sk-a"}
        body = {
            "model": "fake:",
            "messages": [{"role": "user", "content": "shared answer"}],
            "temperature": 0,
        }
        ra = httpx.post(f"{a}/v1/chat/completions", json=body, headers=h, timeout=30)
        rb = httpx.post(f"{b}/v1/chat/completions", json=body, headers=h, timeout=30)
        assert (ra.status_code, rb.status_code) == (200, 200)
        assert (ra.headers["x-genloom-cache"], rb.headers["x-genloom-cache"]) == (MISS, HIT)
        assert content(rb) == content(ra) == "You said: shared answer"
        assert (
            'genloom_cache_requests_total{kind="chat",result="hit"} 1.0'
            in httpx.get(f"{b}/metrics", headers=h).text
        )
        # process B generated nothing: its token counter never moved
        assert (
            'genloom_tokens_total{direction="out",model="fake:"} 0.0'
            in httpx.get(f"{b}/metrics", headers=h).text
        )
        r = redis.Redis.from_url(REDIS)
        keys = sorted(k.decode() for k in r.scan_iter(f"{prefix}*"))
        assert [k.split(":")[2:4] for k in keys if ":cache:" in k] == [["cache", "chat"]]
        assert all(0 < r.ttl(k) <= 3600 for k in keys if ":cache:" in k)
        r.close()
    finally:
        for proc, _ in procs:
            proc.terminate()
            proc.communicate(timeout=10)
