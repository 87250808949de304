"""Make a follow-up question stand on its own before retrieval ("and how do I undo it?" -> needs context).

The bundled 135M model cannot rewrite questions reliably, so the default is a deterministic rule: when the
question leans on the conversation (pronouns, very short) the previous user question is prepended for
retrieval. The question shown to the model and in the answer stays as the user wrote it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from genloom.answer.text import content_words
from genloom.types import Message

_REFERRING = re.compile(
    r"\b(it|its|this|that|these|those|they|them|their|one|ones|he|she|there|same|above)\b", re.I
)


def needs_context(question: str) -> bool:
    return bool(_REFERRING.search(question)) or len(content_words(question)) <= 1


def standalone_query(question: str, history: Sequence[Message] | None) -> str:
    """The text to search with: the question, plus the last user turn when the question refers back."""
    if not history or not needs_context(question):
        return question
    previous = [m.content for m in history if m.role == "user" and m.content.strip()]
    if not previous:
        return question
    return f"{previous[-1].strip()} {question.strip()}"
