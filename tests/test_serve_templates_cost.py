"""Templates over the API, cost in the usage block and the audit, spend per key, budgets (issue 21)."""

from __future__ import annotations

import json
import sqlite3

import pytest
from fastapi.testclient import TestClient

from genloom import cost
from genloom.errors import UserError
from genloom.serve import create_app
from genloom.settings import Settings
from serve_fakes import FakeAnswerStream, FakeEmbedder, FakeKBs

ALICE, BOB = "sk-alice-123", "sk-bob-456"
PRICE = "fake:=1000/2000"  # USD per million tokens: easy numbers


@pytest.fixture
def make(tmp_path):
    kbs = FakeKBs()

    def make(**overrides):
        s = Settings(home=tmp_path / "home", model="fake:", **overrides)
        app = create_app(s, kb_factory=kbs, kb_lister=kbs.names, embedder=FakeEmbedder(),
                         answer_factory=lambda q, **o: FakeAnswerStream(kbs, q, **o))  # fmt: skip
        return TestClient(app, base_url="http://localhost")

    return make


def auth(key):
    return {"Authorization": f"Bearer {key}"}


def audit_rows(tmp_path):
    db = sqlite3.connect(tmp_path / "home" / "audit.db")
    db.row_factory = sqlite3.Row
    return [dict(r) for r in db.execute("SELECT * FROM requests ORDER BY id")]


