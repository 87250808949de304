"""A real uvicorn server on loopback, driven by the real openai SDK and raw HTTP clients.

One server runs in this process (to inject fakes for the knowledge base, a slow model, small limits); one is
the real ``genloom serve`` process with the real bundled llama.cpp model.
"""

from __future__ import annotations

import base64
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import openai
import pytest

import genloom
from genloom.generate import Engine
from genloom.serve import create_app
from genloom.settings import Settings
from serve_fakes import FakeAnswerStream, FakeEmbedder, FakeKBs, SlowLLM, free_port, live_server

KEY = "sk-test-alice"


@pytest.fixture
def served(tmp_path):
    """A live server with a key, fakes for the KB/answers/embedder, and a KB holding one document."""
    kbs = FakeKBs()
    kb = kbs("docs", True)
    (tmp_path / "tea.txt").write_text("Green tea is brewed at 80 degrees. Black tea likes boiling water.")
    kb.ingest([tmp_path / "tea.txt"], principals=["tenant:a"])
    s = Settings(home=tmp_path / "home", model="fake:", api_keys=f"alice={KEY}@tenant:a", rate_limit_rpm=30)
    app = create_app(s, kb_factory=kbs, kb_lister=kbs.names, embedder=FakeEmbedder(),
                     answer_factory=lambda q, **o: FakeAnswerStream(kbs, q, **o))  # fmt: skip
    with live_server(app) as url:
        yield url


def sdk(url: str, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=60)


def test_openai_sdk_models_chat_stream_embeddings(served):
    client = sdk(served)
    assert [m.id for m in client.models.list()] == ["fake:", "fake-embed:", "rag:docs"]
    r = client.chat.completions.create(
        model="fake:", messages=[{"role": "user", "content": "hi you"}], temperature=0
    )
    assert r.choices[0].message.content == "You said: hi you" and r.usage.total_tokens == 8
    stream = client.chat.completions.create(
        model="fake:", messages=[{"role": "user", "content": "hi you"}], temperature=0, stream=True,
        stream_options={"include_usage": True},
    )  # fmt: skip
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "You said: hi you"
    assert chunks[-1].usage.completion_tokens == 4
    e = client.embeddings.create(model="fake-embed", input=["green tea", "black tea"])
    assert len(e.data) == 2 and len(e.data[0].embedding) == FakeEmbedder.dim
    raw = client.embeddings.with_raw_response.create(
        model="fake-embed", input="green tea", encoding_format="base64"
    )
    vec = np.frombuffer(base64.b64decode(raw.parse().data[0].embedding), dtype="<f4") if isinstance(
        raw.parse().data[0].embedding, str) else np.array(raw.parse().data[0].embedding)  # fmt: skip
    assert np.allclose(vec, FakeEmbedder().embed_documents(["green tea"])[0], atol=1e-6)


def test_openai_sdk_rag_citations(served):
    client = sdk(served)
    r = client.chat.completions.create(
        model="rag:docs", messages=[{"role": "user", "content": "How is green tea brewed?"}]
    )
    msg = r.choices[0].message
    assert msg.content == "Green tea is brewed at 80 degrees. [1]"
    assert msg.model_extra["refused"] is False and msg.model_extra["citations"][0]["source"] == "tea.txt"
    chunks = list(client.chat.completions.create(
        model="rag:docs", stream=True, messages=[{"role": "user", "content": "How is green tea brewed?"}]))  # fmt: skip
    final = chunks[-1].choices[0]
    assert final.finish_reason == "stop" and final.delta.model_extra["citations"][0]["n"] == 1


def test_openai_sdk_error_classes(served):
    with pytest.raises(openai.AuthenticationError):
        sdk(served, key="sk-wrong").models.list()
    client = sdk(served)
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(
            model="fake:", messages=[{"role": "user", "content": "x"}], temperature=5
        )
    assert e.value.body["param"] == "temperature"
    with pytest.raises(openai.RateLimitError) as rl:
        for _ in range(40):
            client.models.list()
    assert int(rl.value.response.headers["retry-after"]) >= 1


@pytest.fixture
def slow(tmp_path):
    llm = SlowLLM(delay=0.02, n=400)
    s = Settings(home=tmp_path / "home", model="slow:", queue_size=2)
    app = create_app(s, engine_factory=lambda spec: Engine(llm, s))
    with live_server(app) as url:
        yield url, llm, tmp_path / "home" / "audit.db"


def _stream_body(n: int) -> dict:
    return {
        "model": "slow:",
        "stream": True,
        "max_tokens": n,
        "messages": [{"role": "user", "content": "go"}],
    }


def test_disconnect_cancels_the_generation(slow):
    url, llm, audit = slow
    with httpx.Client(base_url=url, timeout=30) as http:
        with http.stream("POST", "/v1/chat/completions", json=_stream_body(400)) as r:
            lines = r.iter_lines()
            got = [next(lines) for _ in range(6)]  # a few chunks, then the client goes away
            assert any('"content":"tok ' in x for x in got)
        # the next request runs only after the abandoned one released the queue slot
        r = http.post("/v1/chat/completions", json={**_stream_body(3), "stream": False})
        assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "tok tok tok "
    assert llm.closed_early[0] is True and llm.produced[0] < 400  # stopped, not run to the end
    assert llm.produced[1] == 3
    metrics = httpx.get(f"{url}/metrics").text
    assert "genloom_generations_cancelled_total 1.0" in metrics
    row = (
        sqlite3.connect(audit)
        .execute("SELECT status, finish_reason FROM requests ORDER BY id LIMIT 1")
        .fetchone()
    )
    assert row == (499, "cancelled")


