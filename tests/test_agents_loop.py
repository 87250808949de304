"""The agent loop with a scripted tool-calling model: steps, budgets, allow-list, errors as observations,
KB tools on a real SQLite knowledge base (hash embedder) with the ACL, and cited answers."""

from __future__ import annotations

import json
import logging

import pytest

import genloom
from agent_fakes import ScriptedModel, Turn, call
from genloom.agents import Tool, agent, run_agent
from genloom.errors import BackendError, UserError
from genloom.kb import KnowledgeBase
from genloom.types import Usage

GUIDE = """# Shipping guide

## Parcels

Parcels up to 20 kg ship with the standard service. Heavier parcels need a freight booking.

## Returns

Customers may return an item within 30 days of delivery. Refunds are paid within 5 business days.
"""


@pytest.fixture
def kb(tmp_path, monkeypatch):
    monkeypatch.setenv("GENLOOM_EMBEDDER", "hash:")
    (tmp_path / "guide.md").write_text(GUIDE)
    (tmp_path / "plans.txt").write_text("The secret merger with Acme closes in March.")
    base = KnowledgeBase.open("shop", create=True)
    base.ingest([tmp_path / "guide.md"])
    base.ingest([tmp_path / "plans.txt"], principals=["board"])
    base.close()
    return "shop"


def test_think_call_observe_answer():
    model = ScriptedModel(
        Turn("I need to multiply.", [call("calculator", expression="(200 - 30) * 3")], Usage(50, 12)),
        Turn("The result is 510.", usage=Usage(70, 6)),
    )
    run = run_agent("What is (200 - 30) * 3?", model, ["calculator"])
    events = [e.to_dict() for e in run]
    assert [e["type"] for e in events] == ["thought", "tool_call", "observation", "answer"]
    assert events[0] == {"type": "thought", "step": 1, "text": "I need to multiply.", "prompt_tokens": 50,
                         "completion_tokens": 12, "total_tokens": 62}  # fmt: skip
    assert events[1]["prompt_tokens"] == 0 and events[1]["arguments"] == '{"expression": "(200 - 30) * 3"}'
    assert events[2]["content"] == "510" and events[2]["ok"] is True
    assert events[3]["text"] == "The result is 510." and events[3]["total_tokens"] == 138
    r = run.result
    assert r.answer == "The result is 510." and r.stopped == "answer" and r.steps == 2
    assert r.usage.total_tokens == 138 and r.tools == ["calculator"]
    assert r.tool_calls == [{"step": 1, "id": "call_calculator", "name": "calculator",
                             "arguments": '{"expression": "(200 - 30) * 3"}', "ok": True, "error": None,
                             "result": "510"}]  # fmt: skip
    # what the model was sent: OpenAI tool specs, then its own call and the tool's result as messages
    first, second = model.calls
    assert [t["function"]["name"] for t in first["tools"]] == ["calculator"]
    assert first["tool_choice"] == "required" and first["params"].temperature == 0  # a tool before answering
    assert second["messages"][2]["tool_calls"][0]["function"] == {"name": "calculator",
                                                                  "arguments": '{"expression": "(200 - 30) * 3"}'}  # fmt: skip
    assert second["messages"][3] == {"role": "tool", "content": "510", "tool_call_id": "call_calculator",
                                     "name": "calculator"}  # fmt: skip


def test_a_tool_outside_the_allow_list_is_refused_logged_and_never_run(caplog):
    ran = []

    def shell(command: str) -> str:
        """Run a shell command."""
        ran.append(command)
        return "done"

    model = ScriptedModel(
        Turn("", [call("shell", command="rm -rf /"), call("nope", x=1)]),
        Turn("I cannot do that."),
    )
    with caplog.at_level(logging.WARNING, logger="genloom.agents"):
        r = agent("clean up", model, ["calculator"], toolbox=[Tool.from_function(shell)])
    assert ran == []
    assert [(c["name"], c["ok"], c["error"]) for c in r.tool_calls] == [
        ("shell", False, "refused"),
        ("nope", False, "unknown_tool"),
    ]
    assert r.tool_calls[0]["result"] == (
        "tool 'shell' is not allowed in this run; the tools you may call are: calculator"
    )
    assert "called 'shell'" in caplog.text and "called 'nope'" in caplog.text
    assert [t["function"]["name"] for t in model.calls[0]["tools"]] == ["calculator"]  # never offered


