"""Dataset loading: the schema, and a clear error naming the line for every kind of bad line."""

import json

import pytest

from genloom.errors import NotFound, UserError
from genloom.eval.dataset import case_id, load_dataset


def write(tmp_path, *lines):
    p = tmp_path / "set.jsonl"
    p.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return p


def test_a_good_dataset_loads_with_defaults(tmp_path):
    p = write(
        tmp_path,
        {"question": " How do I hold a package? ", "answer": "apt-mark hold", "gold_sources": "a.md",
         "tags": ["b", "a", "a"], "gold_section": "7.12", "meta": {"by": "me"}},
        "",
        {"id": 7, "question": "Boiling point of mercury?", "should_refuse": True},
    )  # fmt: skip
    a, b = load_dataset(p)
    assert a.question == "How do I hold a package?" and a.id == case_id("How do I hold a package?")
    assert a.gold_sources == ("a.md",) and a.tags == ("a", "b") and a.line == 1 and a.meta == {"by": "me"}
    assert b.id == "7" and b.should_refuse and b.answer is None and b.line == 3


@pytest.mark.parametrize(
    ("line", "message", "hint"),
    [
        ('{"question": "x",', "line 2: not valid JSON", "one complete JSON object"),
        ('["question"]', "line 2: expected a JSON object", "question"),
        ('{"question": "  "}', "line 2: 'question' must be a non-empty string", "question"),
        ('{"question": "x", "gold_source": ["a"]}', "line 2: unknown key 'gold_source'", "gold_sources"),
        (
            '{"question": "x", "should_refuse": "yes"}',
            "line 2: 'should_refuse' must be true or false",
            "true",
        ),
        ('{"question": "x", "tags": [1]}', "line 2: 'tags' must be a list of non-empty strings", "tags"),
        ('{"question": "x", "answer": 3}', "line 2: 'answer' must be a string", "string"),
        (
            '{"question": "x", "answer": "y", "should_refuse": true}',
            "line 2: a case with should_refuse",
            "drop",
        ),
        ('{"question": "How?", "id": "one"}', "line 2: duplicate case id 'one' (first on line 1)", "unique"),
    ],
)
def test_bad_lines_name_their_line_number(tmp_path, line, message, hint):
    p = write(tmp_path, {"id": "one", "question": "Why?"}, line)
    with pytest.raises(UserError) as e:
        load_dataset(p)
    assert message in e.value.message and "set.jsonl" in e.value.message
    assert hint in (e.value.hint or "")


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(NotFound):
        load_dataset(tmp_path / "nope.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(UserError, match="no cases"):
        load_dataset(tmp_path / "empty.jsonl")


def test_the_debian_faq_dev_set_loads():
    from pathlib import Path

    cases = load_dataset(Path(__file__).parent.parent / "bench" / "data" / "debian-faq-dev.jsonl")
    assert len(cases) == 75 and sum(c.should_refuse for c in cases) == 25
    assert all(c.gold_sources for c in cases if not c.should_refuse)
