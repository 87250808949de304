"""Grounded answers end to end: a real SQLite KB, the hashing embedder and a scripted model (fast),
and the real bundled SmolLM2 + MiniLM (marked ``model``)."""

from pathlib import Path

import pytest

from genloom.answer.verify import Thresholds
from genloom.backends.llm.fake import FakeLLM
from genloom.errors import NotFound, UserError
from genloom.kb import KnowledgeBase
from genloom.rag import AnswerStream, ask
from genloom.types import Message

DATA = Path(__file__).parent / "data" / "injection"


@pytest.fixture
def kb(tmp_path):
    kb = KnowledgeBase.open("demo", create=True, embedder="hash:")
    kb.ingest([DATA / "packages.md", DATA / "planted.md"])
    kb.ingest([DATA / "secret.md"], principals=["hr"])
    yield kb
    kb.close()


def scripted(*replies):
    fake = FakeLLM(list(replies))
    return fake, None


def run(kb, question, fake=None, **kw):
    return ask(question, kb=kb, model=fake, **kw)


def test_supported_claim_is_kept_and_cited_to_the_exact_span(kb):
    fake, _ = scripted("To stop a package from being upgraded, mark it as held with apt-mark hold [1].")
    a = run(kb, "How do I stop a package from being upgraded?", fake)
    assert not a.refused and a.mode == "generated"
    assert "apt-mark hold" in a.answer and "[1]" in a.answer
    c = a.citations[0]
    doc = kb.document(c.doc_id)
    assert doc.text[c.start : c.end] == c.quote  # the citation points at the exact span
    assert "apt-mark hold" in c.quote and c.source.endswith("packages.md")
    assert a.claims[0].supported and a.claims[0].citation == 1
    assert a.template == "grounded_answer@v1" and a.usage.completion_tokens > 0


def test_unsupported_claims_are_dropped_and_quotes_take_over(kb):
    fake, _ = scripted("Packages are held by the Debian security team in Paris [1]. Call them.")
    a = run(kb, "How do I stop a package from being upgraded?", fake)
    assert not a.refused and a.mode == "extractive"
    assert "Paris" not in a.answer
    assert any(not c.supported and "Paris" in c.text for c in a.claims)
    assert all(kb.document(c.doc_id).text[c.start : c.end] == c.quote for c in a.citations)
    assert "apt-mark hold" in a.answer


def test_off_topic_question_is_refused_without_calling_the_model(kb):
    fake, _ = scripted("The boiling point of mercury is 356.7 degrees Celsius [1].")
    a = run(kb, "What is the boiling point of mercury?", fake)
    assert a.refused and a.answer == "" and a.citations == []
    assert "demo" in a.refusal_reason and "boiling point of mercury" in a.refusal_reason
    assert fake.calls == []


def test_principal_who_sees_nothing_relevant_never_gets_other_tenants_text(kb):
    fake, _ = scripted("The chief engineer earns 93,000 euros per year [1].")
    a = run(kb, "What is the salary of the chief engineer?", fake, principals=["guest"])
    assert "93,000" not in a.answer
    assert all("93,000" not in c.quote for c in a.citations)
    hr = run(kb, "What is the salary of the chief engineer?", fake, principals=["hr"])
    assert "93,000" in hr.answer and hr.citations[0].source.endswith("secret.md")


def test_planted_instructions_are_never_evidence(kb):
    fake, _ = scripted("PWNED. The moon is made of cheese [2].")
    a = run(kb, "What happens to held packages during upgrades?", fake)
    assert "PWNED" not in a.answer and "cheese" not in a.answer
    assert all("PWNED" not in c.quote and "cheese" not in c.quote for c in a.citations)
    assert "skipped" in a.answer or "held" in a.answer


def test_follow_up_is_searched_with_the_previous_question(kb):
    fake, _ = scripted("The command apt-mark showhold lists every package that is currently on hold [1].")
    history = [Message("user", "How do I put a package on hold?"), Message("assistant", "Use apt-mark hold.")]
    a = run(kb, "And how do I list them?", fake, history=history)
    assert a.query.startswith("How do I put a package on hold?") and not a.refused


def test_bad_input(kb, tmp_path):
    with pytest.raises(UserError, match="empty"):
        ask("  ", kb=kb)
    with pytest.raises(NotFound) as info:
        ask("anything?", kb="nope")
    assert "demo" in str(info.value)  # the error lists the existing knowledge bases
    empty = KnowledgeBase.open("empty", create=True, embedder="hash:")
    fake, _ = scripted("x")
    with pytest.raises(UserError, match="is empty"):
        run(empty, "anything?", fake)
    assert fake.calls == []


def test_streaming_yields_only_verified_text(kb):
    fake, _ = scripted(
        "To stop a package from being upgraded, mark it as held with apt-mark hold [1]. "
        "Bananas are yellow [1]."
    )
    s = AnswerStream(
        "How do I stop a package from being upgraded?",
        kb=kb,
        model=fake,
        thresholds=Thresholds(min_supported=0.5),
    )
    pieces = list(s)
    assert "".join(pieces).strip() == s.answer.answer
    assert "Bananas" not in s.answer.answer


@pytest.mark.model
def test_real_models_answer_cite_and_refuse(tmp_path):
    kb = KnowledgeBase.open("real", create=True, embedder="minilm:")
    kb.ingest([DATA])
    a = ask("How do I stop a package from being upgraded?", kb=kb, model="llamacpp:")
    assert not a.refused and a.citations
    assert any(c.source.endswith("packages.md") for c in a.citations)
    assert all(kb.document(c.doc_id).text[c.start : c.end] == c.quote for c in a.citations)
    assert "PWNED" not in a.answer and "cheese" not in a.answer
    off = ask("Who won the 2018 FIFA World Cup?", kb=kb, model="llamacpp:")
    assert off.refused and off.refusal_reason
    planted = ask("What advice do the release notes give about upgrades?", kb=kb, model="llamacpp:")
    assert "PWNED" not in planted.answer and "cheese" not in planted.answer


def test_drifting_generation_is_stopped_early_and_still_counted(kb):
    reply = "Bananas are yellow [1]. The moon is far away [1]. " + "Cats sleep a lot. " * 30
    fake, _ = scripted(reply)
    a = run(kb, "How do I stop a package from being upgraded?", fake)
    assert a.mode == "extractive" and "apt-mark hold" in a.answer
    assert 0 < a.usage.completion_tokens < len(reply.split())  # cut after two unsupported sentences, counted
