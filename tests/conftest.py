"""Test isolation: a temp GENLOOM_HOME per test, fresh settings, and no network beyond loopback."""

from __future__ import annotations

import ipaddress
import os
import socket

import pytest

# the real Postgres servers, defined here once so that every module shares them (see pg_fixture.py)
from pg_fixture import _pg16, _pg18, pg_url  # noqa: F401

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: object) -> object:
    if self.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
        host = str(address[0])
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise RuntimeError(f"tests must not use the network (tried {host}); use loopback services")
    return _real_connect(self, address)  # type: ignore[arg-type]


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    from genloom import settings

    for key in list(os.environ):
        if key.startswith("GENLOOM_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("GENLOOM_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    settings.set_settings(None)
    yield
    settings.set_settings(None)


@pytest.fixture
def prefix():
    """A fresh Redis key prefix per test (Redis at 127.0.0.1:6379, which .ci/run starts); its keys are
    deleted afterwards."""
    import uuid

    redis = pytest.importorskip("redis")
    p = f"genloom-test:{uuid.uuid4().hex[:12]}:"
    yield p
    r = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    for k in r.scan_iter(f"{p}*"):
        r.delete(k)
    r.close()
