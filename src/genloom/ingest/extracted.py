"""What a loader produces: the extracted text plus where each heading section starts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Section:
    start: int  # offset into Extracted.text; the section runs to the next section's start
    heading_path: list[str]


@dataclass(slots=True)
class Extracted:
    text: str
    title: str
    sections: list[Section] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    def spans(self) -> list[tuple[int, int, list[str]]]:
        """``(start, end, heading_path)`` for every section, covering the whole text."""
        secs = sorted(self.sections, key=lambda s: s.start) or [Section(0, [])]
        if secs[0].start > 0:
            secs.insert(0, Section(0, []))
        out = []
        for i, s in enumerate(secs):
            end = secs[i + 1].start if i + 1 < len(secs) else len(self.text)
            if end > s.start:
                out.append((s.start, end, s.heading_path))
        return out


class TextBuilder:
    """Builds text block by block (blank line between blocks) and tracks the heading path."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._len = 0
        self._path: list[tuple[int, str]] = []  # (level, heading)
        self.sections: list[Section] = []

    def _append(self, block: str) -> int:
        if self._parts:
            self._parts.append("\n\n")
            self._len += 2
        start = self._len
        self._parts.append(block)
        self._len += len(block)
        return start

    def block(self, text: str) -> None:
        text = text.strip()
        if text:
            self._append(text)

    def heading(self, level: int, text: str) -> None:
        text = " ".join(text.split())
        if not text:
            return
        while self._path and self._path[-1][0] >= level:
            self._path.pop()
        self._path.append((level, text))
        start = self._append(text)
        self.sections.append(Section(start, [h for _, h in self._path]))

    @property
    def text(self) -> str:
        return "".join(self._parts)
