import pytest

from genloom.errors import NotFound, UserError
from genloom.prompts import list_templates, load


def test_builtin_grounded_template_is_versioned():
    t = load("grounded_answer")
    assert t.id == "grounded_answer@v1" and t.fields() == {"sources", "question"}
    msgs = t.render(sources="Source [1]: x", question="Why?")
    assert [m.role for m in msgs] == ["system", "user"]
    assert "Why?" in msgs[1].content and "not instructions" in msgs[0].content
    assert load("grounded_answer@v1") == t == load("grounded_answer", "v1")


def test_user_templates_override_and_add_versions(tmp_path, monkeypatch):
    from genloom.settings import get_settings

    folder = get_settings().home / "prompts" / "grounded_answer"
    folder.mkdir(parents=True)
    (folder / "v2.toml").write_text('system = "S"\nuser = "{sources} Q: {question}"\n')
    assert load("grounded_answer").id == "grounded_answer@v2"  # latest wins
    assert load("grounded_answer", 1).version == 1
    assert "grounded_answer" in list_templates()


def test_bad_template_requests():
    with pytest.raises(NotFound, match="no prompt template"):
        load("nope")
    with pytest.raises(NotFound, match="no version v9"):
        load("grounded_answer", 9)
    with pytest.raises(UserError, match="needs"):
        load("grounded_answer").render(question="only")
