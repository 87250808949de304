"""The openai: LLM backend and embedder against real OpenAI-compatible servers started here:
genloom's own ``genloom serve`` (a real process) and llama-cpp-python's server on the bundled GGUF.
Failures (429/503, Retry-After, refused connections) come from a real loopback proxy."""

from __future__ import annotations

import json

import numpy as np
import pytest

from genloom.backends.embed import resolve_embedder
from genloom.backends.embed.hashing import HashingEmbedder
from genloom.backends.embed.openai import OpenAIEmbedder
from genloom.backends.llm import resolve_llm
from genloom.backends.llm.openai import OpenAILLM
from genloom.backends.openai_http import OpenAIClient, retry_after_seconds
from genloom.errors import BackendError, UserError
from genloom.generate import Engine
from genloom.settings import Settings
from genloom.types import Message, SamplingParams
from openai_helpers import failing_proxy, genloom_serve, llama_cpp_server
from serve_fakes import free_port

KEY = "sk-openai-backend-test"
JSON_REPLY = '{"name": "Ann", "age": 30}'
PERSON = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
          "required": ["name", "age"]}  # fmt: skip


@pytest.fixture(scope="module")
def genloom_url(tmp_path_factory):
    home = tmp_path_factory.mktemp("served")
    env = {"GENLOOM_API_KEYS": f"tester={KEY}", "GENLOOM_EMBEDDER": "hash:", "GENLOOM_RATE_LIMIT_RPM": "0"}
    proc, url = genloom_serve(home, "-m", "fake:", "-m", f"fake:{JSON_REPLY}", env=env)
    yield f"{url}/v1"
    proc.terminate()
    proc.communicate(timeout=10)


@pytest.fixture(scope="module")
def llama_url():
    with llama_cpp_server() as url:
        yield url


def backend(url: str, model: str = "fake:", **kw) -> OpenAILLM:
    kw.setdefault("api_key", KEY)
    return OpenAILLM(url, model, **kw)


def quick_client(url: str, sleeps: list[float] | None = None, retries: int = 3) -> OpenAIClient:
    return OpenAIClient(url, KEY, max_retries=retries, backoff=0.01,
                        sleep=(sleeps.append if sleeps is not None else lambda s: None))  # fmt: skip


# -- against genloom serve ---------------------------------------------------------------------------
def test_streams_exact_text_and_server_usage(genloom_url):
    eng = Engine(backend(genloom_url))
    s = eng.stream("tea is green", SamplingParams(temperature=0, seed=3))
    pieces = list(s)
    assert "".join(pieces) == "You said: tea is green" and len(pieces) > 1  # really streamed, piece by piece
    c = s.completion
    assert c.finish_reason == "stop" and c.seed == 3
    assert (c.usage.prompt_tokens, c.usage.completion_tokens) == (5, 5)  # the server's count, not an estimate
    assert c.model == f"openai:{genloom_url}#fake:"


def test_stop_sequence_and_length(genloom_url):
    eng = Engine(backend(genloom_url))
    c = eng.generate("alpha beta gamma delta", SamplingParams(temperature=0, stop=["gamma"]))
    assert c.text == "You said: alpha beta " and c.finish_reason == "stop"
    c = eng.generate("alpha beta gamma delta", SamplingParams(temperature=0, max_tokens=3))
    assert c.text == "You said: alpha " and c.finish_reason == "length"


def test_seed_is_sent(genloom_url):
    eng = Engine(backend(genloom_url))
    runs = {eng.generate("one two three four five six", SamplingParams(temperature=1, seed=s)).text
            for s in (11, 11, 12)}  # fmt: skip
    assert len(runs) == 2  # the fake shuffles by seed: same seed same text, another seed another order


def test_closing_early_stops(genloom_url):
    eng = Engine(backend(genloom_url))
    s = eng.stream("a b c d e f g h", SamplingParams(temperature=0))
    it = iter(s)
    assert next(it)
    it.close()
    assert s.completion is not None and s.completion.finish_reason == "cancelled"


def test_structured_output_sends_response_format(genloom_url):
    bodies: list[bytes] = []
    with failing_proxy(genloom_url, [], bodies) as (url, _):
        b = OpenAILLM(url, f"fake:{JSON_REPLY}", client=quick_client(url))
        r = Engine(b).structured("Who?", PERSON, SamplingParams(temperature=0))
        Engine(b).generate("a b", SamplingParams(temperature=0, seed=9, stop=["x"]), system="be brief")
    assert r.value == {"name": "Ann", "age": 30} and r.attempts == 1
    sent = json.loads(bodies[0])
    assert sent["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": PERSON},
    }
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    plain = json.loads(bodies[1])
    assert "response_format" not in plain and plain["seed"] == 9 and plain["stop"] == ["x"]
    assert plain["messages"][0] == {"role": "system", "content": "be brief"}


def test_errors_map_to_the_tree(genloom_url):
    with pytest.raises(UserError) as e:
        Engine(backend(genloom_url, api_key=None)).generate("hi")
    assert "401" in e.value.message and "GENLOOM_OPENAI_API_KEY" in (e.value.hint or "")
    with pytest.raises(UserError) as e:
        Engine(backend(genloom_url, "no-such-model")).generate("hi")
    assert "404" in e.value.message
    dead = f"http://127.0.0.1:{free_port()}/v1"
    b = OpenAILLM(dead, "m", client=quick_client(dead, retries=2))
    with pytest.raises(BackendError) as e:
        Engine(b).generate("hi")
    assert e.value.retryable and "cannot reach" in e.value.message and b.client.retries == 2


