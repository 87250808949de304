"""Prompts and labels -> a class of a conditional model.

    label_for("a handwritten 7", ["0", ..., "9"])   # 7
    label_for("Seven, please", ["0", ..., "9"])     # 7 (number words name digit classes)
    label_for("", classes)                          # None: no class (unconditional sampling)

A class is named by its name as a whole word (case-insensitive). A prompt that names no class, or two, is an
error that lists the classes: a prompt is never silently ignored.
"""

from __future__ import annotations

import re

from genloom.errors import UserError

NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def _names(cls: str) -> list[str]:
    out = [cls.lower()]
    if cls.isdigit() and int(cls) < len(NUMBER_WORDS):
        out.append(NUMBER_WORDS[int(cls)])
    return out


def _listing(classes: list[str]) -> str:
    shown = ", ".join(classes[:20]) + (", ..." if len(classes) > 20 else "")
    return f"the model's classes are: {shown}"


def label_for(prompt: str | None, classes: list[str]) -> int | None:
    text = (prompt or "").strip().lower()
    if not text:
        return None
    if not classes:
        raise UserError("this model is unconditional: it cannot draw what a prompt asks for",
                        hint="send an empty prompt, or train a ddpm model on labelled data")  # fmt: skip
    found = set()
    for i, cls in enumerate(classes):
        for name in _names(cls):
            if re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", text):
                found.add(i)
    if not found:
        raise UserError(f"the prompt {prompt!r} names none of the model's classes", hint=_listing(classes))
    if len(found) > 1:
        names = ", ".join(classes[i] for i in sorted(found))
        raise UserError(f"the prompt {prompt!r} names more than one class ({names})",
                        hint="ask for one class per request")  # fmt: skip
    return found.pop()


def parse_label(value: str, classes: list[str]) -> int:
    """A ``--label``: a class name, or its index."""
    if value in classes:
        return classes.index(value)
    if value.isdigit() and int(value) < len(classes):
        return int(value)
    if not classes:
        raise UserError("this model is unconditional: it has no labels", hint="drop --label")
    raise UserError(f"unknown label {value!r}", hint=_listing(classes))
