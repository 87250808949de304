"""genloom.cache: the in-memory LRU (bytes bound, TTL by an injected clock, threads), the Redis cache against
the real Redis at 127.0.0.1:6379 (.ci/run starts it), failing open, the key helper and the settings."""

from __future__ import annotations

import logging
import sys
import threading
import time

import pytest

from genloom.cache import (
    Cache,
    MemoryCache,
    RedisCache,
    cache_from_settings,
    cache_key,
    get_many,
    set_many,
)
from genloom.errors import UserError
from genloom.settings import Settings
from serve_fakes import free_port

REDIS = "redis://127.0.0.1:6379/0"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- MemoryCache ------------------------------------------------------------------------------------------
def test_memory_lru_evicts_the_least_recently_used_by_bytes():
    c = MemoryCache(max_bytes=3 * (2 + 10))  # three entries of a 2-byte key and a 10-byte value
    for k in ("k1", "k2", "k3"):
        c.set(k, b"x" * 10, ttl=60)
    assert c.size == 36 and len(c) == 3
    assert c.get("k1") == b"x" * 10  # k1 is now the most recently used: k2 is the oldest
    c.set("k4", b"y" * 10, ttl=60)
    assert c.get("k2") is None and c.get("k1") is not None and c.get("k3") is not None
    assert c.get("k4") == b"y" * 10 and c.evictions == 1 and c.size == 36
    c.set("k5", b"z" * 22, ttl=60)  # 24 bytes: two entries must go to make room
    assert len(c) == 2 and c.size <= 36 and c.get("k5") == b"z" * 22 and c.evictions == 3


def test_memory_replacing_a_key_keeps_the_byte_count_exact():
    c = MemoryCache(max_bytes=100)
    c.set("a", b"1234567890", ttl=60)
    c.set("a", b"12", ttl=60)
    assert c.size == 3 and c.get("a") == b"12"


def test_memory_value_larger_than_the_bound_is_not_stored():
    c = MemoryCache(max_bytes=10)
    c.set("small", b"ok", ttl=60)
    c.set("big", b"x" * 11, ttl=60)
    assert c.get("big") is None and c.get("small") == b"ok"


def test_memory_ttl_expiry_by_the_injected_clock():
    clock = Clock()
    c = MemoryCache(max_bytes=1000, clock=clock)
    c.set("short", b"s", ttl=5)
    c.set("long", b"l", ttl=60)
    clock.now += 4
    assert c.get("short") == b"s"
    clock.now += 1  # exactly at the TTL: gone
    assert c.get("short") is None and c.get("long") == b"l"
    assert len(c) == 1 and c.size == len("long") + 1  # the expired entry's bytes were given back
    c.set("zero", b"z", ttl=0)  # a TTL of 0 stores nothing
    assert c.get("zero") is None
    assert (c.hits, c.misses) == (2, 2)


