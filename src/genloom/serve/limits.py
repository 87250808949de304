"""Per-key rate limits: requests per minute and tokens per minute, as token buckets.

The server talks to a ``RateLimiter`` (a small Protocol) so a shared store (Redis, issue 8) can replace the
in-process one without touching the routes:

    wait = limiter.admit(key_id, rpm, tpm)    # None = go ahead; else seconds until a retry can succeed
    limiter.charge(key_id, tokens, tpm)       # after the request, its real token count

Tokens are charged after the fact (a request's size is only known then), so a key may overdraw its token
bucket once; it is then refused until the bucket refills, which keeps the long-run rate at ``tpm``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class RateLimiter(Protocol):
    def admit(self, key_id: str, rpm: int, tpm: int) -> float | None:
        """Take one request from the key's request bucket; return None, or seconds to wait before retrying."""
        ...

    def charge(self, key_id: str, tokens: int, tpm: int) -> None:
        """Take ``tokens`` from the key's token bucket (it may go negative)."""
        ...


@dataclass
class _Bucket:
    level: float
    stamp: float

    def refill(self, capacity: float, now: float) -> None:
        self.level = min(capacity, self.level + (now - self.stamp) * capacity / 60.0)
        self.stamp = now


class InProcessRateLimiter:
    """Token buckets in this process's memory; a limit of 0 means unlimited."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._req: dict[str, _Bucket] = {}
        self._tok: dict[str, _Bucket] = {}

    def _bucket(self, table: dict[str, _Bucket], key: str, capacity: float, now: float) -> _Bucket:
        b = table.get(key)
        if b is None:
            b = table[key] = _Bucket(capacity, now)
        b.refill(capacity, now)
        return b

    def admit(self, key_id: str, rpm: int, tpm: int) -> float | None:
        with self._lock:
            now = self._clock()
            if tpm > 0:
                tok = self._bucket(self._tok, key_id, tpm, now)
                if tok.level < 1:
                    return (1 - tok.level) * 60.0 / tpm
            if rpm > 0:
                req = self._bucket(self._req, key_id, rpm, now)
                if req.level < 1:
                    return (1 - req.level) * 60.0 / rpm
                req.level -= 1
            return None

    def charge(self, key_id: str, tokens: int, tpm: int) -> None:
        if tpm <= 0 or tokens <= 0:
            return
        with self._lock:
            self._bucket(self._tok, key_id, tpm, self._clock()).level -= tokens
