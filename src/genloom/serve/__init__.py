"""The server: an OpenAI-compatible API, knowledge-base endpoints and a web UI (``genloom serve``)."""

from __future__ import annotations

from genloom.serve.app import create_app
from genloom.serve.auth import KeyStore, Principal
from genloom.serve.limits import InProcessRateLimiter, RateLimiter
from genloom.serve.limits_redis import RedisRateLimiter

__all__ = ["InProcessRateLimiter", "KeyStore", "Principal", "RateLimiter", "RedisRateLimiter", "create_app"]
