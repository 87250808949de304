"""Chunks are exact spans, respect the budget and the heading sections, and overlap by whole sentences."""

from __future__ import annotations

import itertools
import random

from genloom.ingest.extracted import Extracted, Section
from genloom.ingest.splitter import proxy_tokens, split


def _doc(seed: int = 0) -> Extracted:
    rng = random.Random(seed)
    words = [
        "the",
        "quick",
        "brown",
        "fox",
        "jumps",
        "over",
        "lazy",
        "dogs",
        "while",
        "postgres",
        "vacuums",
        "tables",
        "and",
        "indexes",
    ]
    parts, sections = [], []
    pos = 0
    for s in range(6):
        head = f"Section {s}"
        sections.append(Section(pos, [head]))
        body = [head]
        for _ in range(rng.randint(1, 6)):
            sentences = [
                " ".join(rng.choices(words, k=rng.randint(3, 25))).capitalize() + "."
                for _ in range(rng.randint(1, 8))
            ]
            body.append(" ".join(sentences))
        block = "\n\n".join(body) + "\n\n"
        parts.append(block)
        pos += len(block)
    return Extracted("".join(parts), "t", sections)


def test_chunks_are_exact_spans_within_budget_and_sections():
    for seed in range(5):
        doc = _doc(seed)
        spans = split(doc, budget=60, overlap=10)
        assert spans
        bounds = doc.spans()
        for sp in spans:
            piece = doc.text[sp.start : sp.end]
            assert piece == piece.strip() and piece
            assert proxy_tokens(piece) <= 60
            ((_, s1, path),) = [b for b in bounds if b[0] <= sp.start < b[1]]
            assert sp.end <= s1 and sp.heading_path == path  # never crosses a heading
        # every word of the text is in some chunk
        covered = set()
        for sp in spans:
            covered.update(range(sp.start, sp.end))
        assert all(i in covered for i, ch in enumerate(doc.text) if not ch.isspace())


def test_overlap_repeats_trailing_sentences():
    text = " ".join(f"Sentence number {i} is here." for i in range(60))
    spans = split(Extracted(text, "t", [Section(0, [])]), budget=40, overlap=12)
    assert len(spans) > 3
    for a, b in itertools.pairwise(spans):
        assert b.start < a.end  # overlaps
        assert proxy_tokens(text[b.start : a.end]) <= 12
    no_overlap = split(Extracted(text, "t", [Section(0, [])]), budget=40, overlap=0)
    for a, b in itertools.pairwise(no_overlap):
        assert b.start >= a.end


def test_giant_word_and_run_on_text_are_cut():
    text = "x" * 5000 + " " + " ".join(["word"] * 500)
    spans = split(Extracted(text, "t", []), budget=50, overlap=0)
    assert all(proxy_tokens(text[s.start : s.end]) <= 50 for s in spans)
    assert "".join(text[s.start : s.end] for s in spans).replace(" ", "") == text.replace(" ", "")


def test_paragraph_boundaries_preferred():
    paras = [(w + " ") * 30 + "." for w in ("Alpha", "Beta", "Gamma", "Delta")]
    text = "\n\n".join(p.strip() for p in paras)
    starts = {text.index(w) for w in ("Alpha", "Beta", "Gamma", "Delta")}
    spans = split(Extracted(text, "t", []), budget=70, overlap=0)
    assert len(spans) == 2
    assert all(s.start in starts for s in spans)  # chunks start at paragraphs, not mid-way
