"""The server's parts on their own: key parsing, the rate limiter, the queue, the audit log, host choice."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3

import pytest

from genloom.cli.serve import choose_host
from genloom.errors import UserError
from genloom.serve.audit import MIGRATIONS, AuditLog, AuditRecord
from genloom.serve.auth import LOCAL, KeyStore, bearer
from genloom.serve.limits import InProcessRateLimiter
from genloom.serve.queue import GenerationQueue, QueueFull
from genloom.settings import Settings


def test_keys_from_env_and_file(tmp_path):
    digest = hashlib.sha256(b"sk-carol").hexdigest()
    (tmp_path / "keys.toml").write_text(
        f'[keys.bob]\nkey = "sk-bob"\nprincipals = ["tenant:b"]\nrpm = 5\n'
        f'[keys.carol]\nkey_sha256 = "{digest}"\n'
    )
    s = Settings(home=tmp_path, api_keys="alice=sk-alice@tenant:a,user:alice; dave=sk-dave")
    keys = KeyStore.from_settings(s)
    assert len(keys) == 4 and keys.enabled
    alice = keys.lookup("sk-alice")
    assert (
        alice is not None and alice.key_id == "alice" and alice.acl == ["tenant:a", "user:alice", "key:alice"]
    )
    bob = keys.lookup("sk-bob")
    assert bob is not None and bob.principals == ("tenant:b",) and bob.rpm == 5
    assert keys.lookup("sk-carol").key_id == "carol"  # type: ignore[union-attr]
    assert keys.lookup("sk-dave").acl == ["key:dave"]  # type: ignore[union-attr]  (its own uploads only)
    assert keys.lookup("sk-nobody") is None and keys.lookup(None) is None


def test_no_keys_means_the_local_owner(tmp_path):
    keys = KeyStore.from_settings(Settings(home=tmp_path))
    assert not keys.enabled and keys.lookup(None) is LOCAL and LOCAL.acl is None


@pytest.mark.parametrize(
    ("api_keys", "file_text", "words"),
    [
        ("alice", None, "NAME=KEY"),
        ("bad!name=sk", None, "not valid"),
        ("", "[keys.x]\nprincipals = []\n", "needs key"),
        ("", "[keys.x]\nkey = 'k'\nprincipals = 'tenant'\n", "list of strings"),
        ("", "not toml [", "not valid TOML"),
    ],
)
def test_bad_key_config_is_a_user_error(tmp_path, api_keys, file_text, words):
    if file_text is not None:
        (tmp_path / "keys.toml").write_text(file_text)
    with pytest.raises(UserError, match=words) as e:
        KeyStore.from_settings(Settings(home=tmp_path, api_keys=api_keys))
    assert e.value.hint


def test_bearer_header():
    assert bearer("Bearer sk-1") == "sk-1" and bearer("bearer  sk-1 ") == "sk-1"
    assert bearer("Basic abc") is None and bearer(None) is None and bearer("Bearer ") is None


def test_rate_limiter_refills_over_time():
    now = [0.0]
    rl = InProcessRateLimiter(clock=lambda: now[0])
    assert [rl.admit("k", 2, 0) for _ in range(2)] == [None, None]
    wait = rl.admit("k", 2, 0)
    assert wait == pytest.approx(30.0)  # one request refills every 60/2 s
    assert rl.admit("other", 2, 0) is None
    now[0] = 30.0
    assert rl.admit("k", 2, 0) is None
    rl.charge("k", 150, 100)  # overdraw the token bucket
    wait = rl.admit("k", 0, 100)
    assert wait == pytest.approx(51 * 60 / 100)
    now[0] += wait
    assert rl.admit("k", 0, 100) is None
    assert rl.admit("unlimited", 0, 0) is None


def test_queue_admits_fifo_up_to_capacity():
    async def scenario() -> list[str]:
        q = GenerationQueue(capacity=3, concurrency=1)
        order: list[str] = []
        a, b, c = q.admit(), q.admit(), q.admit()
        with pytest.raises(QueueFull) as full:
            q.admit()
        assert full.value.retry_after >= 1 and q.depth == 3

        async def run(name: str, t) -> None:  # type: ignore[no-untyped-def]
            await t.turn()
            order.append(name)
            await asyncio.sleep(0)
            t.release()

        await asyncio.gather(run("a", a), run("b", b), run("c", c))
        assert q.depth == 0
        a.release()  # idempotent
        assert q.depth == 0
        return order

    assert asyncio.run(scenario()) == ["a", "b", "c"]


def test_audit_migrations_run_once_and_rows_round_trip(tmp_path):
    log = AuditLog(tmp_path / "audit.db")
    log.write(AuditRecord("r1", "alice", "/v1/chat/completions", model="fake:", kb="docs", chunk_ids=["c1", "c2"],
                          prompt=[{"role": "user", "content": "hi"}], output="yo", prompt_tokens=3))  # fmt: skip
    log.close()
    log = AuditLog(tmp_path / "audit.db")  # reopening applies nothing twice and keeps the rows
    (row,) = log.rows()
    assert row["key_id"] == "alice" and row["chunk_ids"] == '["c1", "c2"]' and row["prompt_tokens"] == 3
    assert row["redaction"] == "pii:patterns" and row["prev_hash"] == "0" * 64  # issue 14: redacted, chained
    db = sqlite3.connect(tmp_path / "audit.db")
    assert db.execute("SELECT count(*) FROM migrations").fetchone() == (len(MIGRATIONS),)  # each once
    assert row["cache_hit"] == 0  # added by 002_cache_hit
    assert row["tool_calls"] == "[]"  # added by 003_tool_calls
    assert row["guard"] == "[]"  # added by 005_guard
    assert row["cost"] == 0  # added by 008_cost (issue 21)


def test_an_audit_db_from_before_the_cache_gains_the_column(tmp_path, monkeypatch):
    from genloom.serve import audit

    monkeypatch.setattr(audit, "MIGRATIONS", audit.MIGRATIONS[:1])  # a database written by the older server
    log = AuditLog(tmp_path / "audit.db")
    db = sqlite3.connect(tmp_path / "audit.db")
    db.execute(
        "INSERT INTO requests (ts, request_id, key_id, endpoint, status) VALUES (1, 'old', 'k', '/x', 200)"
    )
    db.commit()
    log.close()
    monkeypatch.undo()
    log = AuditLog(tmp_path / "audit.db")
    log.write(AuditRecord("new", "k", "/v1/chat/completions", cache_hit=True))
    assert [(r["request_id"], r["cache_hit"]) for r in log.rows()] == [("new", 1), ("old", 0)]


def test_without_keys_only_loopback_is_bound():
    assert choose_host("127.0.0.1", False) == ("127.0.0.1", None)
    assert choose_host("::1", False) == ("::1", None)
    host, warning = choose_host("0.0.0.0", False)
    assert host == "127.0.0.1" and warning and "no API keys" in warning
    assert choose_host("0.0.0.0", True) == ("0.0.0.0", None)


def test_serve_settings_are_validated():
    with pytest.raises(UserError, match="queue_size"):
        Settings(queue_size=0)
    with pytest.raises(UserError, match="rate_limit_rpm"):
        Settings(rate_limit_rpm=-1)
    assert Settings.load(env={"GENLOOM_RATE_LIMIT_RPM": "7"}).rate_limit_rpm == 7
