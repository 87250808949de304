"""The cascade:SMALL|BIG spec and the router (issue 21): which model answers, why, what it costs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from genloom.backends.llm import resolve_llm
from genloom.errors import UserError
from genloom.generate import Engine
from genloom.kb import KnowledgeBase
from genloom.route.router import parse_rules, pick
from genloom.serve import create_app
from genloom.settings import Settings
from genloom.types import SamplingParams

DATA = Path(__file__).parent / "data" / "injection"
GOOD = "To stop a package from being upgraded, mark it as held with apt-mark hold [1]."
BAD = "Packages are held by the Debian security team in Paris [1]. Call them."
SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}


def run(spec, prompt="hi", **kw):
    s = Engine(spec).stream(prompt, SamplingParams(temperature=0, seed=1), **kw)
    text = "".join(s)
    return text, s.completion


@pytest.mark.parametrize(
    ("small", "accepted", "reason"),
    [('{"a": 1}', True, "valid against the schema"), ('{"a": "one"}', False, "output is invalid")],
)
def test_structured_output_is_checked_by_its_schema(small, accepted, reason):
    from genloom.structured import Constraint

    text, c = run(f'cascade:fake:{small}|fake:{{"a": 2}}', constraint=Constraint.json_schema(SCHEMA))
    assert (
        c.route["model"] == (f"fake:{small}" if accepted else 'fake:{"a": 2}') and reason in c.route["reason"]
    )
    assert json.loads(text)["a"] == (1 if accepted else 2)
    assert c.route["cascade"][0]["accepted"] is accepted


def test_chat_without_a_confidence_signal_goes_to_the_big_model():
    text, c = run("cascade:fake:small says|fake:big says")
    assert text == "big says" and c.route["model"] == "fake:big says"
    assert c.route["reason"] == "escalated: no confidence signal from the small model"


@pytest.mark.parametrize(
    "spec", ["cascade:fake:", "cascade:fake:|", "cascade:a:|b:|c:", "cascade:cascade:x|fake:"]
)
def test_bad_cascade_specs(spec):
    with pytest.raises(UserError):
        resolve_llm(spec)


def test_bad_threshold_setting():
    with pytest.raises(UserError, match="cascade_min_logprob"):
        resolve_llm("cascade:fake:a|fake:b", Settings(cascade_min_logprob="high"))


@pytest.mark.model
@pytest.mark.slow  # two llama.cpp contexts (generation and scoring) on a shared 2-core box
def test_mean_logprob_on_the_bundled_model_accepts_its_own_greedy_reply():
    from genloom.route.confidence import mean_logprob
    from genloom.types import Message

    llm = resolve_llm("llamacpp:")
    msgs = [Message("user", "What is the capital of France?")]
    own = Engine(llm).generate(msgs, SamplingParams(temperature=0, max_tokens=16, seed=0)).text
    mine, noise = mean_logprob(llm, msgs, own), mean_logprob(llm, msgs, "zebra quantum pickle seventeen")
    assert mine is not None and noise is not None and mine > noise + 1.0
    s = Settings(cascade_min_logprob="-0.0001")
    hi = Engine("cascade:llamacpp:|fake:BIG", s).generate("What is the capital of France?",
                                                          SamplingParams(temperature=0, max_tokens=16, seed=0))  # fmt: skip
    assert hi.text == "BIG" and "< -0.0001" in hi.route["reason"]


# -- grounded answers ----------------------------------------------------------------------------------
@pytest.fixture
def served(tmp_path):
    def make(models, **kw):
        s = Settings(home=tmp_path / "home", embedder="hash:", **kw)
        kb = KnowledgeBase.open("demo", create=True, settings=s, embedder="hash:")
        kb.ingest([DATA / "packages.md"])
        kb.close()
        return TestClient(create_app(s, models=models), base_url="http://localhost")

    return make


def ask(c, **kw):
    q = {"role": "user", "content": "How do I stop a package from being upgraded?"}
    return c.post("/v1/chat/completions", json={"model": "rag:demo", "messages": [q], **kw})


@pytest.mark.parametrize(("small", "answered"), [(GOOD, "small"), (BAD, "big")])
def test_grounded_cascade_is_decided_by_claim_support(served, tmp_path, small, answered):
    spec = f"cascade:fake:{small}|fake:{GOOD}"
    c = served([spec], prices="fake:*=1000/1000")
    r = ask(c)
    assert r.status_code == 200, r.text
    body = r.json()
    want = f"fake:{small}" if answered == "small" else f"fake:{GOOD}"
    assert body["route"]["model"] == want and r.headers["x-genloom-model"] == want
    assert "apt-mark hold" in body["choices"][0]["message"]["content"]
    if answered == "big":
        assert r.headers["x-genloom-route"].startswith("escalated: ")
        tried = body["route"]["cascade"][0]
        u = body["usage"]  # the big model's tokens, plus the small model's that were tried first
        tokens = (
            u["prompt_tokens"] + u["completion_tokens"] + tried["prompt_tokens"] + tried["completion_tokens"]
        )
        assert tried["completion_tokens"] > 0 and u["cost"] == pytest.approx(tokens * 1000 / 1e6)
    import sqlite3

    row = sqlite3.connect(tmp_path / "home" / "audit.db").execute("SELECT route FROM requests").fetchone()
    assert json.loads(row[0])["model"] == want


def test_streamed_grounded_cascade_says_who_answered(served):
    c = served([f"cascade:fake:{BAD}|fake:{GOOD}"])
    r = ask(c, stream=True)
    assert r.headers["x-genloom-model"] == f"fake:{GOOD}"
    chunks = [json.loads(e[6:]) for e in r.text.split("\n\n") if e.startswith("data: {")]
    assert chunks[-1]["route"]["model"] == f"fake:{GOOD}"


# -- the router ----------------------------------------------------------------------------------------
def test_rules_parse_and_pick_in_order():
    rules = parse_rules(
        "key=alice & prompt_tokens>5 -> big: ; tenant=t:a -> mid: ; kb=docs -> kb: ; * -> small:"
    )
    counted = []

    def tokens():
        counted.append(1)
        return 10

    assert pick(rules, {"key": "alice"}, tokens)[0] == "big:"
    assert pick(rules, {"key": "bob", "tenant": ["t:a"]}, tokens)[0] == "mid:"
    assert pick(rules, {"key": "bob", "kb": "docs"}, lambda: 1)[0] == "kb:"
    assert pick(rules, {"key": "bob"}, lambda: 1)[0] == "small:"
    assert len(counted) == 1  # counted once, and only when a rule needed it
    assert pick(parse_rules("key=x -> a:"), {"key": "y"}, lambda: 0) is None


@pytest.mark.parametrize("raw", ["nonsense", "key=a ->", "colour=red -> a:", "prompt_tokens>x -> a:"])
def test_bad_rules(raw):
    with pytest.raises(UserError, match="routes"):
        parse_rules(raw)


def test_router_in_the_server(served):
    with pytest.raises(UserError, match="does not serve"):
        served(["fake:a"], routes="* -> fake:z")
    c = served(["fake:small", "fake:big"], api_keys="alice=sk-a bob=sk-b",
               routes="key=alice & prompt_tokens>3 -> fake:big ; template=summarizer -> fake:big")  # fmt: skip
    msg = lambda t: {"model": "fake:small", "messages": [{"role": "user", "content": t}]}  # noqa: E731
    long = c.post(
        "/v1/chat/completions", json=msg("one two three four five"), headers={"Authorization": "Bearer sk-a"}
    )
    assert (
        long.json()["choices"][0]["message"]["content"] == "big"
        and long.headers["x-genloom-model"] == "fake:big"
    )
    assert long.json()["route"]["rule"] == "key=alice & prompt_tokens>3 -> fake:big"
    short = c.post("/v1/chat/completions", json=msg("hi"), headers={"Authorization": "Bearer sk-a"})
    assert short.json()["choices"][0]["message"]["content"] == "small" and "route" not in short.json()
    bob = c.post(
        "/v1/chat/completions", json=msg("one two three four five"), headers={"Authorization": "Bearer sk-b"}
    )
    assert bob.json()["choices"][0]["message"]["content"] == "small"
    t = c.post(
        "/v1/templates/summarizer/run",
        json={"variables": {"text": "x"}},
        headers={"Authorization": "Bearer sk-b"},
    )
    assert t.status_code == 200 and t.json()["route"]["model"] == "fake:big" and t.json()["text"] == "big"
