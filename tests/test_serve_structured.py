"""response_format on /v1/chat/completions: schema-valid output from the real bundled model, streamed or not."""

from __future__ import annotations

import json

import jsonschema
import pytest
from fastapi.testclient import TestClient

from genloom.serve import create_app
from genloom.settings import Settings

pytestmark = pytest.mark.model

PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 40},
        "age": {"type": "integer", "minimum": 0, "maximum": 130},
    },
    "required": ["name", "age"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    s = Settings(home=tmp_path_factory.mktemp("home"), model="llamacpp:", n_ctx=2048)
    return TestClient(create_app(s, models=["llamacpp:"]), base_url="http://localhost")


def ask(client, response_format, stream=False):
    body = {"model": "llamacpp:", "max_tokens": 80, "temperature": 0, "stream": stream, "response_format": response_format,
            "messages": [{"role": "user", "content": "Maria Lopez is 31 years old. Give her name and age as JSON."}]}  # fmt: skip
    return client.post("/v1/chat/completions", json=body)


def test_json_schema_response_is_valid(client):
    rf = {"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON, "strict": True}}
    r = ask(client, rf)
    assert r.status_code == 200, r.text
    jsonschema.validate(json.loads(r.json()["choices"][0]["message"]["content"]), PERSON)


def test_json_object_streams_valid_json(client):
    r = ask(client, {"type": "json_object"}, stream=True)
    events = [e[6:] for e in r.text.split("\n\n") if e.startswith("data: ") and e != "data: [DONE]"]
    text = "".join(
        json.loads(e)["choices"][0]["delta"].get("content") or "" for e in events if '"choices"' in e
    )
    assert isinstance(json.loads(text), dict)


def test_bad_response_format_is_a_400_in_openai_shape(client):
    r = ask(client, {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "objekt"}}})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    r = ask(client, {"type": "yaml"})
    assert r.status_code == 400
    body = {
        "model": "rag:docs",
        "response_format": {"type": "json_object"},
        "messages": [{"role": "user", "content": "x"}],
    }
    assert client.post("/v1/chat/completions", json=body).status_code == 400
