"""``GET /v1/usage``: the caller's spend and tokens over time and its budget (issue 21).

    GET /v1/usage?by=day|month|model|arm&days=N    {"object": "usage", "key_id", "budget": {...}, "data": [...]}

A key sees its own usage; the local owner (no keys configured) and admin keys see every key's (``key=NAME``
narrows it). The budget block says the period, what was spent in it, what remains and when it starts over.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from genloom.serve.auth import Principal
from genloom.serve.deps import caller
from genloom.serve.errors import APIError
from genloom.serve.routes_openai import ERRORS
from genloom.serve.state import get_state
from genloom.serve.usage import budget_status, report

router = APIRouter(tags=["usage"], responses=ERRORS)


@router.get("/v1/usage")
async def usage(
    request: Request,
    by: Literal["day", "month", "model", "arm"] = "day",
    days: int = Query(default=31, ge=1, le=36_500),  # up to a century back
    key: str | None = None,
    who: Principal = Depends(caller),
) -> dict[str, Any]:
    st = get_state(request)
    sees_all = who.admin or who.principals is None
    if key is not None and not sees_all and key != who.key_id:
        raise APIError(403, "a key may read only its own usage", "invalid_request_error", param="key")
    which = key if key is not None else (None if sees_all else who.key_id)
    since = time.time() - days * 86400
    rows = await asyncio.to_thread(report, st.audit, st.settings, which, by, since)
    budget = await asyncio.to_thread(budget_status, st.audit, st.settings, which or who.key_id)
    return {"object": "usage", "key_id": which, "by": by, "days": days, "budget": budget, "data": rows}
