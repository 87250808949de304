"""Request dependencies: who is calling (API key → principal) and whether their rate limit allows it.

``caller`` declares the bearer scheme (``HTTPBearer``), so the OpenAPI document says how to authenticate,
and records the caller's scope for the request (``access.current_acl``: the KB lister answers for it).
"""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from genloom.serve.access import current_acl
from genloom.serve.auth import Principal, bearer
from genloom.serve.errors import APIError
from genloom.serve.state import get_state

scheme = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer <key>`.")


def unauthorized() -> APIError:
    return APIError(
        401,
        "Incorrect or missing API key. Send it as 'Authorization: Bearer <key>'.",
        "invalid_request_error",
        code="invalid_api_key",
    )


def identify(request: Request) -> Principal | None:
    """The presented key's principal (LOCAL without keys), or None; no rate limit is charged."""
    return get_state(request).keys.lookup(bearer(request.headers.get("authorization")))


async def caller(
    request: Request, _creds: HTTPAuthorizationCredentials | None = Depends(scheme)
) -> Principal:
    """Authenticate (401) and rate-limit (429 with Retry-After) the request."""
    st = get_state(request)
    who = identify(request)
    if who is None:
        raise unauthorized()
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
    current_acl.set((who.scope,))
    return who
