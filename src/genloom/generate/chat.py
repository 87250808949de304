"""A conversation that remembers its turns and never overflows the context window.

When the history no longer fits, the oldest turns are dropped (the system prompt stays) and the
number dropped is reported, so a UI can tell the user.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from genloom.generate.engine import Engine, Stream
from genloom.types import Message, SamplingParams


@dataclass
class ChatSession:
    engine: Engine
    params: SamplingParams = field(default_factory=SamplingParams)
    system: str | None = None
    history: list[Message] = field(default_factory=list)
    dropped_turns: int = 0  # over the whole session

    def reset(self) -> None:
        self.history.clear()

    def set_system(self, text: str | None) -> None:
        self.system = text or None

    def messages(self, user_text: str) -> list[Message]:
        head = [Message("system", self.system)] if self.system else []
        return [*head, *self.history, Message("user", user_text)]

    def send(self, user_text: str) -> ChatTurn:
        stream = self.engine.stream(self.messages(user_text), self.params, drop_history=True)
        # forget what no longer fits, so later turns do not pay to re-count it
        kept = [m for m in stream.fitted.messages if m.role != "system"]
        self.history = kept[:-1]
        self.dropped_turns += stream.fitted.dropped_turns
        return ChatTurn(self, user_text, stream)


@dataclass
class ChatTurn:
    session: ChatSession
    user_text: str
    stream: Stream

    def __iter__(self) -> Iterator[str]:
        yield from self.stream
        completion = self.stream.completion
        if completion is not None:
            self.session.history.append(Message("user", self.user_text))
            self.session.history.append(Message("assistant", completion.text))

    @property
    def dropped_turns(self) -> int:
        return self.stream.fitted.dropped_turns
