"""OpenAI conformance of the server with real clients (issue 18): logprobs, every field honoured or rejected."""

from __future__ import annotations

import httpx
import openai
import pytest

from genloom.serve import create_app
from genloom.settings import Settings
from serve_fakes import live_server

pytestmark = pytest.mark.model
MSGS = [{"role": "user", "content": "Name three colours."}]


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    home = tmp_path_factory.mktemp("conf")
    app = create_app(Settings(home=home, model="llamacpp:", n_ctx=2048), models=["llamacpp:", "fake:"])
    with live_server(app) as u:
        yield u


def sdk(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=120)


def test_chat_logprobs_with_the_openai_sdk(url):
    r = sdk(url).chat.completions.create(model="llamacpp:", messages=MSGS, max_tokens=8, temperature=0,
                                         logprobs=True, top_logprobs=2)  # fmt: skip
    content = r.choices[0].logprobs.content
    assert len(content) == r.usage.completion_tokens
    assert "".join(t.token for t in content) == r.choices[0].message.content
    assert all(t.logprob <= 0 and len(t.top_logprobs) == 2 for t in content)
    assert content[0].bytes == list(content[0].token.encode())
    pieces = list(sdk(url).chat.completions.create(model="llamacpp:", messages=MSGS, max_tokens=8, temperature=0,
                                                   logprobs=True, stream=True))  # fmt: skip
    streamed = [
        t for c in pieces if c.choices and c.choices[0].logprobs for t in c.choices[0].logprobs.content
    ]
    assert [t.token for t in streamed] == [t.token for t in content]
    assert [round(t.logprob, 4) for t in streamed] == [round(t.logprob, 4) for t in content]
    # without logprobs: null, as OpenAI answers
    r = sdk(url).chat.completions.create(model="llamacpp:", messages=MSGS, max_tokens=2, temperature=0)
    assert r.choices[0].logprobs is None


def test_completion_logprobs_legacy_shape(url):
    r = sdk(url).completions.create(model="llamacpp:", prompt="The sky is", max_tokens=6, temperature=0,
                                    logprobs=3)  # fmt: skip
    lp = r.choices[0].logprobs
    assert "".join(lp.tokens) == r.choices[0].text and len(lp.token_logprobs) == r.usage.completion_tokens
    assert all(len(t) <= 3 for t in lp.top_logprobs) and lp.text_offset[0] == 0


def test_logprobs_pass_through_an_openai_backend(url, tmp_path):
    """genloom in front of genloom: the upstream's log-probs come back unchanged through ``openai:``."""
    spec = f"openai:{url}/v1#llamacpp:"
    app = create_app(Settings(home=tmp_path, model=spec), models=[spec])
    with live_server(app) as front:
        kw = {"messages": MSGS, "max_tokens": 6, "temperature": 0, "logprobs": True, "top_logprobs": 1}
        via = sdk(front).chat.completions.create(model=spec, **kw).choices[0].logprobs.content
        direct = sdk(url).chat.completions.create(model="llamacpp:", **kw).choices[0].logprobs.content
    assert [(t.token, round(t.logprob, 4)) for t in via] == [(t.token, round(t.logprob, 4)) for t in direct]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"logit_bias": {"42": 5}}, "logit_bias"),
        ({"frequency_penalty": 0.5}, "frequency_penalty"),
        ({"n": 2}, "n"),
        ({"functions": [{"name": "f"}]}, "functions"),
        ({"top_logprobs": 2}, "top_logprobs"),
        ({"logprobs": True, "model": "fake:"}, None),
    ],
)
def test_fields_are_honoured_or_rejected_by_name(url, body, param):
    r = httpx.post(f"{url}/v1/chat/completions", json={"model": "llamacpp:", "messages": MSGS, "max_tokens": 2,
                                                       **body}, timeout=60)  # fmt: skip
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert (err["param"] or "").startswith(param or "") and (param or "logprobs") in err["message"]


@pytest.mark.parametrize(("body", "param"), [({"echo": True}, "echo"), ({"suffix": "x"}, "suffix"),
                                             ({"prompt": ["a", "b"]}, "prompt")])  # fmt: skip
def test_completion_fields_rejected_by_name(url, body, param):
    r = httpx.post(f"{url}/v1/completions", json={"model": "llamacpp:", "prompt": "x", "max_tokens": 2, **body},
                   timeout=60)  # fmt: skip
    assert r.status_code == 400 and (r.json()["error"]["param"] or "").startswith(param), r.text


def test_documented_bookkeeping_fields_are_accepted(url):
    r = sdk(url).chat.completions.create(model="llamacpp:", messages=MSGS, max_tokens=2, user="u1",
                                         metadata={"a": "b"}, store=False)  # fmt: skip
    assert r.choices[0].message.content is not None


def test_max_tokens_and_max_completion_tokens_both_bound_the_answer(url):
    """Both are upper bounds (OpenAI renamed one to the other): with both, the smaller holds — whichever it is."""
    for small, big in (("max_tokens", "max_completion_tokens"), ("max_completion_tokens", "max_tokens")):
        body = {"model": "llamacpp:", "messages": MSGS, "temperature": 0, small: 3, big: 40}
        r = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=120)
        assert r.status_code == 200, r.text
        assert r.json()["usage"]["completion_tokens"] == 3, (small, r.json())