def test_retries_429_and_503_honouring_retry_after(genloom_url):
    sleeps: list[float] = []
    with failing_proxy(genloom_url, [(429, "7"), (503, None)]) as (url, answered):
        b = OpenAILLM(url, "fake:", client=quick_client(url, sleeps))
        assert (
            Engine(b).generate("still there", SamplingParams(temperature=0)).text == "You said: still there"
        )
    assert answered == [429, 503, 200]
    assert sleeps[0] == 7  # Retry-After wins over the backoff
    assert 0 < sleeps[1] <= 0.02  # exponential backoff with jitter: 0.01 * 2**1 * [0.5, 1)


def test_retries_give_up_with_a_retryable_backend_error(genloom_url):
    with failing_proxy(genloom_url, [(503, "0")] * 3) as (url, answered):
        b = OpenAILLM(url, "fake:", client=quick_client(url, retries=2))
        with pytest.raises(BackendError) as e:
            Engine(b).generate("hi")
    assert e.value.retryable and "503" in e.value.message and answered == [503, 503, 503]


def test_retry_after_parsing():
    assert retry_after_seconds("3") == 3 and retry_after_seconds(None) is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0  # a date in the past: go now
    assert retry_after_seconds("soon") is None


def test_selected_by_setting_with_key_from_env(genloom_url, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    b = resolve_llm(None, Settings(model=f"openai:{genloom_url}#fake:", n_ctx=1024))
    assert isinstance(b, OpenAILLM) and b.info().context_length == 1024
    assert not b.capabilities.exact_tokens and not b.capabilities.logits and b.capabilities.remote
    assert Engine(b).generate("hello there", SamplingParams(temperature=0)).text == "You said: hello there"
    assert b.count_prompt_tokens([Message("user", "x" * 40)]) == 10 + 4 + 2  # chars/4 + per-message + priming


@pytest.mark.parametrize(
    "spec", ["openai:", "openai:127.0.0.1:8000/v1#m", "openai:http://h/v1", "openai:http://h/v1#"]
)
def test_bad_specs_say_what_to_type(spec):
    with pytest.raises(UserError) as e:
        resolve_llm(spec)
    assert "openai:http://127.0.0.1:8000/v1#" in (e.value.hint or "")


def test_embedder_batches_against_genloom_serve(genloom_url, monkeypatch):
    monkeypatch.setenv("GENLOOM_OPENAI_API_KEY", KEY)
    emb = resolve_embedder(f"openai:{genloom_url}#hash", Settings())
    assert isinstance(emb, OpenAIEmbedder)
    emb.batch_size = 2
    texts = ["green tea", "black tea", "oolong", "water at 80 degrees", "boiling"]
    got = emb.embed_documents(texts)
    want = HashingEmbedder(384).embed_documents(texts)
    assert got.shape == (5, 384) and emb.requests == 3 and emb.dim == 384
    assert np.allclose(got, want, atol=1e-6)
    assert np.allclose(emb.embed_query("oolong"), want[2], atol=1e-6)
    assert emb.info()["id"] == f"openai:{genloom_url}#hash"


# -- against llama-cpp-python's server with the bundled GGUF ----------------------------------------------
@pytest.mark.model
def test_llama_cpp_server_streaming_usage_and_length(llama_url):
    eng = Engine(OpenAILLM(llama_url, "smollm2"))
    s = eng.stream("Name three colours.", SamplingParams(max_tokens=12, temperature=0, seed=1))
    pieces = list(s)
    assert len(pieces) > 1 and s.completion.finish_reason == "length"
    assert s.completion.usage.completion_tokens == 12 and s.completion.usage.prompt_tokens > 5


@pytest.mark.model
def test_llama_cpp_server_stop_and_seed(llama_url):
    eng = Engine(OpenAILLM(llama_url, "smollm2"))
    p = SamplingParams(max_tokens=16, temperature=0, seed=1)
    full = eng.generate("Write one sentence about the sea.", p).text
    word = full.split()[len(full.split()) // 2]
    cut = eng.generate(
        "Write one sentence about the sea.", SamplingParams(max_tokens=16, temperature=0, stop=[word])
    )
    assert cut.text == full[: full.index(word)] and cut.finish_reason == "stop"
    hot = SamplingParams(max_tokens=8, temperature=1.0, seed=42)
    assert eng.generate("Tell me a story.", hot).text == eng.generate("Tell me a story.", hot).text


@pytest.mark.model
def test_llama_cpp_server_structured_and_retry(llama_url):
    b = OpenAILLM(llama_url, "smollm2")
    r = Engine(b).structured(
        "Give a person named Ann aged 30 as JSON.", PERSON, SamplingParams(max_tokens=60, temperature=0)
    )
    assert set(r.value) >= {"name", "age"} and isinstance(r.value["age"], int)
    assert b._rf_dialect == "schema-in-json-object"  # learned from the server's 'json_schema' refusal
    with failing_proxy(llama_url, [(503, "0"), (429, None)]) as (url, answered):
        b = OpenAILLM(url, "smollm2", client=quick_client(url))
        c = Engine(b).generate("Say hi.", SamplingParams(max_tokens=5, temperature=0))
    assert c.text and answered == [503, 429, 200] and b.client.retries == 2
