"""Context compression to a token budget (issue 21): keep what is relevant, drop the rest.

- Evidence (grounded answers): the prompt gets the most key statements (ranked by relevance to the question,
  genloom.answer.verify.Evidence.key_sentences) that fit ``budget`` tokens, instead of a fixed number; the
  least relevant sentences are the ones left out. ``AnswerStream(evidence_tokens=N)``, ``genloom eval
  --evidence-tokens N``.
- History (chat): earlier turns are dropped, least relevant to the last user message first (word overlap),
  an assistant turn with the user turn it answers, until the messages fit; system messages and the last user
  turn always stay, order is kept.
Measured in docs/benchmarks.md ("Context compression"): tokens saved against the answer metrics lost.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from genloom.errors import UserError
from genloom.types import Message

MOST_SENTENCES = 12  # the evidence prompt never grows past this many statements
_WORD = re.compile(r"[a-z0-9]{3,}")
Count = Callable[[list[Message]], int]


def fit_evidence(
    build: Callable[[int], list[Message]], budget: int, count: Count, most: int = MOST_SENTENCES
) -> tuple[list[Message], int]:
    """The prompt ``build(n)`` (n key statements, most relevant first) for the largest n <= ``most`` that fits
    ``budget`` tokens (at least one statement); returns (messages, n)."""
    if budget < 1:
        raise UserError(f"the evidence budget must be at least 1 token, got {budget}", hint="pass e.g. 300")
    msgs: list[Message] = []
    for n in range(most, 0, -1):
        msgs = build(n)
        if count(msgs) <= budget:
            return msgs, n
    return msgs, 1


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def relevance(text: str, query: str) -> float:
    """Share of the query's words (3+ letters) that ``text`` contains."""
    q = _words(query)
    return len(q & _words(text)) / len(q) if q else 0.0


def fit_history(messages: Sequence[Message], budget: int, count: Count) -> tuple[list[Message], int]:
    """``messages`` with the least relevant earlier turns dropped until they fit ``budget`` tokens; returns
    (messages, turns dropped). If even the system messages and the last user turn do not fit, that is what
    is returned (the engine then reports the overflow)."""
    msgs = list(messages)
    last_user = max((i for i, m in enumerate(msgs) if m.role == "user"), default=-1)
    if last_user < 0:
        return msgs, 0
    query = msgs[last_user].content
    # a turn = a user message and the assistant/tool messages that follow it, before the last user message
    turns: list[list[int]] = []
    for i, m in enumerate(msgs[:last_user]):
        if m.role == "system":
            continue
        if m.role == "user" or not turns:
            turns.append([i])
        else:
            turns[-1].append(i)
    order = sorted(
        range(len(turns)), key=lambda t: (relevance(" ".join(msgs[i].content for i in turns[t]), query), t)
    )
    dropped: set[int] = set()
    n = 0
    for t in order:
        if count([m for i, m in enumerate(msgs) if i not in dropped]) <= budget:
            break
        dropped.update(turns[t])
        n += 1
    return [m for i, m in enumerate(msgs) if i not in dropped], n


__all__ = ["fit_evidence", "fit_history", "relevance"]
