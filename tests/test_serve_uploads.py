"""Uploads and tenancy over the REAL KnowledgeBase and SQLite store (issue 18): a failed upload creates
nothing, per-file results (200 / 207 / 422) without server paths, ``chars`` right, knowledge bases scoped to
the keys that may read them, and rag: answers that honour the request's max_tokens."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from genloom.kb import KnowledgeBase
from genloom.kb_reembed import abort_reembed, reembed_kb
from genloom.serve import create_app
from genloom.settings import Settings, set_settings

ALICE, BOB = "sk-alice-123", "sk-bob-456"
KETTLES = "Kettles boil water quickly when they are switched on. A kettle whistles when the water boils."


@pytest.fixture
def client(tmp_path):
    s = Settings(home=tmp_path / "home", model="fake:", embedder="hash:",
                 api_keys=f"alice={ALICE}@tenant:a bob={BOB}@tenant:b")  # fmt: skip
    set_settings(s)
    return TestClient(create_app(s), base_url="http://localhost")


def auth(key):
    return {"Authorization": f"Bearer {key}"}


def upload(client, key, kb, *files):
    return client.post(f"/v1/kb/{kb}/documents", files=[("files", f) for f in files], headers=auth(key))


def models(client, key):
    return [m["id"] for m in client.get("/v1/models", headers=auth(key)).json()["data"]]


def kbs(client, key):
    return [k["name"] for k in client.get("/v1/kb", headers=auth(key)).json()["data"]]


def test_a_failed_upload_creates_nothing_and_says_why(client, tmp_path):
    r = upload(client, ALICE, "junk", ("tool.exe", b"MZ\x90\x00", "application/octet-stream"))
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"]["param"] == "files" and "unsupported file type" in body["error"]["message"]
    (f,) = body["report"]["files"]
    assert f["status"] == "failed" and f["source"] == "upload:alice/tool.exe"
    assert str(tmp_path) not in r.text and "/uploads/" not in r.text  # no server path
    assert "rag:junk" not in models(client, ALICE) and "rag:junk" not in models(client, BOB)
    assert "junk" not in kbs(client, ALICE)
    assert not (tmp_path / "home" / "kb" / "junk.db").exists()


def test_mixed_upload_is_207_with_per_file_results_and_chars(client, tmp_path):
    r = upload(client, ALICE, "kettles", ("kettles.txt", KETTLES.encode(), "text/plain"),
               ("data.bin", b"\x00\x01", "application/octet-stream"))  # fmt: skip
    assert r.status_code == 207, r.text
    files = {f["source"]: f for f in r.json()["report"]["files"]}
    assert files["upload:alice/kettles.txt"]["status"] == "added"
    assert files["upload:alice/data.bin"]["status"] == "failed" and files["upload:alice/data.bin"]["reason"]
    assert str(tmp_path) not in r.text
    docs = client.get("/v1/kb/kettles/documents", headers=auth(ALICE)).json()["data"]
    assert [d["chars"] for d in docs] == [len(KETTLES)]
    r = upload(client, ALICE, "kettles", ("kettles.txt", KETTLES.encode(), "text/plain"))
    assert r.status_code == 200 and r.json()["report"]["unchanged"] == 1


def test_knowledge_bases_belong_to_the_tenant(client):
    assert upload(client, ALICE, "alices", ("k.txt", KETTLES.encode(), "text/plain")).status_code == 200
    assert "rag:alices" in models(client, ALICE) and "alices" in kbs(client, ALICE)
    assert "rag:alices" not in models(client, BOB) and "alices" not in kbs(client, BOB)
    for path in ("/v1/kb/alices/documents", "/v1/models/rag:alices"):
        r = client.get(path, headers=auth(BOB))
        assert r.status_code == 404, (path, r.text)
    r = client.post("/v1/kb/alices/search", json={"query": "kettle"}, headers=auth(BOB))
    assert r.status_code == 404
    chat = {"model": "rag:alices", "messages": [{"role": "user", "content": "Do kettles boil water?"}]}
    assert client.post("/v1/chat/completions", json=chat, headers=auth(BOB)).status_code == 404
    assert client.get("/v1/models/rag:alices", headers=auth(ALICE)).json()["id"] == "rag:alices"


def test_rag_answers_honour_max_tokens(client):
    upload(client, ALICE, "kettles", ("kettles.txt", KETTLES.encode(), "text/plain"))
    chat = {"model": "rag:kettles", "messages": [{"role": "user", "content": "Do kettles boil water quickly?"}],
            "rag_mode": "generate"}  # fmt: skip
    r = client.post("/v1/chat/completions", json={**chat, "max_tokens": 3}, headers=auth(ALICE))
    assert r.status_code == 200, r.text
    assert 0 < r.json()["usage"]["completion_tokens"] <= 3
    r = client.post("/v1/chat/completions", json={**chat, "logprobs": True}, headers=auth(ALICE))
    assert r.status_code == 400 and r.json()["error"]["param"] == "logprobs"


def test_uploads_and_deletes_are_refused_while_the_kb_is_reembedded(client, tmp_path):
    """The server's upload goes through the same KB ingest: while a re-embed holds the KB (here one that was
    stopped) an upload or delete is a 400 that names the re-embed and what to do; nothing changes."""
    r = upload(client, ALICE, "kettles", ("kettles.txt", KETTLES.encode(), "text/plain"))
    assert r.status_code == 200, r.text
    doc_id = r.json()["report"]["files"][0]["doc_id"]

    def stopped(source, staging, batches):
        raise RuntimeError("killed")
        yield

    with pytest.raises(RuntimeError):
        reembed_kb("kettles", "hash:64", runner=stopped)
    r = upload(client, ALICE, "kettles", ("more.txt", b"Teapots pour tea.", "text/plain"))
    assert r.status_code == 400, r.text
    message = r.json()["error"]["message"]
    assert "'kettles' takes no document changes now: it is being re-embedded" in message
    assert "genloom kb reembed kettles --abort" in message
    r = client.delete(f"/v1/kb/kettles/documents/{doc_id}", headers=auth(ALICE))
    assert r.status_code == 400 and "being re-embedded" in r.json()["error"]["message"]
    with KnowledgeBase.open("kettles") as kb:
        assert [d.doc_id for d in kb.documents()] == [doc_id]
    abort_reembed("kettles")
    assert (
        upload(client, ALICE, "kettles", ("more.txt", b"Teapots pour tea.", "text/plain")).status_code == 200
    )
    assert client.delete(f"/v1/kb/kettles/documents/{doc_id}", headers=auth(ALICE)).status_code == 200
