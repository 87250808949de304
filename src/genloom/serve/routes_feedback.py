"""Feedback on responses: thumbs up/down with an optional comment, kept with the audit record.

    POST   /v1/feedback                 {"request_id", "rating": "up"|"down", "comment"?} → stored
    DELETE /v1/feedback/{request_id}    the rating taken back
    GET    /v1/feedback/export          JSONL (genloom.serve.feedback), the caller's own ratings

Only the key that made a request may rate it (another key's id answers 404, like an unknown one).
The local owner (no keys configured) exports every rating; ``genloom feedback export`` always does.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import Field

from genloom.errors import NotFound
from genloom.serve.auth import Principal
from genloom.serve.body import Body
from genloom.serve.deps import caller
from genloom.serve.feedback import export_lines
from genloom.serve.routes_openai import ERRORS
from genloom.serve.state import get_state

router = APIRouter(prefix="/v1/feedback", tags=["feedback"], responses=ERRORS)
# the audit row is written as a stream ends, a moment after its last byte: a rating sent at once may wait this long
_ROW_WAIT_S = 3.0


class Feedback(Body):
    request_id: str = Field(min_length=1, max_length=200)
    rating: Literal["up", "down"]
    comment: str | None = Field(default=None, max_length=10_000)


def _missing(request_id: str) -> NotFound:
    return NotFound(
        f"no response {request_id!r} of yours to rate",
        hint="send the 'id' of a chat completion this API key received",
    )


@router.post("")
async def rate(body: Feedback, request: Request, who: Principal = Depends(caller)) -> dict[str, Any]:
    audit = get_state(request).audit
    row = None
    for _ in range(int(_ROW_WAIT_S / 0.05)):
        row = await asyncio.to_thread(audit.request, body.request_id)
        if row is not None:
            break
        await asyncio.sleep(0.05)
    if row is None or row["key_id"] != who.key_id:
        raise _missing(body.request_id)
    comment = (body.comment or "").strip() or None
    ts = await asyncio.to_thread(audit.put_feedback, body.request_id, who.key_id, body.rating, comment)
    return {"object": "feedback", "request_id": body.request_id, "rating": body.rating, "comment": comment,
            "ts": ts}  # fmt: skip


@router.delete("/{request_id}")
async def unrate(request_id: str, request: Request, who: Principal = Depends(caller)) -> dict[str, Any]:
    if not await asyncio.to_thread(get_state(request).audit.delete_feedback, request_id, who.key_id):
        raise _missing(request_id)
    return {"object": "feedback", "request_id": request_id, "deleted": True}


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
            "description": "JSON lines",
        }
    },
)
async def export(request: Request, who: Principal = Depends(caller)) -> StreamingResponse:
    audit = get_state(request).audit
    lines = await asyncio.to_thread(
        lambda: list(export_lines(audit, None if who.principals is None else who.key_id))
    )
    return StreamingResponse(iter(lines), media_type="application/x-ndjson",
                             headers={"Content-Disposition": 'attachment; filename="feedback.jsonl"'})  # fmt: skip
