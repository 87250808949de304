"""Context compression to a token budget (issue 21): evidence sentences and history turns."""

from __future__ import annotations

from pathlib import Path

import pytest

from genloom.backends.llm.fake import FakeLLM
from genloom.compress import fit_evidence, fit_history, relevance
from genloom.errors import UserError
from genloom.kb import KnowledgeBase
from genloom.rag import ask
from genloom.types import Message

DATA = Path(__file__).parent / "data" / "eval"
COUNT = FakeLLM().count_prompt_tokens


def test_history_drops_the_least_relevant_turns_first_and_keeps_order():
    msgs = [Message("system", "Be brief."),
            Message("user", "Tell me about the weather in Oslo today"), Message("assistant", "Rainy and cold."),
            Message("user", "How do I hold a package with apt?"), Message("assistant", "apt-mark hold NAME."),
            Message("user", "And how do I release a held package with apt?")]  # fmt: skip
    full = COUNT(msgs)
    kept, n = fit_history(msgs, full - 1, COUNT)
    assert n == 1 and [m.content for m in kept] == [msgs[0].content, *[m.content for m in msgs[3:]]]
    kept, n = fit_history(msgs, 1, COUNT)  # nothing fits: system + the question remain
    assert n == 2 and [m.role for m in kept] == ["system", "user"] and kept[-1] is msgs[-1]
    assert fit_history(msgs, full, COUNT) == (msgs, 0)
    assert relevance("apt-mark hold", "hold a package") == pytest.approx(1 / 2)


@pytest.fixture
def kb(monkeypatch):
    monkeypatch.setenv("GENLOOM_EMBEDDER", "hash:")
    k = KnowledgeBase.open("evkb", create=True, embedder="hash:")
    k.ingest([DATA])
    yield k
    k.close()


def test_evidence_fits_the_budget_with_the_most_statements_that_fit(kb):
    fake = FakeLLM(["Mark it as held with apt-mark hold [1]."])
    q = "How do I stop a package from being upgraded?"
    full = ask(q, kb=kb, model=fake, evidence_tokens=100_000)
    assert full.usage.prompt_tokens == COUNT(fake.calls[0])  # the prompt the model got
    small = ask(q, kb=kb, model=fake, evidence_tokens=full.usage.prompt_tokens - 30)
    assert small.usage.prompt_tokens <= full.usage.prompt_tokens - 30
    assert fake.calls[1][-1].content.count("Source [") <= fake.calls[0][-1].content.count("Source [")

    built = []

    def build(n):
        built.append(n)
        return [Message("user", "word " * (10 * n))]

    msgs, n = fit_evidence(build, 45, COUNT, most=6)
    assert n == 4 and built == [6, 5, 4] and COUNT(msgs) <= 45
    assert fit_evidence(build, 1, COUNT, most=2)[1] == 1  # never fewer than one statement
    with pytest.raises(UserError, match="budget"):
        fit_evidence(build, 0, COUNT)
