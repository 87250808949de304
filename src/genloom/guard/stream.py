"""Guards on plain chat and completions: the input messages, and the output, streamed or whole.

    g = OutputGuard(settings)
    for piece in stream:
        send(g.feed(piece))          # text is released sentence by sentence, once the output guards passed it
        if g.blocked: break          # finish_reason "content_filter" and an OpenAI-style error
    send(g.finish())

With no output guards configured every piece is released at once. Otherwise text is held back to the last
sentence end (". ", "! ", "? " or a line break) so a guard sees whole sentences and a link is never sent half
checked; a redacting guard's replacement is what the client gets. Text without sentence ends (a list of words,
code) is not held for ever: past ``SOFT_HOLD`` characters it is released up to its last space, but never inside
a markdown link or image that has not closed yet, so the stream stays live.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from genloom.guard.base import Finding
from genloom.guard.runner import GuardResult, policy
from genloom.settings import Settings

_END = re.compile(r"[.!?:;]\s|\n")
SOFT_HOLD = 48  # characters held at most while no sentence has ended


def _release_point(held: str) -> int | None:
    """Where the held text may be cut: after its last sentence end, else (when long) at its last space
    before any unclosed ``[...](...)``; None: hold it all."""
    last = None
    for m in _END.finditer(held):
        last = m.end()
    if last is not None or len(held) <= SOFT_HOLD:
        return last
    cut = held.rfind(" ")
    opening = held.rfind("[", 0, cut)
    if opening >= 0 and not re.search(r"\]\([^)]*\)", held[opening:cut]):  # a link still being written
        cut = opening - 1 if opening > 0 and held[opening - 1] == "!" else opening
    return cut if cut > 0 else None


def input_text(messages: Sequence[Any]) -> str:
    """What the user said in a chat: the user turns' text (system and developer turns are the caller's own)."""
    return "\n\n".join(m.content for m in messages if m.role == "user" and m.content)


def check_input(settings: Settings, text: str) -> GuardResult:
    return policy(settings).run("input", text)


class OutputGuard:
    def __init__(self, settings: Settings) -> None:
        self.policy = policy(settings)
        self.active = bool(self.policy.guards("output"))
        self.findings: list[Finding] = []
        self.blocked: Finding | None = None
        self._held = ""

    def _check(self, text: str) -> str:
        if not text or self.blocked is not None:
            return ""
        r = self.policy.run("output", text)
        self.findings += r.findings
        if r.blocked:
            self.blocked = next(f for f in r.findings if f.action == "block")
            return ""
        return r.text

    def feed(self, piece: str) -> str:
        if not self.active:
            return piece
        self._held += piece
        last = _release_point(self._held)
        if last is None:
            return ""
        out, self._held = self._held[:last], self._held[last:]
        return self._check(out)

    def finish(self) -> str:
        out, self._held = self._held, ""
        return self._check(out) if self.active else out

    def to_list(self) -> list[dict[str, Any]]:
        return [f.to_dict() for f in self.findings]

    def error(self) -> dict[str, Any]:
        """The OpenAI-style error body of a blocked output."""
        f = self.blocked
        why = f"{f.guard} guard ({f.category}): {f.reason}" if f is not None else "the output guards"
        return {"error": {"message": f"the output was stopped by the {why}", "type": "invalid_request_error",
                          "param": None, "code": "content_filter"}}  # fmt: skip


__all__ = ["OutputGuard", "check_input", "input_text"]
