"""Guards around an agent's tool calls (genloom.agents.loop): the arguments before a tool runs
(``tool_call``), and what it returned before the model reads it (``tool_result``: injection in a fetched
document or search result is kept out, the rest of the result stays).

    g = ToolGuards(settings)
    refusal = g.call(name, arguments)        # a message for the model when the guards block the call, else None
    content = g.result(content)              # the result as the model may read it
    g.take()                                 # the findings since the last take (for the tool call's record)
"""

from __future__ import annotations

from typing import Any

from genloom.guard.runner import policy
from genloom.settings import Settings


class ToolGuards:
    def __init__(self, settings: Settings) -> None:
        self.policy = policy(settings)
        self._found: list[dict[str, Any]] = []

    def call(self, name: str, arguments: str) -> str | None:
        r = self.policy.run("tool_call", arguments)
        self._found += r.to_list()
        if not r.blocked:
            return None
        f = next(f for f in r.findings if f.action == "block")
        return f"the call to {name} was refused by the {f.guard} guard ({f.category}): {f.reason}"

    def result(self, content: str) -> str:
        r = self.policy.run("tool_result", content)
        self._found += r.to_list()
        if r.blocked:
            f = next(f for f in r.findings if f.action == "block")
            return f"[the tool's result was withheld by the {f.guard} guard ({f.category}): {f.reason}]"
        return r.text

    def take(self) -> list[dict[str, Any]]:
        out, self._found = self._found, []
        return out


__all__ = ["ToolGuards"]
