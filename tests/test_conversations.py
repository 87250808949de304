"""Conversations, UI preferences and feedback: the store on a real SQLite file, the HTTP routes with two API
keys that must never see each other's data, the JSONL feedback export (API and CLI) in its exact format."""

from __future__ import annotations

import json
import sqlite3

import pytest
from fastapi.testclient import TestClient

from genloom.cli.main import main
from genloom.conversations import ConversationStore, open_conversations, title_from
from genloom.conversations.postgres import PgConversationStore
from genloom.errors import NotFound, UserError
from genloom.serve import create_app
from genloom.settings import Settings, set_settings
from serve_fakes import FakeAnswerStream, FakeEmbedder, FakeKBs

ALICE, BOB = "sk-alice-1", "sk-bob-2"
A, B = {"Authorization": f"Bearer {ALICE}"}, {"Authorization": f"Bearer {BOB}"}
EXPORT_KEYS = ["request_id", "ts", "key_id", "rating", "comment", "endpoint", "model", "kb", "template",
               "messages", "question", "answer"]  # fmt: skip


def _exercise(st):
    """What every conversation store must do (SQLite and Postgres run the same checks)."""
    c = st.create("alice", messages=[{"role": "user", "content": "How do   kettles\nwork?"}], model="rag:kb")
    assert c["title"] == "How do kettles work?" and c["messages_count"] == 1 and c["model"] == "rag:kb"
    st.append(
        "alice", c["id"], [{"role": "assistant", "content": "They boil [1].", "meta": {"id": "chatcmpl-1"}}]
    )
    other = st.create("alice", title="Tea notes")
    assert [x["id"] for x in st.list("alice")] == [other["id"], c["id"]]  # newest first
    assert [x["id"] for x in st.list("alice", query="boil")] == [c["id"]]  # message text is searched
    assert [x["id"] for x in st.list("alice", query="tea")] == [other["id"]]  # titles too
    assert st.list("alice", query="100%") == []  # LIKE wildcards are literal
    # another owner sees nothing and cannot read, rename, append to or delete it
    assert st.list("bob") == []
    for call in (lambda: st.get("bob", c["id"]), lambda: st.rename("bob", c["id"], "x"),
                 lambda: st.append("bob", c["id"], [{"role": "user", "content": "hi"}]),
                 lambda: st.delete("bob", c["id"])):  # fmt: skip
        with pytest.raises(NotFound):
            call()
    # an edited question replaces what followed it
    got = st.append(
        "alice", c["id"], [{"role": "user", "content": "How do kettles switch off?"}], replace_from=0
    )
    assert [m["content"] for m in got["messages"]] == ["How do kettles switch off?"]
    with pytest.raises(UserError, match="replace_from is 5"):
        st.append("alice", c["id"], [{"role": "user", "content": "x"}], replace_from=5)
    with pytest.raises(UserError, match="role 'robot'"):
        st.append("alice", c["id"], [{"role": "robot", "content": "x"}])
    assert len(st.get("alice", c["id"])["messages"]) == 1  # a rejected append changed nothing
    assert st.rename("alice", c["id"], "  Kettles  ")["title"] == "Kettles"
    st.delete("alice", c["id"])
    assert [x["id"] for x in st.list("alice")] == [other["id"]]
    st.set_preferences("alice", {"model": "fake:", "temperature": 0.2})
    assert st.preferences("alice") == {"model": "fake:", "temperature": 0.2} and st.preferences("bob") == {}
    st.set_preferences("alice", {"model": "other:"})  # saving again replaces them
    assert st.preferences("alice") == {"model": "other:"}
    return other


def test_store_keeps_conversations_per_owner(tmp_path):
    path = tmp_path / "home" / "conversations.db"
    st = ConversationStore(path)
    _exercise(st)
    st.close()
    # the file survives a reopen, its schema recorded by the one migration mechanism, mode 0600
    again = ConversationStore(path)
    assert [x["title"] for x in again.list("alice")] == ["Tea notes"]
    assert (path.stat().st_mode & 0o777) == 0o600
    names = [r[0] for r in sqlite3.connect(path).execute("SELECT name FROM migrations")]
    assert names == ["001_conversations"]


def test_postgres_store_does_the_same_in_the_store_database(pg_url, tmp_path):
    s = Settings(home=tmp_path / "home", store=pg_url)
    st = open_conversations(s)
    assert isinstance(st, PgConversationStore)
    other = _exercise(st)
    # a second server process on the same database (its own pool) sees the same conversations; no SQLite file
    from genloom.backends.store.postgres_db import PgDatabase

    db2 = PgDatabase(pg_url)
    try:
        again = PgConversationStore(db2)
        assert [x["id"] for x in again.list("alice")] == [other["id"]] and again.list("bob") == []
    finally:
        db2.close()
        # leave the shared test database as found: other tests count rows in it
        st.db.execute("DELETE FROM genloom_messages")
        st.db.execute("DELETE FROM genloom_conversations")
        st.db.execute("DELETE FROM genloom_preferences")
    assert not (tmp_path / "home" / "conversations.db").exists()
    assert isinstance(open_conversations(Settings(home=tmp_path / "h2")), ConversationStore)


