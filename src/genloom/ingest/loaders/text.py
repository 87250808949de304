"""Plain text and Markdown. Markdown keeps its source text; ATX headings (``#``..``######``) outside code
fences start sections, so offsets point into the file as written."""

from __future__ import annotations

import re
from pathlib import Path

from genloom.ingest import limits
from genloom.ingest.encoding import decode_text
from genloom.ingest.extracted import Extracted, Section

_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)[ \t#]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


def load_txt(data: bytes, path: Path) -> Extracted:
    text, enc = decode_text(data)
    limits.current().chars(len(text))
    return Extracted(text, path.name, [Section(0, [])], {"encoding": enc})


def load_markdown(data: bytes, path: Path) -> Extracted:
    text, enc = decode_text(data)
    budget = limits.current()
    budget.chars(len(text))
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    in_fence = False
    offset = 0
    title = ""
    for line in text.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and (m := _ATX.match(line)):
            level, heading = len(m.group(1)), m.group(2).strip()
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, heading))
            budget.elements()
            sections.append(Section(offset, [h for _, h in stack]))
            if level == 1 and not title:
                title = heading
        offset += len(line) + 1
    return Extracted(text, title or path.name, sections, {"encoding": enc})