def test_bad_arguments_and_tool_failures_are_observations_the_model_can_fix():
    model = ScriptedModel(
        Turn("", [call("calculator", expr="1+1")]),
        Turn("", [call("calculator", expression="1/0")]),
        Turn("", [call("calculator", expression="1+1")]),
        Turn("2"),
    )
    r = agent("1+1?", model, ["calculator"])
    assert [c["error"] for c in r.tool_calls] == ["arguments", "exception", None]
    assert "field 'expression': Field required" in r.tool_calls[0]["result"]
    assert "field 'expr': Extra inputs are not permitted" in r.tool_calls[0]["result"]
    assert r.tool_calls[1]["result"] == "tool 'calculator' failed: division by zero"
    assert r.answer == "2" and r.steps == 4


def test_step_budget_forces_an_answer_on_the_last_step():
    loop = [Turn("", [call("calculator", expression="1")]) for _ in range(2)]
    model = ScriptedModel(*loop, Turn("one"))
    r = agent("?", model, ["calculator"], max_steps=3)
    assert [c["tool_choice"] for c in model.calls] == ["required", "auto", "none"]
    assert r.answer == "one" and r.stopped == "answer"
    free = ScriptedModel(*loop, Turn("one"))
    agent("?", free, ["calculator"], max_steps=3, first_tool_choice="auto")
    assert [c["tool_choice"] for c in free.calls] == ["auto", "auto", "none"]
    # a model that calls tools anyway when told not to: the run stops, nothing more runs
    stubborn = ScriptedModel(*[Turn("", [call("calculator", expression="1")]) for _ in range(2)])
    r = agent("?", stubborn, ["calculator"], max_steps=2)
    assert r.answer is None and r.stopped == "step_budget" and len(r.tool_calls) == 1
    assert r.events[-1].to_dict()["type"] == "error" and "step budget" in r.error


def test_token_budget_stops_the_run():
    model = ScriptedModel(
        *[Turn("", [call("calculator", expression="2*2")], Usage(300, 20)) for _ in range(5)]
    )
    r = agent("?", model, ["calculator"], max_tokens=700, max_steps=6)
    assert r.stopped == "token_budget" and r.answer is None
    assert r.steps == 3 and r.usage.total_tokens == 960 and len(r.tool_calls) == 3
    assert "token budget (700)" in r.error
    # each step's completion is capped by what is left of the budget
    assert [c["params"].max_tokens for c in model.calls] == [256, 256, 60]


def test_model_errors_end_the_run_with_an_error_event():
    def boom(messages, tools, choice):
        raise BackendError("the server is down", retryable=True)

    r = agent("?", ScriptedModel(boom), ["calculator"])
    assert r.stopped == "model_error" and "the server is down" in r.error
    r = agent("?", ScriptedModel(Turn("")), ["calculator"])
    assert r.stopped == "model_error" and "neither text nor a tool call" in r.error


def test_bad_options_are_user_errors_with_hints(kb):
    with pytest.raises(UserError, match="the task is empty"):
        run_agent("  ", ScriptedModel(), ["calculator"])
    with pytest.raises(UserError, match="max_steps"):
        run_agent("x", ScriptedModel(), ["calculator"], max_steps=0)
    with pytest.raises(UserError, match=r"unknown tool.*shell") as e:
        run_agent("x", ScriptedModel(), ["shell"])
    assert "calculator" in e.value.hint
    with pytest.raises(UserError, match="need a knowledge base: pass --kb"):
        run_agent("x", ScriptedModel(), ["search_kb"])
    with pytest.raises(UserError, match="clashes with a built-in"):

        def calculator(expression: str) -> str:
            """Mine."""
            return ""

        run_agent("x", ScriptedModel(), ["calculator"], toolbox=[Tool.from_function(calculator)])

    def lookup(term: str) -> str:
        """Look a term up."""
        return term

    with pytest.raises(UserError, match="clashes with another tool"):
        run_agent(
            "x", ScriptedModel(), ["lookup"], toolbox=[Tool.from_function(lookup), Tool.from_function(lookup)]
        )