def test_clients_that_leave_are_not_served(slow):
    """A client that gives up while waiting its turn, or during a non-streamed generation, costs nothing."""
    url, llm, audit = slow
    with (
        httpx.Client(base_url=url, timeout=30) as a,
        a.stream("POST", "/v1/chat/completions", json=_stream_body(60)) as r1,
    ):
        lines = r1.iter_lines()
        next(lines)
        with pytest.raises(httpx.ReadTimeout):  # waits behind r1, then hangs up
            httpx.post(f"{url}/v1/chat/completions", json={**_stream_body(5), "stream": False}, timeout=0.3)
        rest = [x for x in lines if x]
    assert rest[-1] == "data: [DONE]"
    with pytest.raises(httpx.ReadTimeout):  # hangs up in the middle of a non-streamed generation
        httpx.post(f"{url}/v1/chat/completions", json={**_stream_body(400), "stream": False}, timeout=1.0)
    r = httpx.post(f"{url}/v1/chat/completions", json={**_stream_body(2), "stream": False}, timeout=30)
    assert r.json()["choices"][0]["message"]["content"] == "tok tok "
    # r1 ran 60 tokens; the one that left while waiting never reached the model; the non-streamed one stopped
    assert llm.produced[0] == 60 and llm.produced[1] < 400 and llm.closed_early[1] and llm.produced[2] == 2
    assert len(llm.produced) == 3
    statuses = sorted(r[0] for r in sqlite3.connect(audit).execute("SELECT status FROM requests"))
    assert statuses == [200, 200, 499, 499]  # the two that left are on record as client-closed


def test_full_queue_gives_503_with_retry_after(slow):
    url, _llm, _ = slow
    results: list[int] = []

    def waiting_client() -> None:  # admitted behind the running one (queue_size=2)
        results.append(httpx.post(f"{url}/v1/chat/completions", json=_stream_body(5), timeout=60).status_code)

    with (
        httpx.Client(base_url=url, timeout=30) as a,
        a.stream("POST", "/v1/chat/completions", json=_stream_body(400)) as r1,
    ):
        lines = r1.iter_lines()  # keep it: a dropped iterator closes the response (a disconnect)
        next(lines)
        t = threading.Thread(target=waiting_client)
        t.start()
        for _ in range(500):
            if httpx.get(f"{url}/healthz").json()["queue_depth"] == 2:
                break
            time.sleep(0.01)
        c = httpx.post(f"{url}/v1/chat/completions", json=_stream_body(5))
        assert c.status_code == 503 and int(c.headers["Retry-After"]) >= 1
        assert c.json()["error"]["code"] == "queue_full"
        with pytest.raises(openai.InternalServerError):
            sdk(url).chat.completions.create(model="slow:", messages=[{"role": "user", "content": "x"}])
    t.join(60)
    assert results == [200]  # the waiting client was served once the first one left


@pytest.mark.model
def test_genloom_serve_process_with_the_real_model(tmp_path):
    """`genloom serve` as a real process with the bundled SmolLM2: the SDK streams and cancels for real."""
    port = free_port()
    src = str(Path(genloom.__file__).resolve().parents[1])  # this checkout, whatever the cwd
    env = {**os.environ, "GENLOOM_HOME": str(tmp_path / "home"), "GENLOOM_N_CTX": "2048", "PYTHONPATH": src}
    cmd = [
        sys.executable,
        "-m",
        "genloom.cli.main",
        "serve",
        "--port",
        str(port),
        "-m",
        "llamacpp:",
        "-m",
        "fake:",
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            assert proc.poll() is None, proc.communicate()[1]
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        client = sdk(url, key="unused")
        msgs = [{"role": "user", "content": "What is the capital of France?"}]
        r = client.chat.completions.create(
            model="llamacpp:", messages=msgs, max_tokens=24, temperature=0, seed=1
        )
        assert r.choices[0].message.content.strip() and 0 < r.usage.completion_tokens <= 24
        pieces = [c.choices[0].delta.content for c in client.chat.completions.create(
            model="llamacpp:", messages=msgs, max_tokens=24, temperature=0, seed=1, stream=True) if c.choices]  # fmt: skip
        assert "".join(p or "" for p in pieces) == r.choices[0].message.content  # same seed, same text
        # a client that drops a long generation: the server stops it
        long = [{"role": "user", "content": "Write a very long story about a dragon, with many chapters."}]
        stream = client.chat.completions.create(
            model="llamacpp:", messages=long, max_tokens=1500, stream=True
        )
        for i, _ in enumerate(stream):
            if i == 5:
                break
        stream.close()
        r = client.chat.completions.create(model="llamacpp:", messages=msgs, max_tokens=8, temperature=0)
        assert r.usage.completion_tokens <= 8
        metrics = httpx.get(f"{url}/metrics").text
        assert "genloom_generations_cancelled_total 1.0" in metrics
        rows = sqlite3.connect(tmp_path / "home" / "audit.db").execute(
            "SELECT status, finish_reason, model FROM requests ORDER BY id").fetchall()  # fmt: skip
        assert rows[2][:2] == (499, "cancelled") and rows[3][:2] == (200, "length")
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=20)
    assert "no API keys are configured" not in err  # it was asked for 127.0.0.1 anyway
    assert f"http://127.0.0.1:{port}/" in err
