"""Byte caches for answers that are worth reusing: in this process's memory, or shared through Redis.

The server caches reproducible completions and embeddings (see genloom.serve) through a small ``Cache``
Protocol, so the store can change without touching the routes:

    cache = cache_from_settings(settings)            # Redis if GENLOOM_REDIS_URL is set, else memory
    key = cache_key("chat", {"model": m, "messages": msgs, "params": p})
    body = cache.get(key)                            # bytes, or None on a miss (or an unreachable Redis)
    cache.set(key, body, ttl=settings.cache_ttl)

A cache is an optimisation, never a dependency: ``RedisCache`` *fails open* (an error is a miss, a failed
write is dropped), unlike the rate limits, which fail closed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from genloom.errors import MissingDependency

log = logging.getLogger(__name__)

KEY_VERSION = 1  # part of every key's hash: bump it when what a cached value means changes


@runtime_checkable
class Cache(Protocol):
    """Bytes by string key, each with a time to live. Implementations are safe to share between threads."""

    def get(self, key: str) -> bytes | None:
        """The value, or None if it is absent, expired or cannot be read."""
        ...

    def set(self, key: str, value: bytes, ttl: int) -> None:
        """Store ``value`` for ``ttl`` seconds (best effort: a cache may drop it)."""
        ...


def cache_key(namespace: str, parts: Mapping[str, Any]) -> str:
    """``"<namespace>:<sha256 hex>"`` over a canonical JSON of ``parts`` (sorted keys, no spaces), so equal
    requests give equal keys whatever order their fields came in, and namespaces never collide."""
    canonical = json.dumps(
        {"v": KEY_VERSION, **parts}, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return f"{namespace}:{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"


def get_many(cache: Cache, keys: Sequence[str]) -> list[bytes | None]:
    """``[cache.get(k) for k in keys]``, in one round trip where the cache can (``RedisCache``: MGET)."""
    many = getattr(cache, "get_many", None)
    return list(many(keys)) if callable(many) else [cache.get(k) for k in keys]


def set_many(cache: Cache, items: Mapping[str, bytes], ttl: int) -> None:
    """``cache.set(k, v, ttl)`` for each item, in one round trip where the cache can (a Redis pipeline)."""
    many = getattr(cache, "set_many", None)
    if callable(many):
        many(items, ttl)
    else:
        for k, v in items.items():
            cache.set(k, v, ttl)


class MemoryCache:
    """A thread-safe LRU in this process, bounded by bytes (keys + values), with a TTL per entry.

    Expired entries are dropped when read, or evicted like any other once they become least recently used.
    A value larger than the whole bound is not stored.
    """

    def __init__(self, max_bytes: int, clock: Callable[[], float] = time.monotonic) -> None:
        if max_bytes < 1:
            raise ValueError("max_bytes must be >= 1")
        self.max_bytes = max_bytes
        self._clock = clock
        self._lock = threading.Lock()
        self._items: OrderedDict[str, tuple[bytes, float]] = OrderedDict()  # key -> (value, expires at)
        self.size = 0  # bytes held
        self.hits = self.misses = self.evictions = 0

    @staticmethod
    def _cost(key: str, value: bytes) -> int:
        return len(key.encode("utf-8")) + len(value)

    def get(self, key: str) -> bytes | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.misses += 1
                return None
            value, expires = item
            if self._clock() >= expires:
                self._drop(key)
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return value

    def set(self, key: str, value: bytes, ttl: int) -> None:
        cost = self._cost(key, value)
        if ttl <= 0 or cost > self.max_bytes:
            return
        with self._lock:
            if key in self._items:
                self._drop(key)
            self._items[key] = (value, self._clock() + ttl)
            self.size += cost
            while self.size > self.max_bytes:
                oldest = next(iter(self._items))
                self._drop(oldest)
                self.evictions += 1

    def _drop(self, key: str) -> None:
        value, _ = self._items.pop(key)
        self.size -= self._cost(key, value)

    def __len__(self) -> int:
        return len(self._items)


class RedisCache:
    """Values in Redis under ``<prefix>cache:<key>``, written with ``SET ... EX ttl``, so every server
    process pointing at one Redis shares them and Redis expires them.

    Fails open: a Redis error makes ``get`` a miss and ``set`` a no-op. Errors are counted in ``errors``;
    the first is logged as a warning, the rest at debug level, so an outage does not flood the log.
    """

    def __init__(self, url: str, prefix: str = "genloom:", client: Any = None, timeout: float = 1.0) -> None:
        if client is None:
            try:
                import redis
            except ImportError:
                raise MissingDependency("redis", "redis") from None
            # short timeouts: a slow cache must cost a request little more than no cache
            client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self.url, self.prefix, self._r = url, prefix, client
        self.hits = self.misses = self.errors = 0

    def _key(self, key: str) -> str:
        return f"{self.prefix}cache:{key}"

    def _failed(self, op: str, e: Exception) -> None:
        self.errors += 1
        level = logging.WARNING if self.errors == 1 else logging.DEBUG
        log.log(level, "cache %s on Redis at %s failed (served without the cache): %s", op, self.url, e)

    def get(self, key: str) -> bytes | None:
        return self.get_many([key])[0]

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        if not keys:
            return []
        try:
            values = self._r.mget([self._key(k) for k in keys])
        except Exception as e:  # any client error (connection, timeout, protocol): all misses
            self._failed("get", e)
            return [None] * len(keys)
        out = [None if v is None else bytes(v) for v in values]
        self.hits += sum(v is not None for v in out)
        self.misses += sum(v is None for v in out)
        return out

    def set(self, key: str, value: bytes, ttl: int) -> None:
        self.set_many({key: value}, ttl)

    def set_many(self, items: Mapping[str, bytes], ttl: int) -> None:
        if ttl <= 0 or not items:
            return
        try:
            with self._r.pipeline(transaction=False) as pipe:
                for k, v in items.items():
                    pipe.set(self._key(k), v, ex=ttl)
                pipe.execute()
        except Exception as e:
            self._failed("set", e)


def cache_from_settings(settings: Any) -> Cache | None:
    """The cache the settings ask for: None when ``cache_ttl`` is 0, Redis when ``redis_url`` is set (shared
    by every server using it), else an in-memory LRU of ``cache_max_mb`` MiB."""
    if getattr(settings, "cache_ttl", 3600) == 0:
        return None
    if getattr(settings, "redis_url", ""):
        return RedisCache(settings.redis_url, getattr(settings, "redis_prefix", "genloom:"))
    return MemoryCache(getattr(settings, "cache_max_mb", 64) * 1024 * 1024)


__all__ = [
    "KEY_VERSION",
    "Cache",
    "MemoryCache",
    "RedisCache",
    "cache_from_settings",
    "cache_key",
    "get_many",
    "set_many",
]