def test_kb_tools_number_sources_across_the_run_and_the_answer_cites_exact_spans(kb):
    model = ScriptedModel(
        Turn("", [call("search_kb", query="return an item days", k=2)]),
        Turn("", [call("search_kb", query="parcels kg standard service", k=2)]),
        Turn(
            "Customers may return an item within 30 days of delivery [1]. Parcels up to 20 kg ship with "
            "the standard service. The moon is made of cheese."
        ),
    )
    r = agent("What is the return window, and what weight ships as standard?", model, ["search_kb"], kb=kb)
    first, second = (c["result"] for c in r.tool_calls)
    assert first.startswith("[1] ") and "guide.md" in first and "[2] " in first
    assert "[3]" in second or "[1]" in second  # a passage seen before keeps its number
    assert "merger" not in first + second  # the board's document is not visible to the public
    assert r.stopped == "answer"
    quotes = {c.quote for c in r.citations}
    assert "Customers may return an item within 30 days of delivery." in quotes
    assert "Parcels up to 20 kg ship with the standard service." in quotes
    doc = KnowledgeBase.open(kb).document(r.citations[0].doc_id)
    for c in r.citations:  # offsets point at the exact span of the document's text
        assert doc.text[c.start : c.end] == c.quote and c.source.endswith("guide.md") and c.chunk_id
    assert [cl.supported for cl in r.claims] == [True, True, False]
    assert r.answer.endswith("The moon is made of cheese.") and "[1]" in r.answer and "[2]" in r.answer


def test_kb_acl_applies_to_search_and_fetch(kb):
    docs = {d.source.rsplit("/", 1)[-1]: d.doc_id for d in KnowledgeBase.open(kb).documents()}
    public = ScriptedModel(
        Turn(
            "",
            [call("search_kb", query="secret merger Acme"), call("fetch_document", doc_id=docs["plans.txt"])],
        ),
        Turn("I do not know."),
    )
    r = agent("When does the merger close?", public, ["search_kb", "fetch_document"], kb=kb)
    assert "merger" not in r.tool_calls[0]["result"]
    assert r.tool_calls[1]["ok"] is False and "no document" in r.tool_calls[1]["result"]
    board = ScriptedModel(
        Turn("", [call("fetch_document", doc_id=docs["plans.txt"][:8])]),
        Turn("The merger with Acme closes in March."),
    )
    r = agent("When does the merger close?", board, ["fetch_document"], kb=kb, principals=["board"])
    assert "closes in March" in r.tool_calls[0]["result"] and r.tool_calls[0]["ok"]
    assert r.citations and r.citations[0].quote == "The secret merger with Acme closes in March."


def test_ask_kb_answers_with_citations(kb):
    model = ScriptedModel(Turn("", [call("ask_kb", question="Refunds are paid within how many business days?")]),
                          Turn("Refunds are paid within 5 business days [1]."))  # fmt: skip
    # the fake model's echo is not supported by the evidence, so the grounded answer quotes it verbatim
    r = agent("How long do refunds take?", model, ["ask_kb"], kb=kb, answer_model="fake:")
    obs = r.tool_calls[0]["result"]
    assert r.tool_calls[0]["ok"] and "Sources:\n[1] " in obs and "guide.md" in obs
    assert r.citations and r.citations[0].quote == "Refunds are paid within 5 business days."


def test_genloom_agent_is_public_and_json_round_trips():
    assert genloom.agent is agent and "agent" in genloom.__all__
    r = genloom.agent("1+1", ScriptedModel(Turn("", [call("calculator", expression="1+1")]), Turn("2")),
                      tools=["calculator"])  # fmt: skip
    d = json.loads(json.dumps(r.to_dict(with_events=True)))
    assert d["answer"] == "2" and [e["type"] for e in d["events"]] == ["tool_call", "observation", "answer"]


def test_the_default_tool_list_offers_the_kb_tools_only_with_a_kb(kb, monkeypatch):
    model = ScriptedModel(Turn("4"))
    r = agent("2+2?", model)  # the agent_tools setting: every built-in
    assert r.tools == ["calculator", "current_time", "date_add", "days_between"]
    model = ScriptedModel(Turn("4"))
    assert "search_kb" in agent("2+2?", model, kb=kb).tools
    monkeypatch.setenv("GENLOOM_AGENT_TOOLS", "calculator,calculater")
    from genloom.settings import set_settings

    set_settings(None)
    with pytest.raises(UserError, match=r"agent_tools setting names unknown tool.*calculater"):
        run_agent("x", ScriptedModel())


def test_a_model_that_cannot_call_tools_is_a_clear_error():
    class TextOnly:
        def generate(self, prompt, params=None, *, system=None):
            raise AssertionError("never called")

    with pytest.raises(UserError, match="cannot call tools"):
        run_agent("x", TextOnly(), ["calculator"])
