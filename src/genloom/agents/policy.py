"""Which tools a run may use: the call's allow-list, capped by the API key's.

    policy = ToolPolicy.resolve(requested=["search_kb", "calculator"], settings=s, key_tools=None)
    policy.allows("calculator")  # True
    policy.refusal("shell")      # the observation the model gets instead of running it (and a log line)

- per call: the tools named for the run (``--tool``, ``tools=``); a call that names none gets the settings'
  ``agent_tools`` (comma separated, ``GENLOOM_AGENT_TOOLS``);
- per API key: ``tools = [...]`` in the key's ``[keys.NAME]`` table of keys.toml; a key without it is not
  capped. A tool the key does not allow is dropped from the run before the model sees it.

A tool outside the allow-list is never run: a call of it (a model may name any tool) is refused with an
observation, and logged on the ``genloom.agents`` logger.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from genloom.errors import AccessDenied, UserError
from genloom.settings import Settings

log = logging.getLogger("genloom.agents")


def parse_list(text: str) -> list[str]:
    return [t.strip() for t in text.replace(";", ",").split(",") if t.strip()]


@dataclass(frozen=True, slots=True)
class ToolPolicy:
    allowed: frozenset[str]
    key_id: str = "local"

    @classmethod
    def resolve(
        cls,
        requested: Sequence[str] | None,
        settings: Settings,
        key_tools: Iterable[str] | None = None,
        key_id: str = "local",
    ) -> ToolPolicy:
        """The allow-list of one run. Asking for a tool the key forbids is an AccessDenied naming it."""
        names = list(requested) if requested else parse_list(settings.agent_tools)
        if not names:
            raise UserError("no tools allowed for this agent run",
                            hint="name some with --tool NAME, or set GENLOOM_AGENT_TOOLS")  # fmt: skip
        if key_tools is not None:
            cap = set(key_tools)
            denied = [n for n in names if n not in cap]
            if denied and requested:
                raise AccessDenied(f"API key {key_id!r} may not use the tool(s) {', '.join(denied)}",
                                   hint=f"this key may use: {', '.join(sorted(cap)) or 'no tools'}")  # fmt: skip
            names = [n for n in names if n in cap]  # the settings' default list, cut to what the key allows
        return cls(frozenset(names), key_id)

    def allows(self, name: str) -> bool:
        return name in self.allowed

    def refusal(self, name: str, known: bool) -> str:
        why = "is not allowed in this run" if known else "does not exist"
        log.warning("agent tool call refused: key %s called %r, which %s", self.key_id, name, why)
        return f"tool {name!r} {why}; the tools you may call are: {', '.join(sorted(self.allowed))}"
