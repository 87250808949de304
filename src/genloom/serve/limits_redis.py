"""Rate limits shared by every server process that points at one Redis (``GENLOOM_REDIS_URL``).

The same token buckets as :class:`genloom.serve.limits.InProcessRateLimiter`, kept in Redis hashes
(``<prefix>limits:req:<key_id>`` and ``<prefix>limits:tok:<key_id>``, fields ``level`` and ``stamp``; the
prefix is the deployment's, shared with the caches in genloom.cache). Each admit/charge is
one Lua script, so refill-check-take is atomic across processes, and the clock is Redis's own (``TIME``), so
servers with skewed clocks still agree. A bucket untouched for two minutes expires: it would be full anyway.

If Redis cannot be reached the request fails with a retryable BackendError (HTTP 503): limits fail closed.
"""

from __future__ import annotations

from typing import Any

from genloom.errors import BackendError, MissingDependency

# KEYS[1] token bucket, KEYS[2] request bucket; ARGV[1] rpm, ARGV[2] tpm.
# Returns "" when admitted, else the seconds to wait (as a string: Lua numbers become integers in replies).
ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local rpm, tpm = tonumber(ARGV[1]), tonumber(ARGV[2])
local function level(key, cap)
  local v = redis.call('HMGET', key, 'level', 'stamp')
  local lvl, stamp = tonumber(v[1]), tonumber(v[2])
  if lvl == nil then return cap end
  return math.min(cap, lvl + math.max(0, now - stamp) * cap / 60.0)
end
if tpm > 0 then
  local tok = level(KEYS[1], tpm)
  redis.call('HSET', KEYS[1], 'level', tostring(tok), 'stamp', tostring(now))
  redis.call('EXPIRE', KEYS[1], 120)
  if tok < 1 then return tostring((1 - tok) * 60.0 / tpm) end
end
if rpm > 0 then
  local req = level(KEYS[2], rpm)
  if req < 1 then
    redis.call('HSET', KEYS[2], 'level', tostring(req), 'stamp', tostring(now))
    redis.call('EXPIRE', KEYS[2], 120)
    return tostring((1 - req) * 60.0 / rpm)
  end
  redis.call('HSET', KEYS[2], 'level', tostring(req - 1), 'stamp', tostring(now))
  redis.call('EXPIRE', KEYS[2], 120)
end
return ''
"""

# KEYS[1] token bucket; ARGV[1] tpm, ARGV[2] tokens to take (the level may go negative).
CHARGE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local cap, n = tonumber(ARGV[1]), tonumber(ARGV[2])
local v = redis.call('HMGET', KEYS[1], 'level', 'stamp')
local lvl, stamp = tonumber(v[1]), tonumber(v[2])
if lvl == nil then lvl = cap else lvl = math.min(cap, lvl + math.max(0, now - stamp) * cap / 60.0) end
redis.call('HSET', KEYS[1], 'level', tostring(lvl - n), 'stamp', tostring(now))
redis.call('EXPIRE', KEYS[1], 120)
return tostring(lvl - n)
"""


class RedisRateLimiter:
    """Token buckets in Redis; a limit of 0 means unlimited. ``prefix`` separates deployments (and tests)."""

    def __init__(self, url: str, prefix: str = "genloom:", client: Any = None) -> None:
        if client is None:
            try:
                import redis
            except ImportError:
                raise MissingDependency("redis", "redis") from None
            client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.url, self.prefix, self._r = url, prefix, client
        self._admit = client.register_script(ADMIT)
        self._charge = client.register_script(CHARGE)

    def _call(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        import redis

        try:
            return script(keys=keys, args=args)
        except redis.RedisError as e:
            raise BackendError(
                f"the rate limiter's Redis at {self.url} failed: {e}",
                hint="check that Redis is running and GENLOOM_REDIS_URL points at it",
                retryable=True,
            ) from None

    def admit(self, key_id: str, rpm: int, tpm: int) -> float | None:
        if rpm <= 0 and tpm <= 0:
            return None
        keys = [f"{self.prefix}limits:tok:{key_id}", f"{self.prefix}limits:req:{key_id}"]
        out = self._call(self._admit, keys, [rpm, tpm])
        text = out.decode() if isinstance(out, bytes) else str(out or "")
        return float(text) if text else None

    def charge(self, key_id: str, tokens: int, tpm: int) -> None:
        if tpm <= 0 or tokens <= 0:
            return
        self._call(self._charge, [f"{self.prefix}limits:tok:{key_id}"], [tpm, tokens])


def limiter_from_settings(settings: Any) -> Any:
    """The limiter the settings ask for: Redis when ``redis_url`` is set, else in-process."""
    if getattr(settings, "redis_url", ""):
        return RedisRateLimiter(settings.redis_url, getattr(settings, "redis_prefix", "genloom:"))
    from genloom.serve.limits import InProcessRateLimiter

    return InProcessRateLimiter()
