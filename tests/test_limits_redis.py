"""Rate limits shared through a real Redis (127.0.0.1:6379; .ci/run starts it): the Lua buckets directly,
then two real ``genloom serve`` processes enforcing one per-key limit together."""

from __future__ import annotations

import httpx
import pytest

from genloom.errors import BackendError, UserError
from genloom.serve.limits import InProcessRateLimiter
from genloom.serve.limits_redis import RedisRateLimiter, limiter_from_settings
from genloom.settings import Settings
from openai_helpers import genloom_serve
from serve_fakes import free_port

REDIS = "redis://127.0.0.1:6379/0"
redis = pytest.importorskip("redis")


def test_request_bucket_is_shared_between_limiters(prefix):
    a, b = RedisRateLimiter(REDIS, prefix), RedisRateLimiter(REDIS, prefix)  # two "processes"
    got = [lim.admit("k1", 4, 0) for lim in (a, b, a, b, a)]
    assert got[:4] == [None] * 4
    assert got[4] is not None and 0 < got[4] <= 15.0  # one request refills in 60/4 s
    assert a.admit("k2", 4, 0) is None  # another key has its own bucket
    assert RedisRateLimiter(REDIS, prefix + "other:").admit("k1", 4, 0) is None  # prefixes separate


def test_token_bucket_charge_then_refuse(prefix):
    lim = RedisRateLimiter(REDIS, prefix)
    assert lim.admit("k", 0, 600) is None
    lim.charge("k", 700, 600)  # overdraw once
    wait = lim.admit("k", 0, 600)
    assert wait is not None and wait > 9  # ~101 tokens short at 10 tokens/s


def test_settings_choose_the_limiter(prefix):
    assert isinstance(limiter_from_settings(Settings()), InProcessRateLimiter)
    lim = limiter_from_settings(Settings(redis_url=REDIS, redis_prefix=prefix))
    assert isinstance(lim, RedisRateLimiter) and lim.prefix == prefix
    with pytest.raises(UserError):
        Settings(redis_url="http://127.0.0.1:6379")


def test_unreachable_redis_fails_closed():
    lim = RedisRateLimiter(f"redis://127.0.0.1:{free_port()}/0", "x:")
    with pytest.raises(BackendError) as e:
        lim.admit("k", 5, 0)
    assert e.value.retryable and "GENLOOM_REDIS_URL" in (e.value.hint or "")


def test_two_server_processes_enforce_one_limit(tmp_path, prefix):
    n = 5
    env = {"GENLOOM_REDIS_URL": REDIS, "GENLOOM_REDIS_PREFIX": prefix, "GENLOOM_RATE_LIMIT_RPM": str(n),
           "GENLOOM_API_KEYS": "alice=sk-a bob=sk-b"}  # fmt: skip
    procs = [genloom_serve(tmp_path / f"home{i}", "-m", "fake:", env=env) for i in range(2)]
    try:
        urls = [url for _, url in procs]

        def ask(i: int, key: str) -> int:
            body = {"model": "fake:", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}
            h = {"Authorization": f"Bearer {key}"}
            return httpx.post(
                f"{urls[i % 2]}/v1/chat/completions", json=body, headers=h, timeout=30
            ).status_code

        codes = [ask(i, "sk-a") for i in range(2 * n)]  # alternate between the two servers
        assert codes.count(200) == n and codes[:n] == [200] * n and set(codes[n:]) == {429}
        # each process alone would have admitted n: together they admitted n in total
        assert ask(0, "sk-b") == 200 and ask(1, "sk-b") == 200  # the limit is per key
    finally:
        for proc, _ in procs:
            proc.terminate()
            proc.communicate(timeout=10)
