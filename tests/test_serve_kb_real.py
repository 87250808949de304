"""The server's knowledge-base and grounded-answer endpoints over the REAL KnowledgeBase, AnswerStream and
SQLite store (the hashing embedder and the echo model keep it fast; the real models are covered elsewhere)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from genloom.kb import KnowledgeBase
from genloom.serve import create_app
from genloom.settings import Settings, set_settings

ALICE, BOB = "sk-alice-123", "sk-bob-456"
DATA = Path(__file__).parent / "data" / "injection"
KETTLES = "Kettles boil water quickly when they are switched on. A kettle whistles when the water boils."


@pytest.fixture
def client(tmp_path):
    s = Settings(home=tmp_path / "home", model="fake:", embedder="hash:",
                 api_keys=f"alice={ALICE}@tenant:a bob={BOB}@tenant:b")  # fmt: skip
    set_settings(s)
    with KnowledgeBase.open("docs", settings=s, create=True) as kb:
        kb.ingest([DATA / "packages.md"])  # public
    return TestClient(create_app(s))


def auth(key):
    return {"Authorization": f"Bearer {key}"}


def upload(client, key, name="kettles.txt", text=KETTLES):
    files = [("files", (name, text.encode(), "text/plain"))]
    return client.post("/v1/kb/docs/documents", files=files, headers=auth(key))


def test_upload_list_search_ask_delete_with_tenants(client):
    r = upload(client, ALICE)
    assert r.status_code == 200, r.text
    report = r.json()["report"]
    assert report["added"] == 1 and report["files"][0]["source"] == "upload:alice/kettles.txt"
    kettle_id = report["files"][0]["doc_id"]
    again = upload(client, ALICE, text=KETTLES + " It switches itself off.").json()["report"]
    assert again["updated"] == 1 and again["files"][0]["doc_id"] == kettle_id  # a re-upload updates it
    bobs = upload(client, BOB, text="Bob's own kettle notes.").json()["report"]
    assert bobs["files"][0]["doc_id"] != kettle_id  # same file name, another tenant: another document

    def listed(key):
        return {d["doc_id"]: d for d in client.get("/v1/kb/docs/documents", headers=auth(key)).json()["data"]}

    alice, bob = listed(ALICE), listed(BOB)
    assert {d["source"].split("/")[-1] for d in alice.values()} == {"packages.md", "kettles.txt"}
    assert kettle_id in alice and kettle_id not in bob  # bob sees public documents and his own only
    assert any(d["source"].endswith("packages.md") for d in bob.values())

    q = {"query": "kettle boils water", "k": 5}
    alice_hits = client.post("/v1/kb/docs/search", json=q, headers=auth(ALICE)).json()["data"]
    bob_hits = client.post("/v1/kb/docs/search", json=q, headers=auth(BOB)).json()["data"]
    assert alice_hits[0]["doc_id"] == kettle_id
    assert all(h["doc_id"] != kettle_id for h in bob_hits)

    a = client.post("/v1/kb/docs/ask", json={"question": "What happens when the water in a kettle boils?"},
                    headers=auth(ALICE)).json()  # fmt: skip
    assert not a["refused"] and "whistles" in a["answer"]
    c = a["citations"][0]
    assert c["doc_id"] == kettle_id and c["quote"] in KETTLES

    body = {
        "model": "rag:docs",
        "messages": [{"role": "user", "content": "What happens when a kettle boils?"}],
    }
    msg = client.post("/v1/chat/completions", json=body, headers=auth(BOB)).json()["choices"][0]["message"]
    assert "whistle" not in msg["content"] and all(x["doc_id"] != kettle_id for x in msg["citations"])

    assert client.delete(f"/v1/kb/docs/documents/{kettle_id}", headers=auth(BOB)).status_code == 404
    assert client.delete(f"/v1/kb/docs/documents/{kettle_id}", headers=auth(ALICE)).json()["deleted"] is True
    assert (
        client.post("/v1/kb/docs/search", json=q, headers=auth(ALICE)).json()["data"][0]["doc_id"]
        != kettle_id
    )


def test_rag_model_streams_verified_text_and_citations(client):
    upload(client, ALICE)
    body = {"model": "rag:docs", "stream": True,
            "messages": [{"role": "user", "content": "How do I stop a package from being upgraded?"}]}  # fmt: skip
    text = client.post("/v1/chat/completions", json=body, headers=auth(BOB)).text
    assert text.endswith("data: [DONE]\n\n") and "apt-mark hold" in text and '"citations"' in text


def test_unknown_kb_is_404_in_openai_shape(client):
    r = client.post("/v1/kb/nope/search", json={"query": "x"}, headers=auth(ALICE))
    assert r.status_code == 404 and "nope" in r.json()["error"]["message"]
