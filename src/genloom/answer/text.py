"""Sentence splitting with offsets, citation markers, and the crude word normalisation used for overlap.

Kept dependency-free and deterministic: the same text always splits the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# a sentence ends at . ! ? (optionally followed by quotes/brackets/citation markers) then whitespace,
# or at a blank line / line break before a list item
_BOUNDARY = re.compile(
    r"(?<=[.!?])(?<!\b\d\.)(?<!\b\d\d\.)([\"')\]]*(?:\s*\[\d+(?:\s*,\s*\d+)*\])*)\s+|\n\s*\n+|\n(?=\s*(?:[-*•]|\d+[.)])\s)"
)
_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'_-]*")

STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "also",
        "may",
        "might",
        "must",
        "shall",
        "can't",
        "don't",
        "doesn't",
        "isn't",
        "i'm",
        "you're",
        "it's",
        "there's",
        "let's",
        "one",
        "ones",
        "use",
        "used",
        "using",
        "get",
        "got",
    ]
)


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    text: str


def sentences(text: str, offset: int = 0) -> list[Span]:
    """Split into sentences; each Span's offsets are into the original text, shifted by ``offset``."""
    out: list[Span] = []
    pos = 0
    for m in _BOUNDARY.finditer(text):
        end = m.end(1) if m.group(1) is not None else m.start()  # keep closing quotes and [n] markers
        _add(out, text, pos, end, offset)
        pos = m.end()
    _add(out, text, pos, len(text), offset)
    return out


def _add(out: list[Span], text: str, a: int, b: int, offset: int) -> None:
    seg = text[a:b]
    stripped = seg.strip()
    if not stripped:
        return
    lead = len(seg) - len(seg.lstrip())
    start = a + lead
    out.append(Span(offset + start, offset + start + len(stripped), stripped))


def markers(text: str) -> list[int]:
    """Citation numbers in order of appearance: 'x [1] y [2, 3]' -> [1, 2, 3]."""
    found: list[int] = []
    for m in _MARKER.finditer(text):
        for n in m.group(1).split(","):
            k = int(n)
            if k not in found:
                found.append(k)
    return found


def strip_markers(text: str) -> str:
    return re.sub(r"\s+([.!?,;:])", r"\1", _MARKER.sub("", text)).strip()


def _stem(w: str) -> str:
    """Crude, deterministic: plural, -ing/-ed, then a final e ('packages', 'package' -> 'packag')."""
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("sses"):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")) and len(w) > 3:
        w = w[:-1]
    for suf in ("ing", "ed"):
        if w.endswith(suf) and len(w) > len(suf) + 2:
            w = w[: -len(suf)]
            break
    return w[:-1] if w.endswith("e") and len(w) > 3 else w


def content_tokens(text: str) -> list[tuple[str, str]]:
    """The words that carry meaning, in order and de-duplicated, each as (lower-cased word, crude stem):
    no stopwords, no 1-letter tokens, no quote or dash at either end ("'foo-data'" -> "foo-data")."""
    seen: dict[str, str] = {}
    for t in _WORD.findall(text):
        w = t.lower().strip("'-")
        if w not in STOPWORDS and len(w) > 1:
            seen.setdefault(w, _stem(w))
    return list(seen.items())


def content_words(text: str) -> set[str]:
    """Lower-cased, crudely stemmed words that carry meaning (no stopwords, no 1-letter tokens)."""
    return {_stem(w) for w in (t.lower() for t in _WORD.findall(text)) if w not in STOPWORDS and len(w) > 1}


def overlap(claim: str, evidence: str) -> float:
    """Share of the claim's content words found in the evidence (0..1; 0 for a claim without any)."""
    c = content_words(claim)
    return len(c & content_words(evidence)) / len(c) if c else 0.0
