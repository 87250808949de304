"""The agent task set is well formed and the bench's success criterion judges answers as documented."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import SimpleNamespace

from genloom.agents import BUILTIN_NAMES

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _bench():
    spec = importlib.util.spec_from_file_location("agent_bench", BENCH / "agent.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["agent_bench"] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def test_the_task_set_has_20_kb_tasks_of_1_to_3_calls_with_criteria():
    tasks = [json.loads(line) for line in (BENCH / "agent_tasks.jsonl").read_text().splitlines()]
    assert len({t["id"] for t in tasks}) == len(tasks) >= 20
    assert sum("kb" in t["tags"] for t in tasks) >= 20
    for t in tasks:
        assert set(t["tools"]) <= set(BUILTIN_NAMES), t["id"]
        assert 1 <= len(t["oracle"]) <= 3 and {o["tool"] for o in t["oracle"]} <= set(t["tools"]), t["id"]
        assert set(t["expect"]["must_call"]) <= set(t["tools"]) and t["expect"]["answer_contains"], t["id"]


def test_the_judge_needs_the_answer_words_and_successful_calls():
    judge = _bench().judge
    task = {"expect": {"answer_contains": [["200"], ["30", "thirty"]], "must_call": ["search_kb"],
                       "cites": "README.md"}}  # fmt: skip
    cite = SimpleNamespace(source="/repo/README.md")
    ok_call = [{"name": "search_kb", "ok": True}]

    def result(answer, calls=ok_call, citations=(cite,)):
        return SimpleNamespace(answer=answer, tool_calls=calls, citations=list(citations))

    assert judge(task, result("Chunks are 200 tokens with thirty of overlap [1].")) == {
        "success": True, "answer_ok": True, "calls_ok": True, "cited": True}  # fmt: skip
    assert not judge(task, result("Chunks are 2000 tokens with 300 [30] of overlap."))["answer_ok"]
    assert not judge(task, result("200 and 30", calls=[{"name": "search_kb", "ok": False}]))["success"]
    assert judge(task, result("200 and 30", citations=()))["cited"] is False
    assert not judge(task, result(None))["success"]
