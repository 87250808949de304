"""A scripted tool-calling model for agent tests: the interface of Engine.generate(..., tools=, tool_choice=)
that issue 12's seam lands, with its own minimal ToolCall/Completion shapes (OpenAI's field names)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from genloom.types import Usage


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str


@dataclass
class Turn:
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=lambda: Usage(10, 5))
    finish_reason: str = "stop"


def call(name: str, _id: str | None = None, **arguments: Any) -> ToolCall:
    return ToolCall(_id or f"call_{name}", name, json.dumps(arguments))


class ScriptedModel:
    """Replies from a script: each item is a Turn, or a function of (messages, tools, tool_choice) -> Turn."""

    def __init__(self, *script: Turn | Callable[..., Turn]) -> None:
        self.script = list(script)
        self.calls: list[dict[str, Any]] = []

    def generate(self, prompt_messages, params, *, tools=None, tool_choice="auto"):
        self.calls.append({"messages": [dict(m) for m in prompt_messages], "params": params, "tools": tools,
                           "tool_choice": tool_choice})  # fmt: skip
        if not self.script:
            raise AssertionError("the scripted model ran out of replies")
        item = self.script.pop(0)
        turn = item(prompt_messages, tools, tool_choice) if callable(item) else item
        if turn.tool_calls:
            turn.finish_reason = "tool_calls"
        return turn
