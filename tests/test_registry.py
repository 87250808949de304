"""The model registry and the one SQLite migration mechanism, on real SQLite files."""

from __future__ import annotations

import sqlite3
import stat

import pytest

from genloom import migrate
from genloom.errors import BackendError, NotFound, UserError
from genloom.registry import Registry, parse_ref


def test_versions_promote_rollback(tmp_path):
    reg = Registry(tmp_path / "registry.db")
    w = tmp_path / "a.gguf"
    w.write_bytes(b"x")
    v1 = reg.register("grounded", "adapter", w, base="llamacpp:", data_hash="d1", config={"r": 8})
    v2 = reg.register("grounded", "adapter", w, base="llamacpp:", data_hash="d2")
    assert (v1.version, v2.version) == (1, 2)
    assert reg.get("grounded").version == 2  # nothing promoted: the newest
    reg.promote("grounded", 1)
    assert reg.get("grounded").version == 1 and reg.get("grounded").current
    reg.promote("grounded", 2)
    assert reg.rollback("grounded").version == 1
    assert reg.get("grounded").version == 1
    with pytest.raises(UserError, match="no earlier promoted version"):
        reg.rollback("grounded")
    reg.set_metrics("grounded", 2, {"faithfulness": 0.7})
    assert reg.resolve("grounded@v2").metrics == {"faithfulness": 0.7}
    assert reg.resolve("grounded@v2").config == {}
    assert [v.ref for v in reg.list("adapter")] == ["grounded@v1", "grounded@v2"]
    with pytest.raises(NotFound):
        reg.resolve("grounded@v9")
    with pytest.raises(NotFound):
        reg.register("other", "llm", tmp_path / "missing.gguf")
    reg.close()
    # reopened: nothing lost, no migration applied twice
    reg = Registry(tmp_path / "registry.db")
    assert reg.get("grounded").version == 1
    assert stat.S_IMODE((tmp_path / "registry.db").stat().st_mode) == 0o600


def test_parse_ref():
    assert parse_ref("grounded") == ("grounded", None)
    assert parse_ref("grounded@v3") == ("grounded", 3)
    for bad in ("", "@v1", "a b", "x@3"):
        with pytest.raises(UserError):
            parse_ref(bad)


def test_migrations_forward_only(tmp_path):
    db = migrate.connect(tmp_path / "x.db")
    assert migrate.apply(db, [("001_a", "CREATE TABLE a (x INTEGER)")]) == ["001_a"]
    assert migrate.apply(db, [("001_a", "CREATE TABLE a (x INTEGER)")]) == []
    db.execute("INSERT INTO a VALUES (1)")
    later = [("001_a", "CREATE TABLE a (x INTEGER)"), ("002_b", "ALTER TABLE a ADD COLUMN y TEXT")]
    assert migrate.apply(db, later) == ["002_b"]
    assert db.execute("SELECT x, y FROM a").fetchall() == [(1, None)]
    # a failing migration leaves nothing behind
    with pytest.raises(sqlite3.OperationalError):
        migrate.apply(db, [*later, ("003_bad", "CREATE TABLE c (z); NOT SQL")])
    assert "003_bad" not in migrate.applied(db)
    assert db.execute("SELECT name FROM sqlite_master WHERE name = 'c'").fetchone() is None
    # an older genloom opening a newer database refuses instead of guessing
    with pytest.raises(BackendError, match="newer genloom"):
        migrate.apply(db, [("001_a", "")])
