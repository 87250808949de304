"""Task templates (issue 21): the file format, typed variables, few-shot, schema, pinned versions, the CLI."""

from __future__ import annotations

import json

import pytest

from genloom.cli.main import main
from genloom.errors import NotFound, UserError
from genloom.prompts import catalog
from genloom.prompts.run import parse_vars, prepare
from genloom.prompts.task import parse

GOOD = """+++
description = "demo"
system = "Tone: {{ tone }}."
[sampling]
temperature = 0.2
max_tokens = 50
[vars.topic]
type = "string"
required = true
[vars.tone]
type = "string"
choices = ["dry", "warm"]
default = "dry"
[vars.n]
type = "integer"
default = 3
min = 1
max = 5
[[examples]]
vars = { topic = "tea", n = 1 }
output = "Tea is a drink."
+++
Write {{ n }} sentences about {{ topic }}.
"""


def test_render_fills_defaults_and_puts_examples_before_the_request():
    t = parse(GOOD, "demo", 1)
    msgs = t.render({"topic": "coffee", "n": "2"}, as_text=True)
    assert [m.role for m in msgs] == ["system", "user", "assistant", "user"]
    assert msgs[0].content == "Tone: dry."
    assert msgs[1].content == "Write 1 sentences about tea." and msgs[2].content == "Tea is a drink."
    assert msgs[3].content == "Write 2 sentences about coffee."
    assert t.params(max_tokens=None, temperature=0.0).temperature == 0.0
    assert t.params().max_tokens == 50 and t.id == "demo@v1" and len(t.sha256) == 64


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ({}, "needs the variable 'topic'"),
        ({"topic": "x", "tone": "loud"}, "must be one of ['dry', 'warm']"),
        ({"topic": "x", "n": "9"}, "must be <= 5"),
        ({"topic": "x", "n": "two"}, "'n' must be an integer"),
        ({"topic": "x", "colour": "red"}, "has no variable 'colour'"),
    ],
)
def test_bad_variables_are_errors_naming_the_variable(given, words):
    with pytest.raises(UserError, match=words.replace("[", r"\[").replace("]", r"\]")):
        parse(GOOD, "demo", 1).render(given, as_text=True)


def test_json_values_are_type_checked_not_coerced():
    t = parse(GOOD, "demo", 1)
    with pytest.raises(UserError, match="'n' must be an integer"):
        t.render({"topic": "x", "n": "2"})  # a string from JSON is not an integer
    with pytest.raises(UserError, match="'n' must be an integer"):
        t.render({"topic": "x", "n": True})


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("no front matter", "no front matter"),
        ("+++\nfoo = 1\n+++\nbody", "unknown field foo"),
        ("+++\n[sampling]\nheat = 1\n+++\nbody", "unknown sampling field heat"),
        ("+++\n[vars.x]\ntype = 'float'\n+++\n{{ x }}", "vars.x.type"),
        ("+++\n[vars.x]\ntype = 'integer'\ndefault = 'a'\n+++\n{{ x }}", "vars.x"),
        ("+++\n+++\n   ", "empty body"),
        ("+++\n+++\n{{ missing }}", None),  # renders only at run time: an undefined name fails there
        ("+++\n[output.schema]\ntype = 'objekt'\n+++\nbody", "output.schema"),
        (
            "+++\n[output.schema]\ntype='object'\nrequired=['a']\n[[examples]]\nvars={}\noutput='{}'\n+++\nb",
            "examples\\[0\\].output does not fit",
        ),
    ],
)
def test_bad_files_are_errors_naming_the_field(text, words):
    if words is None:
        t = parse(text, "x", 1)
        with pytest.raises(UserError, match="did not render"):
            t.render({})
        return
    with pytest.raises(UserError, match=words):
        parse(text, "x", 1)


def test_every_builtin_template_parses_and_renders_with_its_required_vars():
    for name in catalog.names():
        t = catalog.load(name)
        given = {v.name: "hello" for v in t.variables if v.required}
        assert t.render(given)[-1].role == "user"
    assert {"content_generator", "summarizer", "email_reply", "classifier"} <= set(catalog.names())
    assert catalog.load("classifier").schema["properties"]["label"]["enum"][0] == "question"


def test_user_templates_version_and_are_immutable_once_used(tmp_path):
    path = catalog.new("mine")
    assert path.name == "v1.jinja" and catalog.load("mine").version == 1
    r = prepare("mine", {"topic": "owls"})
    assert r.template.id == "mine@v1" and "owls" in r.messages[-1].content
    path.write_text(path.read_text().replace("short", "long"), encoding="utf-8")
    with pytest.raises(UserError, match="changed after it was used"):
        prepare("mine@v1", {"topic": "owls"})
    second = catalog.new("mine")  # the next version starts as a copy of the latest
    assert second.name == "v2.jinja" and prepare("mine", {"topic": "owls"}).template.id == "mine@v2"
    assert catalog.diff("mine@v1", "mine@v2") == ""  # a copy of v1 as it is now
    second.write_text(second.read_text().replace("paragraph", "poem"), encoding="utf-8")
    d = catalog.diff("mine@v1", "mine@v2")
    assert "-Write a long paragraph about {{ topic }}." in d and "+Write a long poem about {{ topic }}." in d
    with pytest.raises(NotFound, match="no version v7"):
        catalog.load("mine@v7")
    with pytest.raises(NotFound, match="no task template"):
        catalog.load("nope")


def test_parse_vars():
    assert parse_vars(["a=1", "b=x=y"]) == {"a": "1", "b": "x=y"}
    with pytest.raises(UserError, match="KEY=VALUE"):
        parse_vars(["a"])
    with pytest.raises(UserError, match="twice"):
        parse_vars(["a=1", "a=2"])


def test_cli_run_list_show(capsys):
    assert main(["run", "summarizer", "--var", "text=Owls hunt at night.", "-m", "fake:ok", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["text"] == "ok" and out["template"] == "summarizer@v1" and out["value"] is None
    assert main(["run", "summarizer", "--var", "sentences=2", "-m", "fake:"]) == 2
    assert "needs the variable 'text'" in capsys.readouterr().err
    assert main(["prompts", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["content_generator"]["versions"] == [1, 2] and rows["classifier"]["structured"]
    assert main(["prompts", "show", "summarizer", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["used"] and not shown["changed_since_used"]  # the run above pinned it
    assert main(["prompts", "diff", "content_generator@v1", "v2"]) == 0
    assert "+[output.schema]" in capsys.readouterr().out


@pytest.mark.model
def test_structured_template_on_the_bundled_model_is_valid_json(capsys):
    assert main(["run", "classifier", "--var", "text=Do you sell gift cards?", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["value"]["label"] in ("question", "complaint", "praise", "request", "other")
    assert json.loads(out["text"]) == out["value"]
