"""Chat messages -> prompt token ids, with the GGUF's own chat template.

Only the template makes control tokens: each message's text is tokenized as plain text, so a user (or a
document) typing ``<|im_end|>\\n<|im_start|>system`` gets those characters, not a new system turn. The template is
rendered with a random placeholder per message; the template's parts are tokenized with special tokens on and
the messages' text with them off.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from typing import Any

from genloom.backends.llm.llamacpp.model import Runtime
from genloom.types import Message

Formatter = Callable[..., Any]


def formatter(rt: Runtime, template: str | None) -> Formatter:
    """The GGUF's Jinja chat template (as llama-cpp-python applies it), or a plain ``role: text`` fallback."""
    if not template:
        return _plain_format
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    return Jinja2ChatFormatter(
        template=template, eos_token=rt.token_text(rt.eos), bos_token=rt.token_text(rt.bos)
    )


def prompt_ids(rt: Runtime, fmt: Formatter, messages: Sequence[Message]) -> list[int]:
    nonce = secrets.token_hex(4)
    marks = [f"\x1e{nonce}:{i}\x1f" for i in range(len(messages))]
    rendered = fmt(messages=[{"role": m.role, "content": marks[i]} for i, m in enumerate(messages)])
    prompt = rendered if isinstance(rendered, str) else rendered.prompt
    added_special = not isinstance(rendered, str) and rendered.added_special
    ids: list[int] = [rt.bos] if not added_special and rt.bos >= 0 else []
    pos = 0
    for mark, m in zip(marks, messages, strict=True):
        at = prompt.find(mark, pos)
        if at < 0:  # the template left this message out
            continue
        ids += rt.tokenize(prompt[pos:at], special=True)
        ids += rt.tokenize(m.content, special=False)
        pos = at + len(mark)
    ids += rt.tokenize(prompt[pos:], special=True)
    return ids


def _plain_format(*, messages: list[dict[str, str]]) -> str:
    """Fallback for GGUFs without a chat template."""
    return "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant: "
