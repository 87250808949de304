"""Conversations and UI preferences over HTTP, each caller seeing only its own (by API key id).

    GET    /v1/conversations?q=&limit=            the caller's conversations, newest first (q: search)
    POST   /v1/conversations                      {"title"?, "model"?, "messages"?} → a new one
    GET    /v1/conversations/{id}                 one, with its messages
    PATCH  /v1/conversations/{id}                 {"title"} → renamed
    DELETE /v1/conversations/{id}
    POST   /v1/conversations/{id}/messages        {"messages", "replace_from"?, "model"?} → appended
    GET    /v1/preferences, PUT /v1/preferences   the caller's chat settings (the web UI remembers them here)

Another key's conversation answers 404, exactly like one that does not exist. The store is
:class:`genloom.conversations.Conversations` (SQLite, or Postgres with a Postgres store); its calls are quick
database work, run in FastAPI's thread pool (these handlers are plain functions).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from genloom.conversations import MAX_CONTENT, MAX_TITLE, Conversations
from genloom.serve.audit import AuditRecord
from genloom.serve.auth import Principal
from genloom.serve.body import JSON_INT, NOT_BLANK, Body
from genloom.serve.deps import caller
from genloom.serve.routes_openai import ERRORS
from genloom.serve.schemas import ErrorResponse
from genloom.serve.state import get_state

router = APIRouter(tags=["conversations"], responses=ERRORS)


class StoredMessage(Body):
    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=MAX_CONTENT)
    meta: dict[str, Any] = Field(default_factory=dict)


# the store collapses a title's whitespace and refuses an empty one
Title = Annotated[str, Field(min_length=1, max_length=MAX_TITLE, pattern=NOT_BLANK)]


class NewConversation(Body):
    title: Title | None = None
    model: str | None = Field(default=None, max_length=300)
    messages: list[StoredMessage] = Field(default_factory=list, max_length=10_000)


class Rename(Body):
    title: Title


class Append(Body):
    messages: list[StoredMessage] = Field(min_length=1, max_length=10_000)
    replace_from: Annotated[int, Field(ge=0), JSON_INT] | None = None
    model: str | None = Field(default=None, max_length=300)


class Preferences(Body):
    """What the web UI remembers per user. Unknown fields are rejected by name."""

    model: str | None = Field(default=None, max_length=300)  # an LLM id or rag:<kb>
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: Annotated[int, Field(ge=1, le=1_000_000), JSON_INT] | None = None
    system_prompt: str | None = Field(default=None, max_length=20_000)
    rag_mode: Literal["auto", "generate", "extractive"] | None = None


# -- what the store answers (genloom.conversations.store) --------------------------------------------------
class ConversationSummary(BaseModel):
    id: str
    object: Literal["conversation"] = "conversation"
    title: str
    model: str | None
    created: float
    updated: float
    messages_count: int


class SavedMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str
    meta: dict[str, Any]
    ts: float


class Conversation(ConversationSummary):
    messages: list[SavedMessage]


class ConversationList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ConversationSummary]


class Deleted(BaseModel):
    id: str
    object: Literal["conversation"] = "conversation"
    deleted: Literal[True] = True


def store(request: Request) -> Conversations:
    s: Conversations = request.app.state.conversations
    return s


def _dump(msgs: list[StoredMessage]) -> list[dict[str, Any]]:
    return [m.model_dump() for m in msgs]


@router.get("/v1/conversations", response_model=ConversationList)
def list_conversations(
    request: Request,
    q: str | None = Query(default=None, max_length=500, description="search titles and message text"),
    limit: int = Query(default=100, ge=1, le=1000),
    who: Principal = Depends(caller),
) -> dict[str, Any]:
    return {"object": "list", "data": store(request).list(who.key_id, q, limit)}


@router.post("/v1/conversations", response_model=Conversation)
def create_conversation(
    body: NewConversation, request: Request, who: Principal = Depends(caller)
) -> dict[str, Any]:
    return store(request).create(who.key_id, body.title, body.model, _dump(body.messages))


@router.get("/v1/conversations/{conversation_id}", response_model=Conversation)
def get_conversation(
    conversation_id: str, request: Request, who: Principal = Depends(caller)
) -> dict[str, Any]:
    return store(request).get(who.key_id, conversation_id)


@router.patch("/v1/conversations/{conversation_id}", response_model=ConversationSummary)
def rename_conversation(
    conversation_id: str, body: Rename, request: Request, who: Principal = Depends(caller)
) -> dict[str, Any]:
    return store(request).rename(who.key_id, conversation_id, body.title)


@router.delete("/v1/conversations/{conversation_id}", response_model=Deleted)
def delete_conversation(
    conversation_id: str, request: Request, who: Principal = Depends(caller)
) -> dict[str, Any]:
    store(request).delete(who.key_id, conversation_id)
    rec = AuditRecord(f"convdel-{uuid.uuid4().hex[:24]}", who.key_id, "/v1/conversations/delete",
                      prompt=conversation_id, output='{"deleted": true}')  # fmt: skip
    get_state(request).audit.write(rec)
    return {"id": conversation_id, "object": "conversation", "deleted": True}


@router.post(
    "/v1/conversations/{conversation_id}/messages",
    response_model=Conversation,
    responses={409: {"model": ErrorResponse, "description": "replace_from is past the conversation's end"}},
)
def append_messages(
    conversation_id: str, body: Append, request: Request, who: Principal = Depends(caller)
) -> dict[str, Any]:
    return store(request).append(
        who.key_id, conversation_id, _dump(body.messages), body.replace_from, body.model
    )


@router.get("/v1/preferences")
def get_preferences(request: Request, who: Principal = Depends(caller)) -> dict[str, Any]:
    return store(request).preferences(who.key_id)


@router.put("/v1/preferences")
def put_preferences(body: Preferences, request: Request, who: Principal = Depends(caller)) -> dict[str, Any]:
    return store(request).set_preferences(who.key_id, body.model_dump(exclude_none=True))
