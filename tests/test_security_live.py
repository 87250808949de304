"""Issue 19, finding by finding, against a live uvicorn server over the real knowledge base (SQLite):
two tenants' keys (alice and dave share tenant:a, bob is tenant:b), a key with no principals (carol), an
admin key (root), and the no-key local mode."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from genloom.errors import UserError
from genloom.kb import KnowledgeBase
from genloom.serve.auth import KeyStore
from genloom.settings import Settings
from security_helpers import KEYS, live

KETTLE = b"Kettles boil water quickly. A kettle whistles when the water boils. Secret word: heliotrope."


def ids(resp) -> list[str]:
    return [f["doc_id"] for f in resp.json()["report"]["files"]]


def listed(srv, who, kb="docs") -> dict[str, dict]:
    r = srv.as_(who, "GET", f"/v1/kb/{kb}/documents")
    return {d["doc_id"]: d for d in r.json()["data"]} if r.status_code == 200 else {}


@pytest.fixture
def srv(tmp_path):
    with live(tmp_path) as s:
        src = tmp_path / "handbook.md"
        src.write_text("# Handbook\n\nThe office kettle is descaled every Monday.\n")
        with KnowledgeBase.open("docs", settings=s.settings, create=True) as kb:
            kb.ingest([src])  # public, by the CLI: no writers
        yield s


def test_public_cli_documents_need_an_admin_key_to_delete_and_deletes_are_audited(srv):
    (cli_doc,) = listed(srv, "alice")
    for who in ("alice", "bob", "carol"):
        r = srv.as_(who, "DELETE", f"/v1/kb/docs/documents/{cli_doc}")
        assert r.status_code == 403 and "admin key" in r.json()["error"]["message"], r.text
    assert cli_doc in listed(srv, "bob")
    assert srv.as_("root", "DELETE", f"/v1/kb/docs/documents/{cli_doc}").json()["deleted"] is True
    assert cli_doc not in listed(srv, "root")
    rows = [r for r in srv.audit() if r["endpoint"] == "/v1/kb/documents/delete"]
    assert [(r["key_id"], r["status"], r["prompt"]) for r in rows] == [
        ("alice", 403, cli_doc), ("bob", 403, cli_doc), ("carol", 403, cli_doc), ("root", 200, cli_doc)]  # fmt: skip


def test_documents_are_changed_only_by_their_writer_or_an_admin(srv):
    (doc,) = ids(srv.upload("alice", "docs", [("kettle.txt", KETTLE)]))
    assert listed(srv, "dave")[doc]["writers"] == ["key:alice"]  # dave shares the tenant: he reads it
    r = srv.as_("dave", "DELETE", f"/v1/kb/docs/documents/{doc}")
    assert r.status_code == 403 and doc in listed(srv, "alice")
    # dave uploading the same name makes his own document; alice's is untouched
    (daves,) = ids(srv.upload("dave", "docs", [("kettle.txt", b"Dave's kettle is blue.")]))
    assert daves != doc and "heliotrope" in srv.as_("alice", "POST", "/v1/kb/docs/search",
                                                    json={"query": "heliotrope"}).text  # fmt: skip
    assert srv.as_("alice", "DELETE", f"/v1/kb/docs/documents/{doc}").json()["deleted"] is True
    assert srv.as_("root", "DELETE", f"/v1/kb/docs/documents/{daves}").json()["deleted"] is True
    uploads = [r for r in srv.audit() if r["endpoint"] == "/v1/kb/documents/upload"]
    assert [(r["key_id"], r["status"]) for r in uploads] == [("alice", 200), ("dave", 200)]
    assert doc in uploads[0]["output"] and daves in uploads[1]["output"]


def test_a_key_without_principals_keeps_its_uploads_to_itself(srv):
    (doc,) = ids(srv.upload("carol", "docs", [("c.txt", KETTLE)]))
    assert listed(srv, "carol")[doc]["principals"] == ["key:carol"]
    for who in ("alice", "bob"):
        assert doc not in listed(srv, who)
        hits = srv.as_(who, "POST", "/v1/kb/docs/search", json={"query": "heliotrope kettle"}).json()["data"]
        assert all(h["doc_id"] != doc for h in hits)


def test_unscoped_uploads_are_public_only_when_the_setting_says_so(tmp_path):
    with live(tmp_path, unscoped_uploads_public=1) as srv:
        (doc,) = ids(srv.upload("carol", "docs", [("c.txt", KETTLE)]))
        assert doc in listed(srv, "bob") and listed(srv, "bob")[doc]["principals"] == ["*"]
        assert srv.as_("bob", "DELETE", f"/v1/kb/docs/documents/{doc}").status_code == 403  # read, not write


def test_key_names_are_unique_across_sources(tmp_path):
    home = tmp_path / "h"
    home.mkdir()
    (home / "keys.toml").write_text('[keys.alice]\nkey = "sk-other"\nprincipals = ["tenant:b"]\n')
    with pytest.raises(UserError) as e:
        KeyStore.from_settings(Settings(home=home, api_keys="alice=sk-alice@tenant:a"))
    assert "'alice' is defined twice" in str(e.value) and "GENLOOM_API_KEYS" in str(e.value)
    assert str(home / "keys.toml") in str(e.value)
    with pytest.raises(UserError, match="same secret"):
        KeyStore.from_settings(Settings(home=tmp_path, api_keys="a=sk-same b=sk-same"))
    with pytest.raises(UserError, match="reserved"):
        KeyStore.from_settings(Settings(home=tmp_path, api_keys="a=sk-1@key:b"))
    with pytest.raises(UserError, match="not an API key"):
        KeyStore.from_settings(Settings(home=tmp_path, api_keys="a=sk-1", admin_keys="nobody"))


def test_ids_cannot_be_computed_and_missing_equals_hidden(srv):
    (doc,) = ids(srv.upload("alice", "docs", [("kettle.txt", KETTLE)]))
    assert doc != hashlib.sha256(b"upload:alice/kettle.txt").hexdigest()[:16]  # the old, guessable id
    (other_kb,) = ids(srv.upload("alice", "other", [("kettle.txt", KETTLE)]))
    assert other_kb != doc  # keyed per knowledge base

    def answer(who, method, path, **kw):
        r = srv.as_(who, method, path, **kw)
        return r.status_code, r.json()

    missing = uuid.uuid4().hex[:16]
    s1, hidden = answer("bob", "DELETE", f"/v1/kb/docs/documents/{doc}")
    s2, absent = answer("bob", "DELETE", f"/v1/kb/docs/documents/{missing}")
    assert s1 == s2 == 404 and hidden == {"error": {**absent["error"], "message": absent["error"]["message"]
                                                      .replace(missing, doc)}}  # fmt: skip
    # a prefix of an id, or a path, is not looked up over HTTP (the CLI's conveniences would be oracles)
    assert srv.as_("bob", "DELETE", f"/v1/kb/docs/documents/{doc[:6]}").status_code == 404
    assert srv.as_("alice", "DELETE", f"/v1/kb/docs/documents/{doc[:6]}").status_code == 404
    # a knowledge base bob cannot read in answers exactly like one that does not exist, on every route
    for method, path, kw in (("GET", "/v1/kb/{}/documents", {}),
                             ("POST", "/v1/kb/{}/search", {"json": {"query": "kettle"}}),
                             ("POST", "/v1/kb/{}/ask", {"json": {"question": "what boils?"}}),
                             ("DELETE", "/v1/kb/{}/documents/" + doc, {})):  # fmt: skip
        s1, a = answer("bob", method, path.format("other"), **kw)
        s2, b = answer("bob", method, path.format("nosuchkb"), **kw)
        assert s1 == s2 == 404 and a["error"]["message"] == b["error"]["message"].replace("nosuchkb", "other")
    chat = {"messages": [{"role": "user", "content": "what boils?"}]}
    s1, a = answer("bob", "POST", "/v1/chat/completions", json={"model": "rag:other", **chat})
    s2, b = answer("bob", "POST", "/v1/chat/completions", json={"model": "rag:nosuchkb", **chat})
    assert s1 == s2 == 404 and a["error"]["message"] == b["error"]["message"].replace("nosuchkb", "other")
    assert "heliotrope" not in str(a)


def test_kb_names_are_shown_only_to_keys_that_can_read_in_them(srv):
    srv.upload("alice", "acme-plans", [("p.txt", KETTLE)])
    r = srv.upload("bob", "beta-empty", [("bad.txt", b"\x00\x01binary")])  # fails: nothing is created
    assert r.status_code == 422 and r.json()["report"]["failed"] == 1

    def kbs(who):
        names = [k["name"] for k in srv.as_(who, "GET", "/v1/kb").json()["data"]]
        models = [
            m["id"] for m in srv.as_(who, "GET", "/v1/models").json()["data"] if m["id"].startswith("rag:")
        ]
        assert models == [f"rag:{n}" for n in names]
        return names

    assert kbs("alice") == kbs("dave") == ["acme-plans", "docs"]
    assert kbs("bob") == ["docs"]  # the public one: his failed upload left no empty KB behind
    assert kbs("carol") == ["docs"]
    assert kbs("root") == ["acme-plans", "docs"]


def test_only_the_health_status_and_the_ui_shell_answer_without_a_key(tmp_path):
    with live(tmp_path, metrics_key="sk-metrics-only") as srv:
        assert srv.as_(None, "GET", "/healthz").json() == {"status": "ok"}
        assert "version" in srv.as_("bob", "GET", "/healthz").json()
        assert srv.as_(None, "GET", "/").status_code == 200
        assert srv.as_(None, "GET", "/v1/config").json() == {
            "auth": True
        }  # what the UI needs to ask for a key
        assert "models" in srv.as_("bob", "GET", "/v1/config").json()
        for path in ("/metrics", "/docs", "/openapi.json", "/v1/models", "/v1/kb"):
            assert srv.as_(None, "GET", path).status_code == 401, path
            assert srv.as_(None, "GET", path, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert srv.as_("bob", "GET", "/metrics").status_code == 200
        assert srv.as_("bob", "GET", "/docs").status_code == 200
        metrics = {"Authorization": "Bearer sk-metrics-only"}
        assert "genloom_requests_total" in srv.as_(None, "GET", "/metrics", headers=metrics).text
        assert srv.as_(None, "GET", "/v1/models", headers=metrics).status_code == 401  # metrics only
        spec = srv.as_("bob", "GET", "/openapi.json").json()
        schemes = spec["components"]["securitySchemes"]
        assert [s["scheme"] for s in schemes.values()] == ["bearer"]
        (name,) = schemes
        assert {name: []} == {"HTTPBearer": []} and spec["paths"]["/v1/chat/completions"]["post"]["security"] == [
            {name: []}]  # fmt: skip


def test_admin_flag_in_the_keys_file(tmp_path):
    home = tmp_path / "h"
    home.mkdir()
    (home / "keys.toml").write_text('[keys.ops]\nkey = "sk-ops"\nadmin = true\n[keys.eve]\nkey = "sk-eve"\n')
    keys = KeyStore.from_settings(Settings(home=home))
    ops, eve = keys.lookup("sk-ops"), keys.lookup("sk-eve")
    assert ops is not None and ops.admin and ops.scope is None and ops.may_write([])
    assert ops.acl == ["key:ops"]  # it manages everything, it retrieves by its principals
    assert eve is not None and not eve.admin and eve.acl == eve.scope == ["key:eve"] and not eve.may_write([])
    assert set(KEYS) >= {"alice", "root"}


def test_genloom_serve_refuses_to_start_with_a_duplicate_key_name(tmp_path, monkeypatch, capsys):
    from genloom.cli.main import main

    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    (home / "keys.toml").write_text('[keys.alice]\nkey = "sk-other"\n')
    (home / "keys.toml").chmod(0o600)
    monkeypatch.setenv("GENLOOM_API_KEYS", "alice=sk-alice")
    assert main(["serve", "--port", "1"]) != 0  # fails before binding anything
    err = capsys.readouterr().err
    assert "'alice' is defined twice" in err and "GENLOOM_API_KEYS" in err and "keys.toml" in err


def test_a_keys_file_others_can_read_is_warned_about(tmp_path, caplog):
    home = tmp_path / "h"
    home.mkdir()
    path = home / "keys.toml"
    path.write_text('[keys.alice]\nkey = "sk-a"\n')
    path.chmod(0o644)
    KeyStore.from_settings(Settings(home=home))
    assert "readable by other users" in caplog.text
    caplog.clear()
    path.chmod(0o600)
    KeyStore.from_settings(Settings(home=home))
    assert "readable by other users" not in caplog.text
