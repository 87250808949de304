"""genloom.tune data: file format checks, sources (chat, feedback export, eval sets), dedupe, split by question,
grounded examples from a real knowledge base, the tune eval statistics and promotion refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genloom.errors import UserError
from genloom.tune.examples import Example, dedupe, load_examples, question_key, split, write_examples
from genloom.tune.sources import Skipped, feedback_pairs, from_chat_file, from_eval_set, from_feedback


def _jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8"
    )
    return path


def _fb(rid: str, rating: str, question: str, answer: str, **kw: object) -> dict[str, object]:
    return {"request_id": rid, "ts": 1.0, "key_id": "k1", "rating": rating, "comment": None,
            "endpoint": "/v1/chat/completions", "model": "llamacpp:", "kb": None, "template": None,
            "messages": [{"role": "user", "content": question}], "question": question, "answer": answer, **kw}  # fmt: skip


def test_training_file_errors_name_the_line(tmp_path):
    good = {"messages": [{"role": "user", "content": "Hi"}], "completion": "Hello."}
    cases = [
        ("{not json", "line 2: not valid JSON"),
        ({**good, "completon": "x"}, "line 2: unknown key 'completon'"),
        (
            {
                "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "x"}],
                "completion": "y",
            },
            "line 2: the prompt must end with a user turn",
        ),
        (
            {"messages": [{"role": "robot", "content": "Hi"}], "completion": "y"},
            r"line 2: messages\[0\] has role",
        ),
        ({"messages": good["messages"]}, "line 2: needs 'completion'"),
        (
            {"messages": good["messages"], "chosen": "a", "rejected": "a"},
            "line 2: 'chosen' and 'rejected' are the same",
        ),
    ]
    for bad, message in cases:
        with pytest.raises(UserError, match=message) as e:
            load_examples(_jsonl(tmp_path / "d.jsonl", [good, bad]))
        assert e.value.hint
    with pytest.raises(UserError, match="is a sft example, this needs preference"):
        load_examples(_jsonl(tmp_path / "d.jsonl", [good]), "preference")


def test_write_read_round_trip_dedupe_and_split_by_question(tmp_path):
    def ex(q: str, a: str) -> Example:
        return Example([{"role": "user", "content": q}], a)

    rows = [ex(f"Question {i}?", f"Answer {j}.") for i in range(20) for j in range(2)]
    rows.append(ex("Question 3?", "Answer 0."))  # an exact repeat
    kept, dropped = dedupe(rows)
    assert dropped == 1 and len(kept) == 40
    train, held = split(kept, 0.25, seed=1)
    assert len(held) == 10 and len(train) == 30  # 5 of 20 questions, both examples of each
    assert {question_key(e.question) for e in train}.isdisjoint({question_key(e.question) for e in held})
    assert split(kept, 0.25, seed=1) == (train, held)  # seeded
    digest = write_examples(tmp_path / "t.jsonl", train)
    assert len(digest) == 64 and [e.to_dict() for e in load_examples(tmp_path / "t.jsonl")] == [
        e.to_dict() for e in train
    ]


def test_chat_and_instruction_lines(tmp_path):
    f = _jsonl(tmp_path / "chat.jsonl", [
        {"messages": [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "2+2?"},
                      {"role": "assistant", "content": "4"}]},
        {"instruction": "Translate to French.", "input": "cat", "output": "chat"},
    ])  # fmt: skip
    a, b = from_chat_file(f)
    assert a.messages[-1] == {"role": "user", "content": "2+2?"} and a.completion == "4"
    assert (
        b.messages == [{"role": "user", "content": "Translate to French.\n\ncat"}] and b.completion == "chat"
    )
    with pytest.raises(UserError, match="line 1: both 'output' and 'response'"):
        list(from_chat_file(_jsonl(tmp_path / "c.jsonl", [{"prompt": "x", "output": "y", "response": "z"}])))
    with pytest.raises(UserError, match="line 1: a chat line must end with the assistant"):
        list(from_chat_file(_jsonl(tmp_path / "c.jsonl", [{"messages": [{"role": "user", "content": "x"}]}])))


def test_feedback_export_sft_and_preference_pairs(tmp_path):
    f = _jsonl(tmp_path / "fb.jsonl", [
        _fb("r1", "up", "How do I hold a package?", "Run apt-mark hold PKG."),
        _fb("r2", "down", "How do I hold a package?", "Delete the package."),
        _fb("r3", "down", "What is a conffile?", "A kind of cheese."),
        _fb("r4", "up", "Where is the cache?", "In /var/cache/apt/archives.", kb="docs"),
    ])  # fmt: skip
    skipped = Skipped()
    sft = list(from_feedback(f, None, skipped))
    assert [e.completion for e in sft] == ["Run apt-mark hold PKG."] and sft[0].source == "feedback"
    assert skipped["grounded answer, but no knowledge base given (pass --kb)"] == 1
    pairs = list(feedback_pairs(f, None, Skipped()))
    assert (
        len(pairs) == 1
        and pairs[0].chosen == "Run apt-mark hold PKG."
        and pairs[0].rejected == "Delete the package."
    )
    bad = _fb("r5", "meh", "q", "a")
    with pytest.raises(UserError, match="line 2: rating must be 'up' or 'down'"):
        list(from_feedback(_jsonl(tmp_path / "b.jsonl", [_fb("r0", "up", "q", "a"), bad])))
    missing = {k: v for k, v in _fb("r6", "up", "q", "a").items() if k != "key_id"}
    with pytest.raises(UserError, match="line 1: missing key 'key_id'"):
        list(from_feedback(_jsonl(tmp_path / "b.jsonl", [missing])))


def test_eval_set_gold_answers(tmp_path):
    f = _jsonl(tmp_path / "dev.jsonl", [
        {"question": "How do I hold a package?", "answer": "apt-mark hold PKG."},
        {"question": "Boiling point of mercury?", "should_refuse": True},
        {"question": "No reference here?"},
    ])  # fmt: skip
    skipped = Skipped()
    got = list(from_eval_set(f, None, skipped))
    assert [e.completion for e in got] == ["apt-mark hold PKG.", "I don't know."]
    assert skipped["eval case without a reference answer"] == 1


@pytest.mark.model
def test_grounded_examples_from_a_real_kb(tmp_path):
    """Synthetic grounded examples: prompts exactly as genloom ask builds them, targets inside the evidence."""
    from genloom.answer.text import markers, strip_markers
    from genloom.kb import KnowledgeBase
    from genloom.tune.data import build_dataset

    data = Path(__file__).parent / "data" / "eval"
    kb = KnowledgeBase.open("t", create=True)
    kb.ingest([data / "apt.md", data / "git.md", data / "sqlite.md"])
    kb.close()
    exclude = _jsonl(tmp_path / "dev.jsonl", [{"question": "How do I stop a package from being upgraded?"}])
    manifest = build_dataset(tmp_path / "out", kb="t", held_out=0.2, unanswerable=0.3, exclude=[exclude])
    sft = manifest["counts"]["sft"]
    assert sft["synthetic"] == sft["train"] + sft["heldout"] > 3 and sft["by_source"] == {
        "kb": sft["synthetic"]
    }
    rows = load_examples(manifest["files"]["sft.train"]["path"]) + load_examples(
        manifest["files"]["sft.heldout"]["path"]
    )
    for e in rows:
        system, user = e.messages
        assert system["role"] == "system" and "numbered sources" in system["content"]
        assert user["content"].endswith(f"Question: {e.question}") and e.synthetic
        if e.meta["kind"] == "answerable":
            (n,) = markers(e.completion or "")
            assert strip_markers(e.completion or "") in user["content"]  # verbatim from the shown evidence
            assert f"Source [{n}]" in user["content"]
        else:
            assert e.completion == "I don't know."
    assert all(question_key(e.question) != "how do i stop a package from being upgraded" for e in rows)


def test_bootstrap_intervals_and_gates():
    from genloom.eval import EvalRun
    from genloom.tune.evaluate import DEFAULT_GATES, bootstrap, check

    def case(i: int, faith: float, extractive: bool) -> dict[str, object]:
        return {"id": f"c{i}", "refused": False, "should_refuse": False, "mode": "extractive" if extractive else "generated",
                "scores": {"faithfulness": faith, "refusal_correct": 1.0}, "usage": {"completion_tokens": 10}}  # fmt: skip

    base = [case(i, 0.5, i % 2 == 0) for i in range(40)]
    tuned = [case(i, 0.5 + (0.4 if i % 4 else 0.0), i % 4 == 0) for i in range(40)]
    rows = bootstrap(base, tuned)
    f = rows["faithfulness"]
    assert f["base"] == 0.5 and f["tuned"] == 0.8 and abs(f["delta"] - 0.3) < 1e-9
    assert f["delta_ci"][0] < 0.3 < f["delta_ci"][1] and f["delta_ci"][0] > 0  # a clear win, a real interval
    assert rows["extractive_rate"]["delta"] == -0.25 and rows["citation_recall"]["base"] is None
    run = EvalRun({}, {}, {}, tuned)
    gates = {g["gate"]: g["passed"] for g in check(rows, {"ratio": 1.01}, run, DEFAULT_GATES)}
    assert all(gates.values()) and "n_cases>=30" in gates
    few = {
        g["gate"]: g["passed"]
        for g in check(rows, {"ratio": 1.01}, EvalRun({}, {}, {}, tuned[:2]), DEFAULT_GATES)
    }
    assert few["n_cases>=30"] is False
    assert not next(g for g in check(rows, {"ratio": 1.3}, run, ["ppl_ratio<=1.15"]))["passed"]
    with pytest.raises(UserError, match="not over the same cases"):
        bootstrap(base, tuned[::-1])
