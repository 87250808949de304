"""The whole schema suite (23 schemas x 3 inputs) on the bundled model: every output must be schema-valid."""

from __future__ import annotations

import jsonschema
import pytest

from genloom import Engine
from genloom.backends.llm.llamacpp import LlamaCppLLM
from genloom.generate import extract_structured
from schema_suite import SUITE

pytestmark = [pytest.mark.model, pytest.mark.slow]

CASES = [(name, i) for name, _, inputs in SUITE for i in range(len(inputs))]


@pytest.fixture(scope="module")
def engine():
    return Engine(LlamaCppLLM(n_ctx=2048, n_threads=2))


@pytest.mark.parametrize(("name", "i"), CASES, ids=[f"{n}-{i}" for n, i in CASES])
def test_every_output_is_schema_valid(engine, name, i):
    schema, inputs = next((s, inp) for n, s, inp in SUITE if n == name)
    r = extract_structured(inputs[i], schema, model=engine)
    jsonschema.validate(r.value, schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    assert r.completion.finish_reason == "stop" and r.attempts == 1
