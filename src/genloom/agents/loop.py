"""The agent loop: think → call a tool → observe → ... → answer, within a step and a token budget.

    run = run_agent("How many days from 2024-01-01 to 2024-03-01?", "llamacpp:", ["days_between"])
    for event in run:            # Thought, ToolCallEvent, Observation, AnswerEvent or ErrorEvent
        print(event.to_dict())
    run.result.answer, run.result.tool_calls

Each step is one call of a tool-calling model (OpenAI's function calling: the model answers in text or with
tool calls). Tool calls run in order, each behind the run's allow-list (genloom.agents.policy); their results
go back as ``tool`` messages. The last step allowed is asked with ``tool_choice="none"``, so a run ends with
an answer unless the token budget or the model gives out first. The answer's sentences are checked against
the KB passages the run saw and cited to exact spans (genloom.agents.cite), as ``genloom ask`` cites.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any, Protocol

from genloom.agents.builtins import BUILTIN_NAMES, KB_TOOLS, KBAccess, calculator, kb_tools, time_tools
from genloom.agents.cite import SourceBook
from genloom.agents.events import (
    AgentResult,
    AnswerEvent,
    ErrorEvent,
    Event,
    Observation,
    StopReason,
    Thought,
    ToolCallEvent,
)
from genloom.agents.policy import ToolPolicy
from genloom.agents.tools import Tool, ToolResult, as_tools
from genloom.errors import GenloomError, UserError
from genloom.guard.tools import ToolGuards
from genloom.settings import Settings, get_settings
from genloom.types import SamplingParams, Usage

SYSTEM = (
    "You solve the user's task with the tools you are given. When you need a fact from the documents or a "
    "computation, call a tool and read its result. When you know the answer, reply with the answer only, "
    "in a few sentences, citing the numbered sources you used like [1]. If the tools do not give the answer, "
    "say that you do not know."
)


class ToolCallingModel(Protocol):
    """What the loop needs of a model: genloom's Engine.generate with OpenAI-style tools.

    ``prompt_messages`` are OpenAI chat messages (dicts with role, content, tool_calls, tool_call_id, name);
    the returned completion has ``text``, ``tool_calls`` (each with ``id``, ``name``, ``arguments`` as JSON
    text), ``finish_reason`` and ``usage`` (``prompt_tokens``, ``completion_tokens``)."""

    def generate(
        self,
        prompt_messages: list[dict[str, Any]],
        params: SamplingParams,
        *,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: Any = "auto",
    ) -> Any: ...


def wire_message(role: str, content: str, *, tool_calls: Sequence[Any] | None = None,
                 tool_call_id: str | None = None, name: str | None = None) -> dict[str, Any]:  # fmt: skip
    """One chat message as OpenAI sends it (the one place the loop builds messages)."""
    msg: dict[str, Any] = {"role": role, "content": content}
    if tool_calls:
        msg["tool_calls"] = [{"id": c.id, "type": "function",
                              "function": {"name": c.name, "arguments": c.arguments}} for c in tool_calls]  # fmt: skip
    if tool_call_id is not None:
        msg["tool_call_id"] = tool_call_id
    if name is not None:
        msg["name"] = name
    return msg


class AgentRun:
    """Iterate for the run's events; ``result`` is set when the iteration ends."""

    def __init__(
        self,
        task: str,
        model: str | ToolCallingModel | None = None,
        tools: Sequence[str | Tool | Any] | None = None,
        *,
        kb: Any = None,
        principals: Sequence[str] | None = None,
        toolbox: Sequence[Tool] = (),
        policy: ToolPolicy | None = None,
        max_steps: int = 6,
        max_tokens: int = 6000,
        step_tokens: int = 256,
        temperature: float = 0.0,
        seed: int = 0,
        system: str = SYSTEM,
        answer_model: Any = None,
        settings: Settings | None = None,
        first_tool_choice: str | None = None,
    ) -> None:
        if not task or not task.strip():
            raise UserError("the task is empty", hint="say what to do, e.g. genloom agent 'What is ...?'")
        if not 1 <= max_steps <= 50:
            raise UserError(f"max_steps must be in [1, 50], got {max_steps}", hint="pass --max-steps 6")
        if max_tokens < 16 or step_tokens < 1:
            raise UserError("max_tokens must be >= 16 and step_tokens >= 1", hint="pass --max-tokens 6000")
        self.task, self.settings = task.strip(), settings or get_settings()
        self.max_steps, self.max_tokens, self.system = max_steps, max_tokens, system
        self.first_tool_choice = first_tool_choice or self.settings.agent_first_tool_choice
        if self.first_tool_choice not in ("auto", "required"):
            raise UserError(f"first_tool_choice must be 'auto' or 'required', got {self.first_tool_choice!r}",
                            hint="set GENLOOM_AGENT_FIRST_TOOL_CHOICE to auto or required")  # fmt: skip
        self.params = SamplingParams(max_tokens=step_tokens, temperature=temperature, seed=seed)
        self._access = KBAccess(kb, principals, self.settings, answer_model) if kb is not None else None
        self.available = self._available(toolbox, [t for t in tools or [] if not isinstance(t, str)])
        names = [t if isinstance(t, str) else t.name for t in tools or []]
        # a tool handed in as an object is asked for by the call; the policy may still cap it
        self.policy = policy or ToolPolicy.resolve(names or None, self.settings)
        unknown = sorted(n for n in names if n not in self.available)
        if unknown:
            raise UserError(f"unknown tool(s) {', '.join(unknown)}" + self._kb_note(unknown),
                            hint=f"available: {', '.join(sorted(self.available))}")  # fmt: skip
        # the default list (no tools named): the KB tools are offered only with a KB; a typo is an error
        typos = sorted(n for n in self.policy.allowed - set(self.available) if n not in KB_TOOLS)
        if not names and typos:
            raise UserError(f"the agent_tools setting names unknown tool(s) {', '.join(typos)}",
                            hint=f"fix GENLOOM_AGENT_TOOLS; available: {', '.join(sorted(self.available))}")  # fmt: skip
        self.offered = [self.available[n] for n in sorted(self.policy.allowed) if n in self.available]
        self.model = (
            model if model is not None and not isinstance(model, str) else _engine(model, self.settings)
        )
        _check_tool_calling(self.model)
        self.book = SourceBook()
        self.guards = ToolGuards(self.settings)  # tool_call / tool_result guards (genloom.guard, issue 14)
        self.result: AgentResult | None = None

    def _available(self, toolbox: Sequence[Tool], given: Sequence[Any]) -> dict[str, Tool]:
        out: dict[str, Tool] = {"calculator": Tool.from_function(calculator), **time_tools()}
        if self._access is not None:
            out.update(kb_tools(self._access))
        for t in [*toolbox, *as_tools(given)]:
            if t.name in out and out[t.name] is not t:
                what = "a built-in tool" if t.name in BUILTIN_NAMES else "another tool given to the run"
                raise UserError(f"tool {t.name!r} clashes with {what}", hint="rename one of them")
            out[t.name] = t
        return out

    def _kb_note(self, unknown: list[str]) -> str:
        return " (the knowledge-base tools need a knowledge base: pass --kb NAME)" if (
            self._access is None and set(unknown) & set(KB_TOOLS)) else ""  # fmt: skip

    def __iter__(self) -> Iterator[Event]:
        messages = [wire_message("system", self.system), wire_message("user", self.task)]
        result = AgentResult(self.task, None, "step_budget", tools=[t.name for t in self.offered])
        specs = [t.to_openai() for t in self.offered] or None
        used = Usage()
        try:
            for step in range(1, self.max_steps + 1):
                remaining = self.max_tokens - used.total_tokens
                if remaining <= 0:
                    yield from self._stop(
                        result, step, "token_budget", f"the token budget ({self.max_tokens}) is spent"
                    )
                    return
                last = step == self.max_steps or specs is None
                params = replace(self.params, max_tokens=min(self.params.max_tokens, remaining))
                try:
                    choice = "none" if last else self.first_tool_choice if step == 1 else "auto"
                    out = self.model.generate(messages, params, tools=specs, tool_choice=choice)
                except GenloomError as e:
                    yield from self._stop(result, step, "model_error", f"the model failed: {e}")
                    return
                result.steps = step
                p, c = int(out.usage.prompt_tokens), int(out.usage.completion_tokens)
                used = Usage(used.prompt_tokens + p, used.completion_tokens + c)
                result.usage = used
                text, calls = (out.text or "").strip(), list(out.tool_calls or [])
                if not calls:
                    if not text:
                        yield from self._stop(
                            result, step, "model_error", "the model returned neither text nor a tool call"
                        )
                        return
                    answer, citations, claims = self._cite(text)
                    result.answer, result.citations, result.claims, result.stopped = (
                        answer,
                        citations,
                        claims,
                        "answer",
                    )
                    yield self._emit(
                        result, AnswerEvent(step, answer, citations, claims, p, c, used.total_tokens)
                    )
                    return
                if last:
                    why = "after the step budget ended" if specs else "although none were offered"
                    yield from self._stop(result, step, "step_budget", f"the model called tools {why}")
                    return
                first = (p, c)  # the call's tokens go on the first event it produced
                if text:
                    yield self._emit(result, Thought(step, text, p, c, used.total_tokens))
                    first = (0, 0)
                messages.append(wire_message("assistant", text, tool_calls=calls))
                for call in calls:
                    yield self._emit(result, ToolCallEvent(step, call.id, call.name, call.arguments, first[0],
                                                          first[1], used.total_tokens))  # fmt: skip
                    first = (0, 0)
                    res = self._execute(call)
                    result.tool_calls.append({"step": step, "id": call.id, "name": call.name,
                                              "arguments": call.arguments, "ok": res.ok, "error": res.error,
                                              "result": res.content,
                                              **({"guard": g} if (g := self.guards.take()) else {})})  # fmt: skip
                    yield self._emit(result, Observation(step, call.id, call.name, res.content, res.ok, res.error,
                                                         res.truncated, used.total_tokens))  # fmt: skip
                    messages.append(wire_message("tool", res.content, tool_call_id=call.id, name=call.name))
                if used.total_tokens >= self.max_tokens:
                    yield from self._stop(
                        result, step, "token_budget", f"the token budget ({self.max_tokens}) is spent"
                    )
                    return
        finally:
            self.result = result
            if self._access is not None:
                self._access.close()

    def _execute(self, call: Any) -> ToolResult:
        tool = self.available.get(call.name)
        if tool is None or not self.policy.allows(call.name):
            error = "refused" if tool is not None else "unknown_tool"
            return ToolResult(False, self.policy.refusal(call.name, known=tool is not None), error)
        if (refusal := self.guards.call(call.name, call.arguments)) is not None:
            return ToolResult(False, refusal, "guarded")
        res = self.book.register(tool.run(call.arguments))
        res.content = self.guards.result(res.content)
        return res

    def _cite(self, text: str) -> tuple[str, list[Any], list[Any]]:
        if not self.book.hits or self._access is None:
            return text, [], []
        return self.book.cite(text, self._access.kb.embedder)

    def _emit(self, result: AgentResult, event: Event) -> Event:
        result.events.append(event)
        return event

    def _stop(self, result: AgentResult, step: int, kind: StopReason, message: str) -> Iterator[Event]:
        result.stopped, result.error = kind, message
        yield self._emit(result, ErrorEvent(step, kind, message, result.usage.total_tokens))


