"""Request dependencies: who is calling (API key → principal) and whether their rate limit allows it."""

from __future__ import annotations

from fastapi import Request

from genloom.serve.auth import Principal, bearer
from genloom.serve.errors import APIError
from genloom.serve.state import get_state


async def caller(request: Request) -> Principal:
    """Authenticate (401) and rate-limit (429 with Retry-After) the request."""
    st = get_state(request)
    who = st.keys.lookup(bearer(request.headers.get("authorization")))
    if who is None:
        raise APIError(
            401,
            "Incorrect or missing API key. Send it as 'Authorization: Bearer <key>'.",
            "invalid_request_error",
            code="invalid_api_key",
        )
    rpm, tpm = st.limits_for(who)
    wait = st.limiter.admit(who.key_id, rpm, tpm)
    if wait is not None:
        raise APIError(
            429,
            f"Rate limit reached for key {who.key_id!r} ({rpm} requests/min, {tpm} tokens/min); "
            f"retry in {wait:.1f}s.",
            "requests",
            code="rate_limit_exceeded",
            retry_after=wait,
        )
    request.state.key_id = who.key_id
    return who