@pytest.fixture
def busy_switching():
    """Switch threads as often as the interpreter can, so an unlocked read-modify-write shows up."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


def test_memory_is_thread_safe(busy_switching):
    c = MemoryCache(max_bytes=4000)
    errors: list[BaseException] = []

    def hammer(t: int) -> None:
        try:
            for i in range(2000):
                key = f"k{(t * 7 + i) % 300}"
                c.set(key, key.encode() * 3, ttl=60)
                got = c.get(key)
                assert got is None or got == key.encode() * 3
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=hammer, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    # the byte count still matches what is held, and stays within the bound
    assert c.size == sum(len(k) + len(v) for k, (v, _) in c._items.items()) <= 4000


def test_memory_satisfies_the_protocol_and_the_batch_helpers():
    c = MemoryCache(100)
    assert isinstance(c, Cache)
    set_many(c, {"a": b"1", "b": b"2"}, ttl=60)
    assert get_many(c, ["a", "missing", "b"]) == [b"1", None, b"2"]


# -- keys -------------------------------------------------------------------------------------------------
def test_cache_key_is_canonical_and_namespaced():
    a = cache_key("chat", {"model": "m", "params": {"temperature": 0, "seed": None}, "messages": ["hi"]})
    b = cache_key("chat", {"messages": ["hi"], "params": {"seed": None, "temperature": 0}, "model": "m"})
    assert a == b and a.startswith("chat:") and len(a) == len("chat:") + 64
    parts = {"model": "m", "params": {"temperature": 0, "seed": None}, "messages": ["hi"]}
    assert cache_key("emb", parts) != a
    assert cache_key("chat", {**parts, "params": {"temperature": 0, "seed": 1}}) != a


# -- settings ---------------------------------------------------------------------------------------------
def test_settings_choose_the_cache():
    mem = cache_from_settings(Settings(cache_max_mb=2))
    assert isinstance(mem, MemoryCache) and mem.max_bytes == 2 * 1024 * 1024
    red = cache_from_settings(Settings(redis_url=REDIS, redis_prefix="p:"))
    assert isinstance(red, RedisCache) and red.prefix == "p:"
    assert cache_from_settings(Settings(cache_ttl=0)) is None
    assert cache_from_settings(Settings(cache_ttl=0, redis_url=REDIS)) is None
    assert Settings().redis_prefix == "genloom:"
    for bad in ({"cache_ttl": -1}, {"cache_max_mb": 0}):
        with pytest.raises(UserError) as e:
            Settings(**bad)
        assert "GENLOOM_CACHE" in (e.value.hint or "")
    assert Settings.load(env={"GENLOOM_CACHE_TTL": "5", "GENLOOM_CACHE_MAX_MB": "8"}).cache_ttl == 5


# -- RedisCache against the real Redis --------------------------------------------------------------------
@pytest.fixture
def redis_client():
    redis = pytest.importorskip("redis")
    r = redis.Redis.from_url(REDIS)
    yield r
    r.close()


def test_redis_get_set_under_the_prefix_with_a_ttl(prefix, redis_client):
    c = RedisCache(REDIS, prefix)
    assert c.get("chat:abc") is None
    c.set("chat:abc", b"\x00body\xff", ttl=120)
    assert c.get("chat:abc") == b"\x00body\xff"
    assert redis_client.get(f"{prefix}cache:chat:abc") == b"\x00body\xff"  # where the brief says it lives
    assert 0 < redis_client.ttl(f"{prefix}cache:chat:abc") <= 120  # Redis expires it
    assert RedisCache(REDIS, prefix + "other:").get("chat:abc") is None  # prefixes separate deployments
    assert (c.hits, c.misses, c.errors) == (1, 1, 0)


def test_redis_is_shared_between_clients_and_expires(prefix, redis_client):
    a, b = RedisCache(REDIS, prefix), RedisCache(REDIS, prefix)  # two "processes"
    set_many(a, {"emb:1": b"one", "emb:2": b"two"}, ttl=60)
    assert get_many(b, ["emb:1", "emb:3", "emb:2"]) == [b"one", None, b"two"]
    assert all(0 < redis_client.ttl(f"{prefix}cache:emb:{i}") <= 60 for i in (1, 2))
    a.set("short", b"x", ttl=1)
    assert b.get("short") == b"x"
    redis_client.pexpire(f"{prefix}cache:short", 1)  # expire it in 1 ms rather than sleep a second
    time.sleep(0.05)
    assert b.get("short") is None


def test_redis_unreachable_fails_open_and_logs_once(caplog):
    c = RedisCache(f"redis://127.0.0.1:{free_port()}/0", "x:")
    with caplog.at_level(logging.DEBUG, logger="genloom.cache"):
        assert c.get("k") is None
        c.set("k", b"v", ttl=60)  # dropped, no exception
        assert get_many(c, ["a", "b"]) == [None, None]
        set_many(c, {"a": b"1"}, ttl=60)
    assert c.errors == 4 and c.hits == 0
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "127.0.0.1" in warnings[0].getMessage()