def test_templates_list_show_and_run(make, tmp_path):
    c = make(prices=PRICE)
    listed = {t["name"]: t for t in c.get("/v1/templates").json()["data"]}
    assert listed["content_generator"]["versions"] == [1, 2] and "source" not in listed["summarizer"]
    one = c.get("/v1/templates/content_generator", params={"version": 1}).json()
    assert one["id"] == "content_generator@v1" and one["variables"]["keyword"]["required"]
    r = c.post(
        "/v1/templates/summarizer/run",
        json={"variables": {"text": "Owls hunt.", "sentences": 1}, "temperature": 0},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (
        body["template"] == "summarizer@v1"
        and body["model"] == "fake:"
        and body["text"].startswith("You said:")
    )
    u = body["usage"]
    assert u["cost"] == pytest.approx((u["prompt_tokens"] * 1000 + u["completion_tokens"] * 2000) / 1e6)
    row = audit_rows(tmp_path)[-1]
    assert row["template"] == "summarizer@v1" and row["endpoint"] == "/v1/templates/run"
    assert row["cost"] == pytest.approx(u["cost"]) and row["request_id"] == body["id"]


def test_template_run_streams(make):
    c = make()
    r = c.post("/v1/templates/email_reply/run",
               json={"variables": {"email": "Lunch?", "intent": "say yes"}, "stream": True, "temperature": 0})  # fmt: skip
    events = [json.loads(e[6:]) for e in r.text.split("\n\n") if e.startswith("data: {")]
    assert events[0]["template"] == "email_reply@v1" and r.text.endswith("data: [DONE]\n\n")
    text = "".join(e.get("delta", "") for e in events)
    assert "say yes" in text and events[-1]["finish_reason"] == "stop" and events[-1]["usage"]["cost"] == 0.0


@pytest.mark.parametrize(
    ("name", "body", "status", "param"),
    [
        ("summarizer", {"variables": {}}, 400, "variables"),
        ("summarizer", {"variables": {"text": "x", "sentences": "2"}}, 400, "variables"),
        ("summarizer", {"variables": {"text": "x"}, "version": 9}, 404, None),
        ("nope", {"variables": {}}, 404, None),
        ("summarizer", {"variables": {"text": "x"}, "model": "other:"}, 404, "model"),
        ("summarizer", {"variables": {"text": "x"}, "max_tokens": 99999}, 400, "max_tokens"),
    ],
)
def test_template_run_errors(make, name, body, status, param):
    r = make().post(f"/v1/templates/{name}/run", json=body)
    assert r.status_code == status, r.text
    if param:
        assert r.json()["error"]["param"] == param


def test_cost_in_chat_usage_and_audit(make, tmp_path):
    c = make(prices=PRICE)
    body = c.post(
        "/v1/chat/completions", json={"model": "fake:", "messages": [{"role": "user", "content": "hi"}]}
    ).json()
    u = body["usage"]
    assert u["cost"] > 0 and u["cost"] == pytest.approx(
        (u["prompt_tokens"] * 1000 + u["completion_tokens"] * 2000) / 1e6
    )
    assert audit_rows(tmp_path)[-1]["cost"] == pytest.approx(u["cost"])


def test_budget_per_key_429_and_usage_endpoint(make):
    c = make(api_keys=f"alice={ALICE} bob={BOB}", prices=PRICE, budgets="alice=0.01 *=100")
    msg = {"model": "fake:", "messages": [{"role": "user", "content": "hello there friend"}]}
    spent, n = 0.0, 0
    while True:  # each answer costs ~0.02: the first one already uses alice's budget up
        r = c.post("/v1/chat/completions", json=msg, headers=auth(ALICE))
        if r.status_code != 200:
            break
        spent += r.json()["usage"]["cost"]
        n += 1
        assert n < 5
    assert n == 1 and r.status_code == 429
    err = r.json()["error"]
    assert err["code"] == "budget_exceeded" and "budget of key 'alice' is spent" in err["message"]
    assert int(r.headers["Retry-After"]) >= 1
    assert c.post("/v1/chat/completions", json=msg, headers=auth(BOB)).status_code == 200  # bob's is separate
    assert (
        c.post(
            "/v1/templates/summarizer/run", json={"variables": {"text": "x"}}, headers=auth(ALICE)
        ).status_code
        == 429
    )
    agent = c.post("/v1/agent", json={"task": "add 2 and 2", "tools": ["calculator"]}, headers=auth(ALICE))
    assert agent.status_code == 429 and agent.json()["error"]["code"] == "budget_exceeded"
    u = c.get("/v1/usage", headers=auth(ALICE)).json()  # the usage endpoint still answers
    assert u["key_id"] == "alice" and u["budget"]["budget"] == 0.01 and u["budget"]["remaining"] == 0
    assert [r["requests"] for r in u["data"]] == [1] and u["data"][0]["cost"] == pytest.approx(spent)
    assert c.get("/v1/usage", params={"key": "bob"}, headers=auth(ALICE)).status_code == 403
    by_model = c.get("/v1/usage", params={"by": "model"}, headers=auth(BOB)).json()
    assert by_model["data"][0]["model"] == "fake:" and by_model["budget"]["budget"] == 100


def test_cli_usage(make, capsys):
    from genloom.cli.main import main
    from genloom.settings import set_settings

    c = make(prices=PRICE)
    c.post("/v1/chat/completions", json={"model": "fake:", "messages": [{"role": "user", "content": "hi"}]})
    set_settings(Settings(home=c.app.state.genloom.settings.home, prices=PRICE))
    assert main(["usage", "--json", "--by", "model"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["data"][0]["key_id"] == "local" and out["data"][0]["cost"] > 0


@pytest.mark.parametrize(
    ("prices", "model", "expected"),
    [
        ("a:=1/2", "a:", (1, 2)),
        ("openai:*=1/2 openai:http://x#m=3/4", "openai:http://x#m", (3, 4)),
        ("openai:*=1/2", "openai:http://y#n", (1, 2)),
        ("llamacpp:=0/0;fake:=5/5", "rag:docs (fake:)", (5, 5)),
        ("a:=1/2", "b:", (0, 0)),
    ],
)
def test_price_table(prices, model, expected):
    p = cost.price_of(model, Settings(prices=prices))
    assert (p.prompt, p.completion) == expected


@pytest.mark.parametrize("prices", ["a:=1", "a:=x/1", "a:=-1/1", "nothing"])
def test_bad_price_table_fails_the_server_start(make, prices):
    with pytest.raises(UserError, match="prices"):
        make(prices=prices)


def test_budget_period_is_validated():
    with pytest.raises(UserError, match="budget_period"):
        Settings(budget_period="week")