def test_title_from_the_first_question():
    assert title_from("") == "New conversation"
    long = (
        "What is the best way to descale an electric kettle that has been used for many years in hard water?"
    )
    t = title_from(long)
    assert t.endswith("…") and len(t) <= 61 and long.startswith(t[:-1])


@pytest.fixture
def client(tmp_path):
    kbs = FakeKBs()
    s = Settings(home=tmp_path / "home", model="fake:", api_keys=f"alice={ALICE}@tenant:a bob={BOB}@tenant:b")
    app = create_app(s, kb_factory=kbs, kb_lister=kbs.names, embedder=FakeEmbedder(),
                     answer_factory=lambda q, **o: FakeAnswerStream(kbs, q, **o))  # fmt: skip
    with TestClient(app) as c:
        yield c


def test_conversation_routes_isolate_keys(client):
    r = client.post("/v1/conversations", json={"messages": [{"role": "user", "content": "hello"}]}, headers=A)
    assert r.status_code == 200, r.text
    cid = r.json()["id"]
    r = client.post(f"/v1/conversations/{cid}/messages", headers=A,
                    json={"messages": [{"role": "assistant", "content": "hi", "meta": {"id": "chatcmpl-x"}}]})  # fmt: skip
    assert r.json()["messages"][1] == {"role": "assistant", "content": "hi", "meta": {"id": "chatcmpl-x"},
                                       "ts": r.json()["messages"][1]["ts"]}  # fmt: skip
    assert [c["id"] for c in client.get("/v1/conversations", headers=A).json()["data"]] == [cid]
    assert client.get("/v1/conversations", headers=B).json()["data"] == []
    for method, path, body in (("GET", f"/v1/conversations/{cid}", None),
                               ("PATCH", f"/v1/conversations/{cid}", {"title": "mine now"}),
                               ("POST", f"/v1/conversations/{cid}/messages", {"messages": [{"role": "user", "content": "x"}]}),
                               ("DELETE", f"/v1/conversations/{cid}", None)):  # fmt: skip
        r = client.request(method, path, json=body, headers=B)
        assert r.status_code == 404 and "does not exist" in r.json()["error"]["message"], (method, r.text)
    assert client.get("/v1/conversations", headers={}).status_code == 401
    r = client.patch(f"/v1/conversations/{cid}", json={"title": "Greetings"}, headers=A)
    assert r.json()["title"] == "Greetings"
    assert client.get("/v1/conversations?q=greet", headers=A).json()["data"][0]["id"] == cid
    # unknown fields are rejected by name, not ignored
    r = client.post("/v1/conversations", json={"titel": "typo"}, headers=A)
    assert r.status_code == 400 and "titel" in r.text
    assert client.delete(f"/v1/conversations/{cid}", headers=A).json()["deleted"] is True
    assert client.get(f"/v1/conversations/{cid}", headers=A).status_code == 404


def test_preferences_are_per_key_and_validated(client):
    r = client.put("/v1/preferences", json={"model": "rag:docs", "temperature": 0.3, "rag_mode": "extractive"},
                   headers=A)  # fmt: skip
    assert r.status_code == 200, r.text
    assert client.get("/v1/preferences", headers=A).json() == {"model": "rag:docs", "temperature": 0.3,
                                                               "rag_mode": "extractive"}  # fmt: skip
    assert client.get("/v1/preferences", headers=B).json() == {}
    r = client.put("/v1/preferences", json={"temperature": 9}, headers=A)
    assert r.status_code == 400 and "temperature" in r.text
    r = client.put("/v1/preferences", json={"colour": "blue"}, headers=A)
    assert r.status_code == 400 and "colour" in r.text


