"""POST /v1/agent over the real app, KB and audit log: the key's principals and tool allow-list apply, and
every tool call (refused ones included) is in the request's audit row."""

from __future__ import annotations

import json
import sqlite3

import pytest
from fastapi.testclient import TestClient

from agent_fakes import ScriptedModel, Turn, call
from genloom.backends.llm.fake import FakeLLM
from genloom.kb import KnowledgeBase
from genloom.serve import create_app
from genloom.serve.auth import KeyStore
from genloom.settings import Settings, set_settings

ALICE, BOB = "sk-alice-123", "sk-bob-456"


@pytest.fixture
def setup(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "keys.toml").write_text(
        f'[keys.alice]\nkey = "{ALICE}"\nprincipals = ["board"]\n\n'
        f'[keys.bob]\nkey = "{BOB}"\nprincipals = []\ntools = ["calculator", "search_kb"]\n'
    )
    s = Settings(home=home, model="fake:", embedder="hash:", agent_tools="search_kb,calculator")
    set_settings(s)
    (tmp_path / "plans.txt").write_text("The secret merger with Acme closes in March.")
    (tmp_path / "faq.md").write_text("# FAQ\n\nRefunds are paid within 5 business days.\n")
    with KnowledgeBase.open("docs", settings=s, create=True) as kb:
        kb.ingest([tmp_path / "faq.md"])
        kb.ingest([tmp_path / "plans.txt"], principals=["board"])
    models: list[ScriptedModel] = []

    class Latest:  # the server keeps one engine per model: it answers with the test's latest script
        backend = FakeLLM()  # what the server reads for admission (capabilities.concurrency)

        def generate(self, *args, **kwargs):
            return models[-1].generate(*args, **kwargs)

    client = TestClient(create_app(s, engine_factory=lambda spec: Latest()))
    return client, models, home


def post(client, key, **body):
    return client.post("/v1/agent", json=body, headers={"Authorization": f"Bearer {key}"})


def test_the_keys_principals_apply_and_every_tool_call_is_audited(setup):
    client, models, home = setup
    models.append(ScriptedModel(Turn("", [call("search_kb", "s1", query="secret merger Acme"),
                                          call("date_add", "d1", date="2024-01-01", days=1)]),
                                Turn("The merger closes in March.")))  # fmt: skip
    r = post(client, ALICE, task="When does the merger close?", kb="docs")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "agent.run" and body["answer"].startswith("The merger closes in March")
    assert "secret merger" in body["tool_calls"][0]["result"]  # alice reads as the board
    assert body["tool_calls"][1]["error"] == "refused"  # date_add is not in the agent_tools default
    assert body["citations"][0]["quote"] == "The secret merger with Acme closes in March."
    assert [e["type"] for e in body["events"]] == ["tool_call", "observation", "tool_call", "observation",
                                                   "answer"]  # fmt: skip
    row = (
        sqlite3.connect(home / "audit.db")
        .execute(
            "SELECT key_id, kb, prompt, output, tool_calls, finish_reason, prompt_tokens, chunk_ids"
            " FROM requests WHERE endpoint = '/v1/agent'"
        )
        .fetchone()
    )
    key_id, kb, prompt, output, tool_calls, finish, prompt_tokens, chunk_ids = row
    assert (key_id, kb, prompt, finish, prompt_tokens) == ("alice", "docs", "When does the merger close?",
                                                           "answer", 20)  # fmt: skip
    assert output == body["answer"]
    calls = json.loads(tool_calls)
    assert [(c["id"], c["name"], c["ok"], c["error"]) for c in calls] == [
        ("s1", "search_kb", True, None),
        ("d1", "date_add", False, "refused"),
    ]
    assert json.loads(calls[0]["arguments"]) == {"query": "secret merger Acme"}
    assert json.loads(chunk_ids) == [body["citations"][0]["chunk_id"]]


def test_a_keys_tool_list_caps_the_request(setup):
    client, models, _ = setup
    models.append(ScriptedModel(Turn("", [call("search_kb", query="merger")]), Turn("I do not know.")))
    r = post(client, BOB, task="merger?", kb="docs", tools=["calculator", "date_add"])
    assert r.status_code == 403 and "may not use the tool(s) date_add" in r.json()["error"]["message"]
    r = post(client, BOB, task="merger?", kb="docs")
    assert r.status_code == 200
    assert "merger" not in r.json()["tool_calls"][0]["result"]  # bob has no principals: public only
    assert post(client, "sk-wrong", task="x").status_code == 401


def test_bad_requests_are_rejected_by_name(setup):
    client, _, _ = setup
    r = post(client, ALICE, task="x", toolz=["calculator"])
    assert r.status_code == 400 and "toolz" in r.text
    r = post(client, ALICE, task="x", tools=["shell"])
    assert r.status_code == 400 and "unknown tool(s) shell" in r.json()["error"]["message"]
    r = post(client, ALICE, task="x", tools=["search_kb"])
    assert r.status_code == 400 and "pass --kb" in r.json()["error"]["message"]


def test_keys_file_tools_must_be_a_list(tmp_path):
    (tmp_path / "keys.toml").write_text('[keys.x]\nkey = "k"\ntools = "calculator"\n')
    from genloom.errors import UserError

    with pytest.raises(UserError, match="tools must be a list"):
        KeyStore.from_settings(Settings(home=tmp_path))


def test_an_existing_audit_log_gains_the_tool_calls_column_and_keeps_its_rows(tmp_path):
    from genloom import migrate
    from genloom.serve.audit import MIGRATIONS, AuditLog, AuditRecord

    path = tmp_path / "audit.db"
    db = migrate.connect(path)
    migrate.apply(db, MIGRATIONS[:2])  # a log written before agents existed
    db.execute(
        "INSERT INTO requests (ts, request_id, key_id, endpoint, status) VALUES (1, 'old', 'k', '/x', 200)"
    )
    db.close()
    log = AuditLog(path)
    log.write(AuditRecord("new", "k", "/v1/agent", tool_calls=[{"name": "calculator", "ok": True}]))
    rows = {r["request_id"]: r for r in log.rows()}
    log.close()
    assert rows["old"]["tool_calls"] == "[]" and rows["old"]["endpoint"] == "/x"
    assert json.loads(rows["new"]["tool_calls"]) == [{"name": "calculator", "ok": True}]
