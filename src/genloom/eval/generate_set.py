"""Bootstrap an evaluation set from a knowledge base, for people with no labeled data yet.

Question candidates come from the documents themselves:
  - headings: a heading that is a question ("How do I hold a package?") is used as is; another heading H
    becomes "What does the documentation say about H?"; the reference answer is the section's first statement;
  - sentences: "To X, Y." becomes "How do I X?" and "X is a/the Y." becomes "What is X?", with the sentence
    as the reference answer.
The gold source is the document the candidate came from (its file name) and the gold section its heading
path. Every case is marked ``"synthetic": true`` and tagged ``synthetic``: the questions echo the documents'
wording, so scores on them are optimistic -- useful to catch regressions, not to claim quality.
Deterministic: candidates are collected in document order and sampled with a seeded RNG.
"""

from __future__ import annotations

import hashlib
import random
import re
from pathlib import Path
from typing import Any

from genloom.answer.text import sentences
from genloom.errors import UserError

_NUMBERING = re.compile(r"^\s*(\d+(\.\d+)*\.?|[A-Z]\.)\s+")
_TO = re.compile(r"^To ([a-z][^,]{8,80}), (.+)$")
# a definition: "X is a/an/the Y" (not "X is kept in ...", which is no definition)
_IS = re.compile(r"^((?:The |A |An )?[A-Za-z][\w .'/+-]{2,50}?) (is|are) (an? |the )(.{10,})$")


def _statement(text: str) -> bool:
    words = text.split()
    return 6 <= len(words) <= 45 and text.rstrip().endswith(".") and "?" not in text


def _clean_lines(text: str, headings: set[str]) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    return " ".join(ln.strip() for ln in lines if ln.strip() not in headings)


def candidates(kb: Any) -> list[dict[str, Any]]:
    """Every question candidate in the KB, in document order, before sampling."""
    out: list[dict[str, Any]] = []
    seen_q: set[str] = set()
    for doc in sorted(kb.documents(), key=lambda d: d.source):
        name = Path(doc.source).name
        seen_sent: set[str] = set()
        seen_heading: set[tuple[str, ...]] = set()
        for chunk in kb.chunks(doc.doc_id):
            path = tuple(chunk.heading_path)
            body = [s.text.strip() for s in sentences(_clean_lines(chunk.text, set(path)))]
            body = [s for s in body if _statement(s)]
            if path and path not in seen_heading and body:
                seen_heading.add(path)
                h = _NUMBERING.sub("", path[-1]).strip()
                q = (
                    h
                    if h.endswith("?")
                    else f"What does the documentation say about {h[:1].lower() + h[1:]}?"
                )
                out.append(_case(q, body[0], name, path, "from-heading"))
            for s in body:
                if s in seen_sent:
                    continue
                seen_sent.add(s)
                made = _question_from(s)
                if made:
                    out.append(_case(made, s, name, path, "from-sentence"))
    unique = []
    for c in out:  # the same question from two places is ambiguous: keep the first
        if c["question"].lower() not in seen_q:
            seen_q.add(c["question"].lower())
            unique.append(c)
    return unique


def _question_from(sentence: str) -> str | None:
    m = _TO.match(sentence)
    if m:
        return f"How do I {m.group(1).strip()}?"
    m = _IS.match(sentence)
    if m and len(m.group(1).split()) <= 6:
        subject = m.group(1)
        subject = subject[:1].lower() + subject[1:] if subject.split()[0] in ("The", "A", "An") else subject
        return f"What {m.group(2)} {subject}?"
    return None


def _case(question: str, answer: str, source: str, path: tuple[str, ...], kind: str) -> dict[str, Any]:
    cid = "syn-" + hashlib.sha1(f"{source}\n{question}".encode()).hexdigest()[:10]
    return {
        "id": cid,
        "question": question,
        "answer": answer,
        "gold_sources": [source],
        "gold_section": " > ".join(path),
        "should_refuse": False,
        "tags": sorted(["synthetic", kind]),
        "synthetic": True,
    }


def generate_set(kb: Any, n: int = 50, seed: int = 0) -> list[dict[str, Any]]:
    """Up to ``n`` synthetic cases sampled (seeded) from the KB's candidates, in document order."""
    if n < 1:
        raise UserError(f"n must be at least 1, got {n}", hint="pass -n 50")
    pool = candidates(kb)
    if not pool:
        raise UserError(
            "found no question candidates in this knowledge base",
            hint="it needs headings or plain statements; add documents with genloom ingest PATH",
        )
    rng = random.Random(seed)
    picked = sorted(rng.sample(range(len(pool)), min(n, len(pool))))
    return [pool[i] for i in picked]
