"""``genloom agent`` at the CLI edge: streamed steps for a person, JSON lines, exit codes, hints."""

from __future__ import annotations

import json

import pytest

from agent_fakes import ScriptedModel, Turn, call
from genloom.agents import loop
from genloom.cli.main import main
from genloom.kb import KnowledgeBase


@pytest.fixture
def scripted(monkeypatch):
    def use(*turns):
        model = ScriptedModel(*turns)
        monkeypatch.setattr(loop, "_engine", lambda spec, settings: model)
        return model

    return use


def test_steps_stream_for_a_person_with_cited_sources(scripted, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GENLOOM_EMBEDDER", "hash:")
    (tmp_path / "faq.md").write_text("# FAQ\n\n## Refunds\n\nRefunds are paid within 5 business days.\n")
    with KnowledgeBase.open("faq", create=True) as kb:
        kb.ingest([tmp_path / "faq.md"])
    scripted(Turn("Let me look.", [call("search_kb", query="refunds paid")]),
             Turn("Refunds are paid within 5 business days [1]."))  # fmt: skip
    code = main(["agent", "How fast are refunds?", "--kb", "faq", "--tool", "search_kb"])
    out = capsys.readouterr().out
    assert code == 0
    assert "1. thinking: Let me look." in out and "1. → search_kb" in out and '"refunds paid"' in out
    assert "← [1] " in out and "faq.md" in out
    assert "Refunds are paid within 5 business days. [1]" in out
    assert "[1] " + str(tmp_path / "faq.md") in out and "“Refunds are paid within 5 business days.”" in out


def test_a_run_without_an_answer_exits_1_and_says_why(scripted, capsys):
    scripted(*[Turn("", [call("calculator", expression="1+1")]) for _ in range(2)])
    code = main(["agent", "loop forever", "--tool", "calculator", "--max-steps", "2", "--json"])
    captured = capsys.readouterr()
    assert code == 1
    lines = [json.loads(x) for x in captured.out.splitlines()]
    assert lines[-2]["type"] == "error" and lines[-2]["kind"] == "step_budget"
    assert lines[-1]["type"] == "result" and lines[-1]["answer"] is None
    assert lines[-1]["usage"]["total_tokens"] == 30


def test_unknown_tools_and_missing_kb_are_user_errors(scripted, capsys):
    scripted()
    assert main(["agent", "x", "--tool", "shell"]) == 2
    err = capsys.readouterr().err
    assert "unknown tool(s) shell" in err and "hint:" in err and "calculator" in err
    assert main(["agent", "x", "--tool", "search_kb"]) == 2
    assert "pass --kb NAME" in capsys.readouterr().err
    assert main(["mcp", "serve", "--kb", "nosuch"]) == 2
    assert "no knowledge base named 'nosuch'" in capsys.readouterr().err
