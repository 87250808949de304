"""Issue 14: the audit log redacts before it writes, is hash-chained, and `genloom audit verify` names the row
an edit, a delete or a reordering broke; retention prunes behind a checkpoint; refusals are audited."""

from __future__ import annotations

import itertools
import json
import sqlite3
import stat
import threading
import time

import pytest
from fastapi.testclient import TestClient

from genloom import migrate
from genloom.cli.main import main
from genloom.serve import create_app
from genloom.serve.audit import MIGRATIONS, AuditLog, AuditRecord
from genloom.settings import Settings, set_settings
from serve_fakes import FakeAnswerStream, FakeEmbedder, FakeKBs

PII = "I am Mr. John Smith, mail john@example.com, card 4111 1111 1111 1111, SSN 123-45-6789."
REDACTED = "I am Mr. [PERSON], mail [EMAIL], card [CREDIT_CARD], SSN [US_SSN]."


@pytest.fixture
def settings(tmp_path):
    s = Settings(home=tmp_path / "home")
    set_settings(s)
    return s


def log_with(settings, n=5, **overrides):
    s = Settings(home=settings.home, **overrides) if overrides else settings
    audit = AuditLog(settings.ensure_home() / "audit.db", s)
    for i in range(n):
        audit.write(AuditRecord(f"req-{i}", "alice", "/v1/chat/completions", prompt=[{"role": "user", "content": PII}],
                                output=f"answer {i}: reach {i}@example.org", tool_calls=[{"arguments": PII}]))  # fmt: skip
    return audit


def raw_db(settings):
    return sqlite3.connect(settings.home / "audit.db", isolation_level=None)


def problems(audit):
    return [(p.id, p.kind) for p in audit.verify().problems]


def test_prompts_outputs_and_tool_calls_are_redacted_before_they_are_written(settings):
    audit = log_with(settings, 2)
    audit.close()
    db = raw_db(settings)
    text = "\n".join(str(v) for r in db.execute("SELECT * FROM requests") for v in r)
    assert "john@example.com" not in text and "4111" not in text and "123-45-6789" not in text
    assert "John Smith" not in text and "0@example.org" not in text
    prompt, output, tools, redaction = db.execute(
        "SELECT prompt, output, tool_calls, redaction FROM requests"
    ).fetchone()
    assert json.loads(prompt) == [{"role": "user", "content": REDACTED}]
    assert output == "answer 0: reach [EMAIL]" and json.loads(tools) == [{"arguments": REDACTED}]
    assert redaction == "pii:patterns"


