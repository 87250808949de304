"""Check claims against evidence, gate on relevance, and pick extractive quotes.

Support of a claim by an evidence sentence mixes two signals, each in [0, 1]:
  lexical  = share of the claim's content words present in the sentence (catches exact facts, names, commands)
  semantic = cosine similarity of MiniLM sentence embeddings (catches paraphrase)
  support  = LEXICAL_WEIGHT * lexical + (1 - LEXICAL_WEIGHT) * max(semantic, 0)
A claim is supported when its best sentence scores >= ``Thresholds.claim``. The thresholds were calibrated
on the debian-faq dev set (bench/answer.py, docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from genloom.answer.injection import looks_like_injection
from genloom.answer.text import Span, content_words, overlap, sentences, strip_markers

LEXICAL_WEIGHT = 0.5


class Embeds(Protocol):
    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class Thresholds:
    relevance: float = 0.42  # below this the best evidence does not match the question: refuse
    claim: float = 0.55  # a claim needs this much support to stay in the answer
    min_supported: float = 0.5  # share of a generated answer's claims that must be supported, else fall back
    extract: float = 0.42  # an extractive quote needs this much relevance to the question


@dataclass(slots=True)
class Passage:
    """One retrieved chunk as numbered evidence."""

    n: int
    hit: Any  # genloom Hit: doc_id, source, chunk_id, start, end, text, heading_path, title
    sentences: list[Span]


@dataclass(slots=True)
class Match:
    passage: Passage
    span: Span
    score: float


class Evidence:
    """The numbered passages with every sentence embedded once."""

    def __init__(self, hits: Sequence[Any], embedder: Embeds) -> None:
        self.passages = []
        self.ignored: list[Span] = []  # instruction-like sentences: never evidence, never quoted
        for i, h in enumerate(hits):
            spans = sentences(h.text, h.start)
            self.ignored += [s for s in spans if looks_like_injection(s.text)]
            self.passages.append(Passage(i + 1, h, [s for s in spans if not looks_like_injection(s.text)]))
        self._flat: list[tuple[Passage, Span]] = [(p, s) for p in self.passages for s in p.sentences]
        self._embedder = embedder
        texts = [s.text for _, s in self._flat]
        self._vecs = embedder.embed_documents(texts) if texts else np.zeros((0, 1), dtype=np.float32)
        self._words = [content_words(t) for t in texts]

    def __len__(self) -> int:
        return len(self._flat)

    def _scores(self, text: str, only: set[int] | None = None) -> np.ndarray:
        if not self._flat:
            return np.zeros(0, dtype=np.float32)
        q = self._embedder.embed_documents([text])[0]
        sem = np.clip(self._vecs @ q, 0.0, 1.0)
        words = content_words(text)
        lex = np.array([len(words & w) / len(words) if words else 0.0 for w in self._words], dtype=np.float32)
        scores = LEXICAL_WEIGHT * lex + (1 - LEXICAL_WEIGHT) * sem
        if only is not None:
            mask = np.array([p.n in only for p, _ in self._flat])
            scores = np.where(mask, scores, -1.0)
        return scores

    def best(self, text: str, only: set[int] | None = None) -> Match | None:
        scores = self._scores(text, only)
        if scores.size == 0 or scores.max() < 0:
            return None
        i = int(scores.argmax())
        p, s = self._flat[i]
        return Match(p, s, float(scores[i]))

    def relevance(self, question: str) -> Match | None:
        """The evidence sentence that best matches the question (statements only, not other questions)."""
        scores = self._scores(question)
        for i in np.argsort(-scores):
            p, s = self._flat[int(i)]
            if not _is_question(s.text):
                return Match(p, s, float(scores[int(i)]))
        return None

    def check(self, claim: str, cited: Sequence[int]) -> Match | None:
        """Best support for a claim: among the passages it cites, unless another passage supports it better."""
        text = strip_markers(claim)
        anywhere = self.best(text)
        if cited:
            in_cited = self.best(text, set(cited))
            if in_cited is not None and (anywhere is None or in_cited.score >= anywhere.score - 0.05):
                return in_cited
        return anywhere

    def extract(self, question: str, threshold: float, max_words: int = 70) -> list[Match]:
        """Quote the passage sentences that answer the question best: the top sentence and what follows it."""
        top = self.relevance(question)
        if top is None or top.score < threshold:
            return []
        p = top.passage
        i = p.sentences.index(top.span)
        picked = [top]
        words = len(top.span.text.split())
        for s in p.sentences[i + 1 :]:
            n = len(s.text.split())
            if _is_question(s.text) or words + n > max_words:
                break
            picked.append(Match(p, s, overlap(question, s.text)))
            words += n
        return picked


def _is_question(text: str) -> bool:
    return text.rstrip().endswith("?")
