"""Structured outputs without a model: schema checks, constraints, response_format, sampler, black-box path."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pydantic import BaseModel

from genloom import Engine, SamplingParams, UserError
from genloom.backends.llm.fake import FakeLLM
from genloom.backends.llm.llamacpp.sampling import Sampler
from genloom.generate import extract
from genloom.structured import (
    Constraint,
    InvalidOutput,
    InvalidSchema,
    UnsupportedSchemaFeature,
    from_response_format,
    load_schema,
)
from genloom.structured.constraint import close_objects

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name", "age"],
}


class Person(BaseModel):
    name: str
    age: int


@pytest.mark.parametrize(
    ("schema", "pointer"),
    [
        ({"type": "object", "properties": {"a": {"type": "strng"}}}, "/properties/a/type"),
        ({"type": "object", "properties": {"a": {"minimum": "zero"}}}, "/properties/a/minimum"),
        ({"type": "array", "items": {"type": "string", "maxLength": -1}}, "/items/maxLength"),
        ({"type": "object", "required": "name"}, "/required"),
        ({"properties": {"x": {"$ref": "#/$defs/Missing"}}}, "/properties/x/$ref"),
        ({"anyOf": [{"type": "string"}, {"type": 5}]}, "/anyOf/1/type"),
    ],
)
def test_invalid_schema_names_the_json_pointer(schema, pointer):
    with pytest.raises(InvalidSchema) as e:
        load_schema(schema)
    assert e.value.pointer == pointer
    assert repr(pointer) in e.value.message and e.value.hint


@pytest.mark.parametrize(
    ("schema", "feature", "pointer"),
    [
        (
            {"type": "object", "unevaluatedProperties": False},
            "unevaluatedProperties",
            "/unevaluatedProperties",
        ),
        (
            {"$defs": {"t": {"type": "array", "unevaluatedItems": False}}},
            "unevaluatedItems",
            "/$defs/t/unevaluatedItems",
        ),
        ({"type": "string", "format": "phone-number"}, "format: phone-number", "/format"),
        (
            {"$ref": "https://example.com/schema.json"},
            "remote $ref 'https://example.com/schema.json'",
            "/$ref",
        ),
    ],
)
def test_unsupported_features_are_named_not_ignored(schema, feature, pointer):
    with pytest.raises(UnsupportedSchemaFeature) as e:
        load_schema(schema)
    assert e.value.feature == feature and e.value.pointer == pointer
    assert feature in str(e.value)


def test_schema_sources_and_non_schemas():
    assert load_schema(json.dumps(PERSON)) == PERSON
    assert load_schema(Person)["required"] == ["name", "age"]
    for bad in ("{not json", "[1, 2]", True, 42):
        with pytest.raises(InvalidSchema):
            load_schema(bad)


def test_suite_schemas_are_all_valid_and_compile():
    from schema_suite import SUITE

    assert len(SUITE) >= 20 and all(len(inputs) >= 3 for _, _, inputs in SUITE)
    for _name, schema, _ in SUITE:
        c = Constraint.json_schema(schema)
        assert c.grammar()


def test_constraint_validation():
    c = Constraint.json_schema(PERSON)
    assert c.validate('{"name": "Al", "age": 3}') == {"name": "Al", "age": 3}
    for bad in ('{"name": "Al"}', '{"name": "Al", "age": -1}', '{"name": "Al", "age": 3', "hello"):
        with pytest.raises(ValueError):
            c.validate(bad)
    p = Constraint.json_schema(Person)
    assert p.validate('{"name": "Al", "age": 3}') == Person(name="Al", age=3) and p.name == "Person"
    assert Constraint.regex(r"\d{3}").validate("123") == "123"
    with pytest.raises(ValueError):
        Constraint.regex(r"\d{3}").validate("1234")
    assert Constraint.choice(["yes", "no"]).validate("no") == "no"
    with pytest.raises(ValueError):
        Constraint.choice(["yes", "no"]).validate("maybe")
    email = Constraint.json_schema({"type": "string", "format": "email"})
    with pytest.raises(ValueError):
        email.validate('"not-an-email"')


def test_bad_regex_and_choices_are_user_errors():
    for make in (lambda: Constraint.regex("("), lambda: Constraint.regex(""), lambda: Constraint.choice([])):
        with pytest.raises(UserError) as e:
            make()
        assert e.value.hint


def test_close_objects_only_narrows():
    closed = close_objects({"type": "object", "properties": {"a": {"type": "object", "properties": {}}}})
    assert closed["additionalProperties"] is False
    assert closed["properties"]["a"]["additionalProperties"] is False
    kept = close_objects({"type": "object", "properties": {}, "additionalProperties": {"type": "integer"}})
    assert kept["additionalProperties"] == {"type": "integer"}
    assert close_objects({"enum": [{"properties": {}}]}) == {"enum": [{"properties": {}}]}


def test_response_format_mapping():
    assert from_response_format(None) is None
    assert from_response_format({"type": "text"}) is None
    assert from_response_format({"type": "json_object"}).kind == "json_object"
    c = from_response_format({"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON}})
    assert c.kind == "json_schema" and c.name == "person" and c.schema == PERSON
    strict = {"type": "json_schema", "json_schema": {"name": "p", "strict": True, "schema": PERSON}}
    assert from_response_format(strict).schema == PERSON
    bad = [
        "json",
        {"type": "xml"},
        {"type": "json_schema"},
        {"type": "json_schema", "json_schema": {"schema": PERSON}},
        {"type": "json_schema", "json_schema": {"name": "has space", "schema": PERSON}},
        {"type": "json_schema", "json_schema": {"name": "p"}},
    ]
    for rf in bad:
        with pytest.raises(UserError):
            from_response_format(rf)
    with pytest.raises(InvalidSchema) as e:
        from_response_format({"type": "json_schema", "json_schema": {"name": "p", "schema": {"type": 1}}})
    assert e.value.pointer == "/type"


# -- the sampler ------------------------------------------------------------------------------------
def _masked(logits: np.ndarray, allowed: list[int]) -> np.ndarray:
    """Logits as a grammar hook leaves them: -inf for every token not allowed."""
    out = np.full_like(logits, -np.inf)
    out[allowed] = logits[allowed]
    return out


def test_sampler_greedy_picks_best_allowed_token():
    n = 100
    logits = np.arange(n, dtype=np.float32)  # token 99 is the model's favourite
    s = Sampler(SamplingParams(temperature=0, repeat_penalty=1.0), n)
    assert s.sample(_masked(logits, [3, 50, 7])) == 50


def test_sampler_never_leaves_the_mask_and_is_seeded():
    n = 300
    rng = np.random.default_rng(0)
    logits = rng.normal(size=n).astype(np.float32) * 3
    allowed = [5, 17, 42, 99, 250]
    params = SamplingParams(temperature=1.5, top_k=0, top_p=1.0, min_p=0.0, repeat_penalty=1.0, seed=7)

    def draw(seed: int) -> list[int]:
        s = Sampler(SamplingParams(**{**_params_dict(params), "seed": seed}), n)
        return [s.sample(_masked(logits, allowed)) for _ in range(200)]

    a = draw(7)
    assert set(a) <= set(allowed) and len(set(a)) > 2
    assert a == draw(7) and a != draw(8)


def test_sampler_top_k_and_repeat_penalty():
    n = 64
    logits = np.linspace(0, 5, n, dtype=np.float32)
    s = Sampler(SamplingParams(temperature=2.0, top_k=2, top_p=1.0, min_p=0.0, repeat_penalty=1.0, seed=1), n)
    assert {s.sample(logits.copy()) for _ in range(100)} == {62, 63}
    g = Sampler(SamplingParams(temperature=0, repeat_penalty=100.0), n)
    g.history = [63]
    assert g.sample(logits.copy()) == 62  # the repeated favourite is pushed down


def _params_dict(p: SamplingParams) -> dict:
    return {k: getattr(p, k) for k in p.__slots__}


# -- the black-box path (FakeLLM cannot be steered) ---------------------------------------------------
def test_black_box_valid_reply_passes_schema_through():
    fake = FakeLLM(['{"name": "Ann", "age": 30}'])
    value = extract("Ann is 30.", PERSON, model=Engine(fake))
    assert value == {"name": "Ann", "age": 30}
    assert fake.constraints[0].schema == PERSON  # passed on (a remote backend sends it as response_format)
    system = fake.calls[0][0]
    assert system.role == "system" and '"required":["name","age"]' in system.content.replace(" ", "")


def test_black_box_retries_once_with_the_error():
    fake = FakeLLM(["Sure! Ann is thirty.", '{"name": "Ann", "age": 30}'])
    r = Engine(fake).structured("Ann is 30.", Person, SamplingParams(temperature=0))
    assert r.value == Person(name="Ann", age=30) and r.attempts == 2
    retry = fake.calls[1]
    assert retry[-2].content == "Sure! Ann is thirty." and "invalid" in retry[-1].content


def test_black_box_invalid_twice_is_a_clear_error():
    fake = FakeLLM(['{"name": "Ann"}'])
    with pytest.raises(InvalidOutput) as e:
        Engine(fake).structured("Ann is 30.", PERSON, SamplingParams(temperature=0))
    assert "'age' is a required property" in e.value.message and e.value.text == '{"name": "Ann"}'
    assert len(fake.calls) == 2


def test_black_box_stream_validates_at_the_end():
    s = Engine(FakeLLM(["yes"])).stream(
        "Is it?", SamplingParams(temperature=0), constraint=Constraint.choice(["yes", "no"])
    )
    assert "".join(s) == "yes" and s.value == "yes"
    bad = Engine(FakeLLM(["perhaps"])).stream(
        "Is it?", SamplingParams(temperature=0), constraint=Constraint.choice(["yes", "no"])
    )
    with pytest.raises(InvalidOutput):
        list(bad)


def test_extract_rejects_empty_text_and_non_json_constraints():
    for text in ("", "   \n"):
        with pytest.raises(UserError) as e:
            extract(text, PERSON, model=Engine(FakeLLM(["{}"])))
        assert e.value.hint
    with pytest.raises(UserError):
        extract("x", Constraint.regex("a+"), model=Engine(FakeLLM(["a"])))


def test_checked_keywords_are_kept_out_of_the_grammar_and_validated():
    from genloom.structured.schema import checked_keywords, maskable

    schema = {"type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string"},
              "uniqueItems": True}, "n": {"not": {"const": 0}, "type": "integer"}}, "required": ["tags"]}  # fmt: skip
    c = Constraint.json_schema(schema)
    assert c.checked == ("not", "uniqueItems") == checked_keywords(schema)
    assert "uniqueItems" not in json.dumps(maskable(schema)) and '"not"' not in json.dumps(maskable(schema))
    assert c.grammar()  # compiles: the grammar has only the maskable part
    assert c.validate('{"tags": ["a", "b"], "n": 1}') == {"tags": ["a", "b"], "n": 1}
    for bad in ('{"tags": ["a", "a"]}', '{"tags": [], "n": 0}'):
        with pytest.raises(ValueError):
            c.validate(bad)