def test_raw_only_when_a_setting_says_so_and_export_still_redacts(settings, capsys):
    audit = log_with(settings, 1, audit_raw=1)
    audit.close()
    prompt, redaction = raw_db(settings).execute("SELECT prompt, redaction FROM requests").fetchone()
    assert "john@example.com" in prompt and redaction == "none"
    assert main(["audit", "export"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    row = json.loads(line)
    assert (
        "john@example.com" not in line
        and REDACTED in row["prompt"]
        and row["redaction"].endswith("(on export)")
    )
    assert row["tool_calls"] == [{"arguments": REDACTED}] and row["row_hash"] and row["prev_hash"]


def test_an_intact_chain_verifies_and_each_row_links_to_the_one_before(settings, capsys):
    log_with(settings, 4).close()
    rows = raw_db(settings).execute("SELECT id, prev_hash, row_hash FROM requests ORDER BY id").fetchall()
    assert rows[0][1] == "0" * 64 and all(b[1] == a[2] for a, b in itertools.pairwise(rows))
    assert main(["audit", "verify"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"ok: 4 row(s), 0 checkpoint(s), head row 4 {rows[-1][2]}")
    assert main(["audit", "verify", "--head", rows[1][2]]) == 0  # an earlier head is still in the chain


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        ("UPDATE requests SET output = 'nothing to see' WHERE id = 3", [(3, "edited")]),
        ("UPDATE requests SET status = 200, latency_ms = latency_ms + 1 WHERE id = 2", [(2, "edited")]),
        ("DELETE FROM requests WHERE id = 3", [(4, "deleted")]),
        ("DELETE FROM requests WHERE id = 1", [(2, "deleted")]),
        ("DELETE FROM requests WHERE id = 5", [(5, "truncated")]),
        # two rows swap places (each moved to the other's id): both hashes fail and the links say so
        (
            "UPDATE requests SET id = 100 WHERE id = 2; UPDATE requests SET id = 2 WHERE id = 3;"
            "UPDATE requests SET id = 3 WHERE id = 100",
            None,
        ),
    ],
)
def test_verify_names_the_row_an_edit_delete_or_reorder_broke(settings, capsys, tamper, expected):
    audit = log_with(settings, 5)
    db = raw_db(settings)
    for stmt in tamper.split(";"):
        db.execute(stmt)
    found = problems(audit)
    audit.close()
    if expected is None:  # the swap: ids 2 and 3 exchanged
        assert (2, "edited") in found and (3, "edited") in found and any(k == "reordered" for _, k in found)
    else:
        assert found == expected
    assert main(["audit", "verify"]) == 1
    out = capsys.readouterr().out
    assert f"row {found[0][0]}: {found[0][1]}:" in out and "BROKEN" in out


def test_a_forged_row_appended_by_hand_is_found(settings):
    audit = log_with(settings, 3)
    db = raw_db(settings)
    last = db.execute("SELECT row_hash FROM requests WHERE id = 3").fetchone()[0]
    db.execute("INSERT INTO requests (ts, request_id, key_id, endpoint, status, prev_hash, row_hash, hash_v)"
               " VALUES (1, 'forged', 'mallory', '/v1/x', 200, ?, ?, 1)", (last, "f" * 64))  # fmt: skip
    assert problems(audit) == [(4, "edited"), (4, "forged")]


def test_retention_prunes_behind_a_checkpoint_that_verifies(settings):
    audit = log_with(settings, 6)
    db = raw_db(settings)
    old = time.time() - 10 * 86400
    db.execute("UPDATE requests SET ts = ? WHERE id <= 4", (old,))  # the first 4 rows are 10 days old
    # re-hash the aged rows as if they had been written then (test set-up, not tampering)
    from genloom.serve import audit_chain

    audit.close()
    rows = list(audit_chain.rows(db))
    prev = audit_chain.GENESIS
    for r in rows:
        r["prev_hash"] = prev
        r["row_hash"] = audit_chain.row_hash(r)
        db.execute(
            "UPDATE requests SET prev_hash = ?, row_hash = ? WHERE id = ?", (prev, r["row_hash"], r["id"])
        )
        prev = r["row_hash"]
    db.execute("UPDATE chain_head SET last_hash = ?", (prev,))
    kept = AuditLog(settings.home / "audit.db", Settings(home=settings.home, audit_retention_days=7))
    assert kept.pruned_at_open == 4
    v = kept.verify()
    assert v.ok, v.problems
    assert v.rows == 3 and v.checkpoints == 1  # rows 5, 6 and the checkpoint
    ids = [r[0] for r in db.execute("SELECT id FROM requests ORDER BY id")]
    assert ids == [5, 6, 7]
    kept.write(AuditRecord("req-after", "alice", "/v1/models"))
    assert kept.verify().ok and kept.prune() == 0
    db.execute("DELETE FROM requests WHERE id = 5")  # a deletion behind the checkpoint is still found
    assert [(p.id, p.kind) for p in kept.verify().problems] == [(6, "deleted")]
    kept.close()


def test_concurrent_writers_threads_and_a_second_connection_keep_one_chain(settings):
    one = AuditLog(settings.ensure_home() / "audit.db", settings)
    two = AuditLog(settings.home / "audit.db", settings)  # another connection, as another process has

    def work(log, k):
        for i in range(20):
            log.write(AuditRecord(f"t{k}-{i}", "alice", "/v1/embeddings", output=f"{k}/{i}"))

    threads = [threading.Thread(target=work, args=(one if k % 2 else two, k)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    v = one.verify()
    assert v.ok, v.problems[:3]
    assert v.rows == 120 and v.head_id == 120
    one.close()
    two.close()


_WRITER = """
import sys
from pathlib import Path
from genloom.serve.audit import AuditLog, AuditRecord
from genloom.settings import Settings
s = Settings(home=Path(sys.argv[1]))
log = AuditLog(s.home / "audit.db", s)
for i in range(40):
    log.write(AuditRecord(f"p{sys.argv[2]}-{i}", "k", "/v1/embeddings", output=f"mail{i}@example.com"))
log.close()
"""


def test_writers_in_separate_processes_keep_one_chain(settings):
    import os
    import subprocess
    import sys

    AuditLog(settings.ensure_home() / "audit.db", settings).close()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(settings.home), str(k)], env=env)
        for k in range(3)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    audit = AuditLog(settings.home / "audit.db", settings)
    v = audit.verify()
    assert v.ok, v.problems[:3]
    assert v.rows == 120 and "example.com" not in "".join(r["output"] for r in audit.rows(200))
    audit.close()


def test_rows_from_before_the_chain_are_redacted_and_sealed_on_upgrade(settings):
    path = settings.ensure_home() / "audit.db"
    db = migrate.open_db(path, [m for m in MIGRATIONS if m[0] < "005"])  # the schema the previous code made
    db.execute("INSERT INTO requests (ts, request_id, key_id, endpoint, prompt, output, status) VALUES"
               " (1, 'old-1', 'bob', '/v1/chat/completions', ?, 'call +44 20 7946 0958', 200)",
               (json.dumps([{"role": "user", "content": PII}]),))  # fmt: skip
    db.close()
    audit = AuditLog(path, settings)
    audit.write(AuditRecord("new-1", "bob", "/v1/models"))
    assert audit.verify().ok
    old = audit.request("old-1")
    assert old is not None and json.loads(old["prompt"])[0]["content"] == REDACTED
    assert old["output"] == "call [PHONE]" and old["redaction"] == "pii:patterns"
    audit.close()


def test_the_audit_file_is_private_even_if_it_was_not(settings):
    path = settings.ensure_home() / "audit.db"
    log_with(settings, 1).close()
    path.chmod(0o644)
    audit = AuditLog(path, settings)
    audit.write(AuditRecord("x", "a", "/v1/models"))
    for p in settings.home.glob("audit.db*"):
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    audit.close()


def test_bad_audit_settings_are_named(settings):
    from genloom.errors import UserError

    for bad, msg in ((dict(audit_raw=2), "audit_raw"), (dict(audit_retention_days=-1), "audit_retention_days"),
                     (dict(audit_pii_engine="x"), "audit_pii_engine")):  # fmt: skip
        with pytest.raises(UserError, match=msg):
            AuditLog(settings.ensure_home() / "audit.db", Settings(home=settings.home, **bad))


def test_the_cli_says_when_there_is_no_log(settings, capsys):
    assert main(["audit", "verify"]) != 0
    assert "no audit log" in capsys.readouterr().err


def test_auth_failures_and_denied_deletes_are_audited_once(tmp_path):
    kbs = FakeKBs()
    s = Settings(home=tmp_path / "home", model="fake:", api_keys="alice=sk-a-1@t:a bob=sk-b-2@t:a")
    set_settings(s)
    app = create_app(s, kb_factory=kbs, kb_lister=kbs.names, embedder=FakeEmbedder(),
                     answer_factory=lambda q, **o: FakeAnswerStream(kbs, q, **o))  # fmt: skip
    with TestClient(app, base_url="http://localhost") as c:
        assert c.get("/v1/models").status_code == 401
        assert c.get("/v1/models", headers={"Authorization": "Bearer sk-wrong"}).status_code == 401
        up = c.post("/v1/kb/notes/documents", headers={"Authorization": "Bearer sk-a-1"},
                    files=[("files", ("a.txt", b"alice's note", "text/plain"))]).json()  # fmt: skip
        doc = up["report"]["files"][0]["doc_id"]
        bob, alice = {"Authorization": "Bearer sk-b-2"}, {"Authorization": "Bearer sk-a-1"}
        assert c.delete(f"/v1/kb/notes/documents/{doc}", headers=bob).status_code == 403
        assert c.delete(f"/v1/kb/notes/documents/{doc}", headers=alice).status_code == 200
        conv = c.post("/v1/conversations", json={"title": "t"}, headers=bob).json()
        assert c.delete(f"/v1/conversations/{conv['id']}", headers=bob).json()["deleted"]
    rows = sqlite3.connect(s.home / "audit.db").execute(
        "SELECT key_id, endpoint, status, error_type, prompt FROM requests ORDER BY id").fetchall()  # fmt: skip
    assert rows[0] == ("anonymous", "/v1/models", 401, "invalid_api_key", "GET /v1/models (no key)")
    assert rows[1] == ("anonymous", "/v1/models", 401, "invalid_api_key", "GET /v1/models (a key)")
    assert "sk-wrong" not in str(rows)
    deletes = [r[:4] for r in rows if r[1] == "/v1/kb/documents/delete"]
    assert deletes == [("bob", "/v1/kb/documents/delete", 403, "access_denied"),
                       ("alice", "/v1/kb/documents/delete", 200, None)]  # fmt: skip
    assert rows[-1][:3] == ("bob", "/v1/conversations/delete", 200)
    assert (
        len(rows) == 6
    )  # 2 refusals, the upload, 2 deletes (the denied one not twice), the conversation delete
    assert AuditLog(s.home / "audit.db", s).verify().ok
