"""``POST /v1/agent``: run an agent as the calling key — its principals for the KB tools, its tool allow-list
(``tools`` in keys.toml) capping the request's — and audit every tool call with the request.

    POST /v1/agent {"task": "...", "tools": ["search_kb", "calculator"], "kb": "docs", "max_steps": 6}
    → the AgentResult as ``genloom agent --json`` ends it: answer, citations, tool_calls, usage, events

The run waits its turn in the generation queue (it makes several model calls) and runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import Field

from genloom.backends.store.base import KB_NAME_PATTERN
from genloom.serve.access import open_visible
from genloom.serve.audit import AuditRecord
from genloom.serve.auth import Principal
from genloom.serve.body import JSON_INT, Body
from genloom.serve.deps import caller
from genloom.serve.errors import APIError
from genloom.serve.manifests import sign_output
from genloom.serve.queue import QueueFull
from genloom.serve.routes_openai import ERRORS
from genloom.serve.state import get_state
from genloom.serve.usage import enforce_budget

router = APIRouter(tags=["agents"], responses=ERRORS)


class AgentRequest(Body):
    task: str = Field(min_length=1, max_length=8000)
    tools: list[str] | None = Field(default=None, max_length=32)  # None: the agent_tools setting
    kb: str | None = Field(default=None, pattern=KB_NAME_PATTERN)
    model: str | None = None
    max_steps: Annotated[int, Field(ge=1, le=20), JSON_INT] = 6
    max_tokens: Annotated[int, Field(ge=16, le=100_000), JSON_INT] = 6000


@router.post("/v1/agent")
async def run_agent(body: AgentRequest, request: Request, who: Principal = Depends(caller)) -> dict[str, Any]:
    from genloom.agents import ToolPolicy
    from genloom.agents.loop import AgentRun

    st = get_state(request)
    enforce_budget(st.audit, st.settings, who.key_id)  # issue 21: 429 once the key's budget is spent
    t0 = time.perf_counter()
    model = body.model or st.models[0]
    engine: Any = st.engine(model)  # 404 naming the models on offer
    policy = ToolPolicy.resolve(body.tools, st.settings, who.tools, who.key_id)  # 403 for a forbidden tool
    kb = await asyncio.to_thread(open_visible, st.kb_factory, body.kb, who.scope) if body.kb else None
    run = AgentRun(body.task, engine, body.tools, kb=kb, principals=who.acl, policy=policy,
                   max_steps=body.max_steps, max_tokens=body.max_tokens, settings=st.settings)  # fmt: skip
    try:
        ticket = st.queue(model).admit()
    except QueueFull as e:
        raise APIError(503, str(e), "server_error", code="queue_full", retry_after=e.retry_after) from None
    try:
        await ticket.turn()
        await asyncio.to_thread(lambda: [None for _ in run])
    finally:
        ticket.release()
        if kb is not None and hasattr(kb, "close"):
            kb.close()
    result = run.result
    assert result is not None
    rec = AuditRecord(f"agent-{uuid.uuid4().hex[:24]}", who.key_id, "/v1/agent", model=model, kb=body.kb,
                      prompt=body.task, output=result.answer or "", tool_calls=result.tool_calls,
                      guard=[g for c in result.tool_calls for g in c.get("guard", [])],
                      chunk_ids=[c.chunk_id for c in result.citations], finish_reason=result.stopped,
                      prompt_tokens=result.usage.prompt_tokens,
                      completion_tokens=result.usage.completion_tokens)  # fmt: skip
    signed = sign_output(st, rec, "agent", result.answer or "", spec=model, tool_calls=result.tool_calls)
    st.finish(who, rec, t0)
    return {"id": rec.request_id, "object": "agent.run", "model": model, **result.to_dict(with_events=True),
            **({"genloom_manifest": signed} if signed else {})}  # fmt: skip
