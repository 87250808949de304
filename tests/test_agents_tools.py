"""Tools from functions and Pydantic models, argument validation, errors as observations, truncation, the
safe calculator, date/time tools and the allow-list policy."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from pydantic import BaseModel, Field

from genloom.agents import Tool, ToolPolicy, builtin_tools, tool
from genloom.agents.calc import MAX_INT_BITS, CalcError, evaluate
from genloom.errors import AccessDenied, UserError
from genloom.settings import Settings


@tool
def convert(amount: float, unit: str = "km", exact: bool = False) -> dict:
    """Convert a distance to metres.

    Args:
        amount: how many units
        unit: the unit, km or mi
            (miles are 1609.344 m)
        exact: keep every digit

    Returns:
        the distance
    """
    if unit not in ("km", "mi"):
        raise ValueError(f"unknown unit {unit}")
    return {"metres": amount * (1000 if unit == "km" else 1609.344)}


def test_schema_and_description_come_from_signature_and_docstring():
    spec = convert.to_openai()
    assert spec["type"] == "function"
    fn = spec["function"]
    assert fn["name"] == "convert" and fn["description"] == "Convert a distance to metres."
    params = fn["parameters"]
    assert params["type"] == "object" and params["required"] == ["amount"]
    assert params["properties"]["amount"] == {"type": "number", "description": "how many units"}
    assert params["properties"]["unit"]["default"] == "km"
    assert params["properties"]["unit"]["description"] == "the unit, km or mi (miles are 1609.344 m)"
    assert params["properties"]["exact"]["type"] == "boolean"
    assert params["additionalProperties"] is False


def test_valid_call_runs_and_returns_json_text():
    r = convert.run('{"amount": 2, "unit": "mi"}')
    assert r.ok and r.error is None and r.content == '{"metres": 3218.688}'


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"unit": "km"}', "field 'amount': Field required"),
        ('{"amount": "lots"}', "field 'amount': Input should be a valid number"),
        ('{"amount": 1, "speed": 3}', "field 'speed': Extra inputs are not permitted"),
        ('{"amount": 1', "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
    ],
)
def test_invalid_arguments_become_an_observation_naming_the_field(arguments, expected):
    calls = []

    def spy(amount: float) -> str:
        """Record the call."""
        calls.append(amount)
        return "ran"

    assert not Tool.from_function(spy).run(arguments).ok and calls == []  # never called with bad arguments
    r = convert.run(arguments)
    assert not r.ok and r.error == "arguments"
    assert r.content.startswith("invalid arguments for tool 'convert': ") and expected in r.content


def test_an_exception_inside_the_tool_is_an_observation_not_a_crash():
    r = convert.run({"amount": 1, "unit": "parsec"})
    assert not r.ok and r.error == "exception"
    assert r.content == "tool 'convert' failed: unknown unit parsec"
    r = builtin_tools()["current_time"].run({"timezone": "Mars/Olympus"})
    assert not r.ok and "unknown time zone 'Mars/Olympus'" in r.content and "IANA" in r.content


def test_output_is_truncated_to_the_budget():
    def xs(n: int) -> str:
        return "x" * n

    big = Tool.from_function(xs, name="big", description="big", max_output=500)
    r = big.run({"n": 5000})
    assert r.ok and r.truncated and len(r.content) == 500
    assert r.content.endswith("[... 4500 more characters cut]")
    small = big.run({"n": 10})
    assert small.content == "x" * 10 and not small.truncated


def test_tool_from_a_pydantic_model_and_from_a_bare_schema():
    class Search(BaseModel):
        """Find things."""

        query: str = Field(min_length=2, description="words")
        k: int = Field(3, ge=1, le=10)

    t = Tool.from_model(Search, lambda query, k: f"{k}:{query}", name="find")
    assert t.to_openai()["function"]["description"] == "Find things."
    assert t.run({"query": "cats"}).content == "3:cats"
    r = t.run({"query": "c", "k": 99})
    assert "field 'query'" in r.content and "field 'k'" in r.content
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    raw = Tool("add_one", "add one", schema, lambda a: a + 1)
    assert raw.run('{"a": 41}').content == "42"
    bad = raw.run('{"a": "x"}')
    assert bad.error == "arguments" and "field 'a': 'x' is not of type 'integer'" in bad.content
    assert "'a' is a required property" in raw.run("{}").content


def test_functions_that_cannot_be_described_are_refused_with_a_hint():
    def untyped(x):
        """Doc."""

    with pytest.raises(UserError, match="parameter 'x' has no type annotation"):
        Tool.from_function(untyped)

    def varargs(*xs: int) -> None:
        """Doc."""

    with pytest.raises(UserError, match=r"\*args"):
        Tool.from_function(varargs)

    def nodoc(x: int) -> None:
        pass

    with pytest.raises(UserError, match="no description"):
        Tool.from_function(nodoc)
    with pytest.raises(UserError, match="not valid"):
        Tool.from_function(convert.fn, name="has space")


@pytest.mark.parametrize(
    ("expr", "value"),
    [
        ("2 * (3 + 4) ** 2", 98),
        ("7 // 2 + 7 % 2", 4),
        ("-3 ** 2", -9),
        ("10 / 4", 2.5),
        ("2^10", 1024),
        ("sqrt(16) + abs(-2) + round(2.567, 2)", 8.57),
        ("max(1, 5, 3) * pi", 5 * 3.141592653589793),
        ("log(8, 2)", 3.0),
        ("10 ** 1000 // 10 ** 999", 10),
    ],
)
def test_calculator_computes(expr, value):
    assert evaluate(expr) == pytest.approx(value)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("__import__('os').system('echo hi')", "unknown function"),
        ("().__class__.__bases__", "is not allowed"),
        ("open('/etc/passwd')", "unknown function"),
        ("x + 1", "unknown name 'x'"),
        ("'a' * 3", "only numbers"),
        ("True + 1", "only numbers"),
        ("[1, 2]", "is not allowed"),
        ("(lambda: 1)()", "unknown function"),
        ("9 ** 9 ** 9", "larger than"),
        ("2 ** 5000", "exponent 5000 is larger than 1000"),
        ("1000 ** 999", "too large to compute"),
        ("10.0 ** 400", "cannot compute"),
        ("1 / 0", "division by zero"),
        ("sqrt(-1)", "cannot compute"),
        ("1 +", "not an arithmetic expression"),
        ("+".join(["1"] * 300), "longer than"),
        ("(((((1)))))" + "+1" * 120, "more than 200 parts"),
        ("round(x=1)", "positional arguments only"),
    ],
)
def test_calculator_refuses_anything_but_bounded_arithmetic(expr, message):
    with pytest.raises(CalcError, match=message):
        evaluate(expr)


def test_calculator_bounds_intermediate_integers():
    with pytest.raises(CalcError, match=f"more than {MAX_INT_BITS} bits"):
        evaluate("(2 ** 1000) ** 3 * (2 ** 1000) ** 3")
    r = builtin_tools()["calculator"].run({"expression": "1000 ** 999"})
    assert not r.ok and r.error == "exception" and "too large" in r.content


def test_date_and_time_tools():
    clock = lambda: dt.datetime(2024, 2, 28, 23, 30, tzinfo=dt.UTC)  # noqa: E731
    tools = builtin_tools(clock=clock)
    assert tools["current_time"].run({}).content == "2024-02-28T23:30:00+00:00 (Wednesday, UTC)"
    tokyo = tools["current_time"].run({"timezone": "Asia/Tokyo"}).content
    assert tokyo == "2024-02-29T08:30:00+09:00 (Thursday, Asia/Tokyo)"
    assert tools["date_add"].run({"date": "2024-02-28", "days": 2}).content == "2024-03-01 (Friday)"
    assert tools["date_add"].run({"date": "2024-03-01", "days": -366}).content == "2023-03-01 (Wednesday)"
    assert tools["days_between"].run({"start": "2024-01-01", "end": "2024-03-01"}).content == "60"
    bad = tools["days_between"].run({"start": "yesterday", "end": "2024-03-01"})
    assert not bad.ok and "start 'yesterday' is not a date" in bad.content
    assert not tools["date_add"].run({"date": "9999-12-31", "days": 1}).ok
    assert "search_kb" not in tools  # the KB tools need a KB


def test_policy_per_call_per_key_and_refusals(caplog):
    s = Settings(agent_tools="calculator, search_kb")
    assert ToolPolicy.resolve(None, s).allowed == {"calculator", "search_kb"}
    assert ToolPolicy.resolve(["date_add"], s).allowed == {"date_add"}
    # a key's list caps the default list, and asking for more is denied by name
    capped = ToolPolicy.resolve(None, s, key_tools=["calculator"], key_id="bob")
    assert capped.allowed == {"calculator"}
    with pytest.raises(AccessDenied, match=r"API key 'bob' may not use the tool\(s\) search_kb"):
        ToolPolicy.resolve(["search_kb", "calculator"], s, key_tools=["calculator"], key_id="bob")
    with pytest.raises(UserError, match="no tools allowed"):
        ToolPolicy.resolve(None, Settings(agent_tools=""))
    with caplog.at_level(logging.WARNING, logger="genloom.agents"):
        text = capped.refusal("shell", known=False)
    assert text == "tool 'shell' does not exist; the tools you may call are: calculator"
    assert "key bob called 'shell'" in caplog.text