def _check_tool_calling(model: Any) -> None:
    """A model that cannot call tools cannot run an agent: say so before the first step."""
    from genloom.generate import Engine

    if isinstance(model, Engine):
        if not model.backend.capabilities.tools:
            raise UserError(f"{model.backend.info().id} cannot call tools",
                            hint="use a model with tool calling, e.g. --model llamacpp:")  # fmt: skip
        return
    try:
        params = inspect.signature(model.generate).parameters
    except (AttributeError, TypeError, ValueError):
        raise UserError(
            f"{type(model).__name__} has no generate() to call", hint="pass a model spec"
        ) from None
    if "tools" not in params and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        raise UserError("this model cannot call tools: its generate() takes no tools",
                        hint="use a model (and a genloom) with tool calling, e.g. --model llamacpp:")  # fmt: skip


def _engine(spec: str | None, settings: Settings) -> ToolCallingModel:
    from genloom.generate import Engine

    engine: Any = Engine(spec, settings)
    return engine


def run_agent(task: str, model: str | ToolCallingModel | None = None,
              tools: Sequence[str | Tool | Any] | None = None, **options: Any) -> AgentRun:  # fmt: skip
    """Start an agent run; iterate it for its events. See AgentRun for the options."""
    return AgentRun(task, model, tools, **options)


def agent(task: str, model: str | ToolCallingModel | None = None,
          tools: Sequence[str | Tool | Any] | None = None, **options: Any) -> AgentResult:  # fmt: skip
    """Run an agent to the end and return its result (answer, citations, tool calls, usage, events)."""
    run = AgentRun(task, model, tools, **options)
    for _ in run:
        pass
    assert run.result is not None
    return run.result


__all__ = ["AgentRun", "ToolCallingModel", "agent", "run_agent", "wire_message"]