def chat(client, headers, content="rate me"):
    body = {"model": "fake:", "messages": [{"role": "system", "content": "Be brief."},
                                           {"role": "user", "content": content}], "temperature": 0}  # fmt: skip
    r = client.post("/v1/chat/completions", json=body, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["id"]


def test_feedback_is_stored_with_the_audit_record_and_exported_as_jsonl(client, tmp_path, capsys):
    rid = chat(client, A)
    r = client.post(
        "/v1/feedback", json={"request_id": rid, "rating": "down", "comment": "  too short "}, headers=A
    )
    assert r.status_code == 200, r.text
    assert r.json()["comment"] == "too short"
    # rating again replaces the first rating
    client.post(
        "/v1/feedback", json={"request_id": rid, "rating": "up", "comment": "fine after all"}, headers=A
    )
    # bob can neither rate alice's answer nor learn it exists; nonsense ids and ratings are rejected
    r = client.post("/v1/feedback", json={"request_id": rid, "rating": "down"}, headers=B)
    assert r.status_code == 404
    assert (
        client.post(
            "/v1/feedback", json={"request_id": "chatcmpl-nope", "rating": "up"}, headers=A
        ).status_code
        == 404
    )
    r = client.post("/v1/feedback", json={"request_id": rid, "rating": "meh"}, headers=A)
    assert r.status_code == 400 and "rating" in r.text
    bob_rid = chat(client, B, "bob asks")
    client.post("/v1/feedback", json={"request_id": bob_rid, "rating": "down"}, headers=B)

    r = client.get("/v1/feedback/export", headers=A)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    lines = r.text.splitlines()
    assert len(lines) == 1  # alice exports only her own ratings
    obj = json.loads(lines[0])
    assert list(obj) == EXPORT_KEYS
    assert obj == {
        "request_id": rid, "ts": obj["ts"], "key_id": "alice", "rating": "up", "comment": "fine after all",
        "endpoint": "/v1/chat/completions", "model": "fake:", "kb": None, "template": None,
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "rate me"}],
        "question": "rate me", "answer": "You said: rate me",
    }  # fmt: skip
    assert isinstance(obj["ts"], float)
    db = sqlite3.connect(tmp_path / "home" / "audit.db")
    assert db.execute("SELECT rating, comment FROM feedback WHERE request_id = ?", (rid,)).fetchall() == [
        ("up", "fine after all")
    ]
    # taking a rating back
    assert client.delete(f"/v1/feedback/{bob_rid}", headers=A).status_code == 404
    assert client.delete(f"/v1/feedback/{bob_rid}", headers=B).json()["deleted"] is True

    # the CLI exports every key's ratings from the same database
    set_settings(Settings(home=tmp_path / "home"))
    out = tmp_path / "fb.jsonl"
    assert main(["feedback", "export", "--out", str(out)]) == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["request_id"] for x in rows] == [rid] and list(rows[0]) == EXPORT_KEYS
    capsys.readouterr()
    assert main(["feedback", "export", "--key", "bob"]) == 0
    assert capsys.readouterr().out == ""  # bob's rating was taken back
    assert main(["feedback", "export", "--key", "alice"]) == 0
    assert [json.loads(x)["request_id"] for x in capsys.readouterr().out.splitlines()] == [rid]


def test_feedback_export_cli_without_an_audit_log(tmp_path, capsys):
    set_settings(Settings(home=tmp_path / "empty"))
    assert main(["feedback", "export"]) == 2
    assert "no audit log" in capsys.readouterr().err


def test_rag_answers_carry_claims_and_the_searched_query(client):
    client.post("/v1/kb/docs/documents", files=[("files", ("k.txt", b"Kettles boil water quickly. They whistle."))],
                headers=A)  # fmt: skip
    body = {
        "model": "rag:docs",
        "messages": [{"role": "user", "content": "Do kettles boil water?"}],
        "stream": True,
    }
    text = client.post("/v1/chat/completions", json=body, headers=A).text
    final = [json.loads(e[6:]) for e in text.split("\n\n") if e.startswith("data: {")][-1]
    delta = final["choices"][0]["delta"]
    assert delta["query"] == "Do kettles boil water?" and delta["claims"][0]["supported"] is True
    assert delta["citations"][0]["quote"] == "Kettles boil water quickly."


def test_document_text_endpoint_and_honest_upload_report(client):
    files = [("files", ("k.txt", b"Kettles boil water quickly.")), ("files", ("data.csv", b"a,b\n1,2\n"))]
    report = client.post("/v1/kb/docs/documents", files=files, headers=A).json()["report"]
    statuses = {f["source"].split("/")[-1]: (f["status"], f["reason"]) for f in report["files"]}
    assert statuses == {"k.txt": ("added", ""), "data.csv": ("failed", "unsupported file type '.csv'")}
    doc_id = next(f["doc_id"] for f in report["files"] if f["status"] == "added")
    d = client.get(f"/v1/kb/docs/documents/{doc_id}", headers=A).json()
    assert d["text"] == "Kettles boil water quickly." and d["title"] == "k"
    # tenant b may not read tenant a's document: it reads as absent
    assert client.get(f"/v1/kb/docs/documents/{doc_id}", headers=B).status_code == 404


def test_an_audit_db_from_before_feedback_gains_the_table_and_keeps_its_rows(tmp_path, monkeypatch):
    from genloom.serve import audit

    monkeypatch.setattr(audit, "MIGRATIONS", audit.MIGRATIONS[:3])  # written by the server before feedback
    audit.AuditLog(tmp_path / "audit.db").close()
    db = sqlite3.connect(tmp_path / "audit.db")  # a row as that server wrote it (before the hash chain)
    db.execute("INSERT INTO requests (ts, request_id, key_id, endpoint, prompt, output, status) VALUES"
               " (1, 'chatcmpl-old', 'alice', '/v1/chat/completions', 'hi', 'yo', 200)")  # fmt: skip
    db.commit()
    db.close()
    monkeypatch.undo()
    log = audit.AuditLog(tmp_path / "audit.db")
    log.put_feedback("chatcmpl-old", "alice", "down", None)
    (row,) = log.feedback_rows()
    assert (row["request_id"], row["rating"], row["output"]) == ("chatcmpl-old", "down", "yo")
    log.close()
