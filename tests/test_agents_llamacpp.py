"""The agent on the real bundled model (slow): every tool call it makes parses and validates, and the run
ends within its budgets. Needs the tool-calling Engine of issue 12's LLM seam; skipped until it is there."""

from __future__ import annotations

import inspect

import pytest

from genloom.generate import Engine

pytestmark = [
    pytest.mark.slow,
    pytest.mark.model,
    pytest.mark.skipif(
        "tools" not in inspect.signature(Engine.generate).parameters,
        reason="Engine.generate has no tools= yet (issue 12's LLM seam)",
    ),
]


def test_the_bundled_model_runs_an_agent_with_valid_tool_calls(tmp_path, monkeypatch):
    import genloom
    from genloom.kb import KnowledgeBase

    monkeypatch.setenv("GENLOOM_EMBEDDER", "hash:")
    (tmp_path / "faq.md").write_text("# FAQ\n\nRefunds are paid within 5 business days.\n")
    with KnowledgeBase.open("faq", create=True) as kb:
        kb.ingest([tmp_path / "faq.md"])
    engine = Engine("llamacpp:")
    for task, tools in [("What is 12 * 7? Use the calculator.", ["calculator"]),
                        ("How fast are refunds paid? Search the knowledge base.", ["search_kb"])]:  # fmt: skip
        r = genloom.agent(task, engine, tools, kb="faq", max_steps=4)
        assert r.stopped in ("answer", "step_budget", "token_budget"), r.error
        assert r.steps >= 1 and r.usage.total_tokens > 0
        for c in r.tool_calls:  # constrained decoding: every call names an offered tool with valid arguments
            assert c["name"] in tools and c["error"] not in ("arguments", "unknown_tool", "refused"), c
