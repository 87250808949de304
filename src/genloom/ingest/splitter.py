"""Structure-aware chunking: heading sections → paragraphs → sentences → words, packed to a token budget
with overlap. Every chunk is a contiguous span ``text[start:end]`` of the extracted text, so a citation can
point at it exactly.

Token budget proxy: ``proxy_tokens`` counts words and punctuation marks, and one extra token per 6
characters of a long word. MiniLM's WordPiece splits rare/long words into pieces, and this tracks that count
closely enough for English prose and code-ish docs without loading a tokenizer (which would tie the splitter
to one embedder and cost time on every chunk). The default budget (200) stays under MiniLM's 256-piece window.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from genloom.ingest.extracted import Extracted

_TOKEN = re.compile(r"\w+|[^\w\s]")
_PARA = re.compile(r"\n[ \t]*\n\s*")
_SENT_END = re.compile(r"(?<=[.!?;:])\s+|\n")
_WORD = re.compile(r"\S+")


def proxy_tokens(text: str) -> int:
    n = 0
    for m in _TOKEN.finditer(text):
        n += 1 + (m.end() - m.start() - 1) // 6
    return n


@dataclass(slots=True)
class Span:
    start: int
    end: int
    heading_path: list[str]


@dataclass(slots=True)
class _Unit:
    start: int
    end: int
    tokens: int
    para_start: bool


def _pieces(text: str, start: int, end: int, pattern: re.Pattern[str]) -> list[tuple[int, int]]:
    """Split ``text[start:end]`` at ``pattern`` matches; trim whitespace; drop empty pieces."""
    out = []
    pos = start
    for m in pattern.finditer(text, start, end):
        out.append((pos, m.start()))
        pos = m.end()
    out.append((pos, end))
    trimmed = []
    for s, e in out:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            trimmed.append((s, e))
    return trimmed


def _units(text: str, start: int, end: int, budget: int) -> list[_Unit]:
    units: list[_Unit] = []
    for ps, pe in _pieces(text, start, end, _PARA):
        first = True
        t = proxy_tokens(text[ps:pe])
        parts = [(ps, pe, t)] if t <= budget else _split_big(text, ps, pe, budget)
        for s, e, n in parts:
            units.append(_Unit(s, e, n, first))
            first = False
    return units


def _split_big(text: str, start: int, end: int, budget: int) -> list[tuple[int, int, int]]:
    out = []
    for ss, se in _pieces(text, start, end, _SENT_END):
        t = proxy_tokens(text[ss:se])
        if t <= budget:
            out.append((ss, se, t))
            continue
        # a run-on sentence: windows of words; a single giant "word" is cut by characters
        cur_s, cur_t, last_e = -1, 0, ss
        for m in _WORD.finditer(text, ss, se):
            wt = proxy_tokens(m.group())
            if wt > budget:
                if cur_s >= 0:
                    out.append((cur_s, last_e, cur_t))
                    cur_s, cur_t = -1, 0
                step = max(1, budget * 4)
                for cs in range(m.start(), m.end(), step):
                    ce = min(m.end(), cs + step)
                    out.append((cs, ce, proxy_tokens(text[cs:ce])))
                last_e = m.end()
                continue
            if cur_s >= 0 and cur_t + wt > budget:
                out.append((cur_s, last_e, cur_t))
                cur_s, cur_t = -1, 0
            if cur_s < 0:
                cur_s = m.start()
            cur_t += wt
            last_e = m.end()
        if cur_s >= 0:
            out.append((cur_s, last_e, cur_t))
    return out


def _tail(text: str, start: int, end: int, overlap: int) -> tuple[int, int]:
    """Start offset and tokens of the trailing sentences of ``text[start:end]`` worth <= overlap tokens."""
    if overlap <= 0:
        return -1, 0
    sentences = _pieces(text, start, end, _SENT_END)
    back, pos = 0, end
    for ss, se in reversed(sentences[1:]):  # never the whole chunk
        t = proxy_tokens(text[ss:se])
        if back + t > overlap:
            break
        back, pos = back + t, ss
    return (pos, back) if back else (-1, 0)


def split(doc: Extracted, budget: int = 200, overlap: int = 30) -> list[Span]:
    """Chunk spans of ``doc.text``; chunks never cross a heading section. Consecutive chunks of a section
    share up to ``overlap`` tokens of whole sentences."""
    spans: list[Span] = []
    text = doc.text
    for s0, s1, path in doc.spans():
        units = _units(text, s0, s1, budget)
        i, carry_start, carry = 0, -1, 0
        while i < len(units):
            room = budget - carry
            j, total = i, 0
            while j < len(units) and total + units[j].tokens <= room:
                # prefer to end at a paragraph boundary once the chunk is reasonably full
                if j > i and units[j].para_start and total >= room * 0.6:
                    para_total = total + units[j].tokens
                    k = j + 1
                    while k < len(units) and not units[k].para_start:
                        para_total += units[k].tokens
                        k += 1
                    if para_total > room:
                        break
                total += units[j].tokens
                j += 1
            j = max(j, i + 1)
            start = carry_start if 0 <= carry_start < units[i].start else units[i].start
            end = units[j - 1].end
            spans.append(Span(start, end, list(path)))
            carry_start, carry = _tail(
                text, units[i].start, end, min(overlap, budget - units[j].tokens if j < len(units) else 0)
            )
            i = j
    return spans
