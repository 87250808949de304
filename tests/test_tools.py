"""Tool calls without a model: the OpenAI tools request, the text format's parser, validation, the grammar
(compiled by llguidance), the engine on a scripted black box, and the server's OpenAI framing."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from genloom import Engine, SamplingParams, UserError
from genloom.backends.llm.fake import FakeLLM
from genloom.serve import create_app
from genloom.settings import Settings
from genloom.structured import Constraint, InvalidOutput, parse_tools
from genloom.structured.tools import CallParser, grammar, render, validate_calls
from genloom.types import Message, ToolCall, ToolCallDelta
from serve_fakes import FakeEmbedder, FakeKBs

WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}  # fmt: skip
ADD = {"type": "function", "function": {"name": "add", "description": "Add two numbers",
       "parameters": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                      "required": ["a", "b"]}}}  # fmt: skip
CALL = '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>'


def test_parse_tools_names_the_bad_field():
    t = parse_tools([WEATHER, ADD], {"type": "function", "function": {"name": "add"}}, False)
    assert (
        t is not None and t.choice == "add" and not t.parallel and [f.name for f in t.callable()] == ["add"]
    )
    assert parse_tools(None) is None
    for bad, where in [
        ([{"type": "retrieval"}], "tools[0]"),
        ([{"type": "function", "function": {"name": "a b"}}], "tools[0].function.name"),
        ([WEATHER, WEATHER], "used twice"),
        ([{"type": "function", "function": {"name": "x", "parameters": {"type": "array"}}}], "object schema"),
        ([{"type": "function", "function": {"name": "x", "parameters": {"type": "nope"}}}], "parameters"),
    ]:
        with pytest.raises(UserError, match=where.replace("[", r"\[").replace("]", r"\]")):
            parse_tools(bad)
    with pytest.raises(UserError, match="not in tools"):
        parse_tools([WEATHER], {"type": "function", "function": {"name": "add"}})
    with pytest.raises(UserError, match="tool_choice needs tools"):
        parse_tools(None, "required")


def test_call_parser_streams_openai_frames_from_any_split():
    text = "\n".join([CALL, '<tool_call>{"name": "add", "arguments": {"a": 1, "b": 2}}</tool_call>'])
    for size in (1, 3, 7, len(text)):
        p = CallParser()
        out = [x for i in range(0, len(text), size) for x in p.feed(text[i : i + size])]
        out += list(p.finish())
        assert not any(isinstance(x, str) for x in out)
        heads = [x for x in out if isinstance(x, ToolCallDelta) and x.id]
        assert [(h.index, h.name) for h in heads] == [(0, "get_weather"), (1, "add")]
        assert [json.loads(c.arguments) for c in p.calls] == [{"city": "Paris"}, {"a": 1, "b": 2}]
        frags = "".join(x.arguments for x in out if isinstance(x, ToolCallDelta) and x.index == 1)
        assert json.loads(frags) == {"a": 1, "b": 2}
    p = CallParser()
    plain = [x for x in p.feed("<b>bold</b> text") if isinstance(x, str)] + list(p.finish())
    assert "".join(plain) == "<b>bold</b> text" and p.calls == []


def test_validate_calls_and_rendering():
    tools = parse_tools([WEATHER, ADD], "auto", False)
    assert tools is not None
    validate_calls([ToolCall("c1", "add", '{"a": 1, "b": 2}')], tools)
    for calls, why in [
        ([ToolCall("c", "nope", "{}")], "not one of"),
        ([ToolCall("c", "add", '{"a": 1')], "not valid JSON"),
        ([ToolCall("c", "add", '{"a": "x", "b": 1}')], "do not fit"),
        ([ToolCall("c", "add", '{"a": 1, "b": 1}')] * 2, "parallel_tool_calls is false"),
    ]:
        with pytest.raises(ValueError, match=why):
            validate_calls(calls, tools)
    history = [Message("user", "Weather?"), Message("assistant", "", [ToolCall("c1", "get_weather", '{"city":"Paris"}')]),
               Message("tool", "sunny", tool_call_id="c1")]  # fmt: skip
    out = render(history, tools)
    assert out[0].role == "system" and '"name":"get_weather"' in out[0].content
    assert out[2].content == CALL and out[3] == Message("tool", "sunny")


def test_grammar_compiles_for_every_choice():
    from llguidance import LLMatcher

    for choice, parallel in [("auto", True), ("required", False), ("add", True)]:
        tools = parse_tools([WEATHER, ADD], choice if choice != "add" else {"type": "function", "function": {"name": "add"}}, parallel)  # fmt: skip
        assert tools is not None
        assert LLMatcher.validate_grammar(LLMatcher.grammar_from_lark(grammar(tools))) == ""
    # a parameter keyword no grammar can mask (uniqueItems) is left to validation, not a compile error
    tags = {"type": "function", "function": {"name": "tag", "parameters": {"type": "object", "properties": {
        "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True}}}}}  # fmt: skip
    tagged = parse_tools([tags], "required")
    assert (
        tagged is not None and LLMatcher.validate_grammar(LLMatcher.grammar_from_lark(grammar(tagged))) == ""
    )
    # a response_format for the text branch compiles too
    c = Constraint.tool_calls(tools, text=Constraint.json_object())
    assert LLMatcher.validate_grammar(c.grammar()) == ""
    assert LLMatcher.validate_grammar(LLMatcher.grammar_from_lark("start: nope")) != ""  # the check can fail


def test_engine_black_box_calls_are_validated():
    e = Engine(FakeLLM([CALL]))
    c = e.generate("Weather in Paris?", SamplingParams(temperature=0), tools=[WEATHER])
    assert c.finish_reason == "tool_calls" and c.text == ""
    assert [(t.name, json.loads(t.arguments)) for t in c.tool_calls] == [("get_weather", {"city": "Paris"})]
    assert c.tool_calls[0].id.startswith("call_")
    with pytest.raises(InvalidOutput, match="not one of"):
        Engine(FakeLLM([CALL])).generate("x", SamplingParams(temperature=0), tools=[ADD])
    with pytest.raises(InvalidOutput, match="required"):
        Engine(FakeLLM(["just text"])).generate(
            "x", SamplingParams(temperature=0), tools=[ADD], tool_choice="required"
        )
    text = Engine(FakeLLM(["just text"])).generate("x", SamplingParams(temperature=0), tools=[ADD])
    assert text.text == "just text" and text.finish_reason == "stop" and text.tool_calls == []


@pytest.fixture
def client(tmp_path):
    def make(replies):
        s = Settings(home=tmp_path / "home", model="fake:")
        kbs = FakeKBs()
        app = create_app(s, engine_factory=lambda spec: Engine(FakeLLM(replies)), kb_factory=kbs,
                         kb_lister=kbs.names, embedder=FakeEmbedder())  # fmt: skip
        return TestClient(app, base_url="http://localhost")

    return make


def test_server_returns_and_streams_tool_calls(client):
    c = client([CALL])
    body = {
        "model": "fake:",
        "messages": [{"role": "user", "content": "Weather in Paris?"}],
        "tools": [WEATHER],
        "temperature": 0,
    }
    r = c.post("/v1/chat/completions", json=body)
    assert r.status_code == 200, r.text
    choice = r.json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    (call,) = choice["message"]["tool_calls"]
    assert call["type"] == "function" and call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}

    r = c.post("/v1/chat/completions", json={**body, "stream": True})
    events = [json.loads(e[6:]) for e in r.text.split("\n\n") if e.startswith("data: {")]
    pieces = [
        d["choices"][0]["delta"] for d in events if d["choices"] and "tool_calls" in d["choices"][0]["delta"]
    ]
    first = pieces[0]["tool_calls"][0]
    assert (
        first["index"] == 0 and first["id"].startswith("call_") and first["function"]["name"] == "get_weather"
    )
    args = "".join(p["tool_calls"][0]["function"]["arguments"] for p in pieces)
    assert json.loads(args) == {"city": "Paris"}
    assert events[-1]["choices"][0]["finish_reason"] == "tool_calls"

    # the tool result goes back as a role "tool" message and the model answers in text
    c2 = client(["It is sunny in Paris."])
    follow = {"model": "fake:", "tools": [WEATHER], "temperature": 0, "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": '{"sky": "sunny"}'}]}  # fmt: skip
    r = c2.post("/v1/chat/completions", json=follow)
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "It is sunny in Paris."


def test_server_rejects_bad_tools_by_name(client):
    c = client([CALL])
    base = {"model": "fake:", "messages": [{"role": "user", "content": "x"}]}
    for extra in [{"tools": [{"type": "function", "function": {"name": "x", "parameters": {"type": "array"}}}]},
                  {"tool_choice": "required"},
                  {"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "nope"}}}]:  # fmt: skip
        r = c.post("/v1/chat/completions", json={**base, **extra})
        assert r.status_code == 400, r.text
        assert r.json()["error"]["param"] == "tools"
    r = c.post("/v1/chat/completions", json={**base, "model": "rag:docs", "tools": [WEATHER]})
    assert r.status_code == 400 and r.json()["error"]["param"] == "tools"


def test_call_parser_reads_arguments_as_json():
    """A string argument may contain the closing marker itself: the arguments end where JSON says."""
    tricky = '<tool_call>{"name": "define", "arguments": {"word": "}}</tool_call> x"}}</tool_call>'
    for size in (1, 5, len(tricky)):
        p = CallParser()
        for i in range(0, len(tricky), size):
            list(p.feed(tricky[i : i + size]))
        assert [json.loads(c.arguments) for c in p.calls] == [{"word": "}}</tool_call> x"}]


def test_loop_closer_acts_inside_calls_only():
    """The closer narrows a looping call's tokens to closing ones, and leaves a plain-text answer alone."""
    import numpy as np

    from genloom.backends.llm.llamacpp.closer import CloseOnLoop

    pieces = {0: b"<tool_call>", 1: b"ab", 2: b'"', 3: b"}", 4: b"hello"}

    class Rt:
        n_vocab = 5

        def token_bytes(self, t):
            return pieces[t]

    def narrowed(first: int) -> np.ndarray:
        c = CloseOnLoop(Rt(), room=1000, only_after=b"<tool_call>")  # type: ignore[arg-type]
        c.accept([first, 1, 1, 1])  # "ab" three times: a loop
        logits = np.zeros(5, dtype=np.float32)
        c.process(logits)
        return np.isfinite(logits)

    assert narrowed(0).tolist() == [False, False, True, False, False]  # in a call: close the string
    assert narrowed(4).all()  # a text answer: untouched
