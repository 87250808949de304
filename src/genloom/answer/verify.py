"""Check claims against evidence, gate on relevance, and pick extractive quotes.

Support of a claim by an evidence sentence mixes two signals, each in [0, 1]:
  lexical  = share of the claim's content words present in the sentence (catches exact facts, names, commands)
  semantic = cosine similarity of MiniLM sentence embeddings (catches paraphrase)
  support  = LEXICAL_WEIGHT * lexical + (1 - LEXICAL_WEIGHT) * max(semantic, 0)
A claim is supported when its best sentence scores >= ``Thresholds.claim``. The thresholds were calibrated
on the debian-faq dev set (bench/answer.py, docs/benchmarks.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from genloom.answer.text import Span, content_words, overlap, sentences, strip_markers
from genloom.backends.embed import same_vectors
from genloom.guard.base import Finding
from genloom.guard.base import Span as GuardSpan
from genloom.guard.runner import GuardResult
from genloom.guard.runner import run as guard_run

LEXICAL_WEIGHT = 0.5
RANK_MARGIN = 0.15  # for quotes: prefer a higher-ranked passage when its best sentence is this close
SECTION_WEIGHT = 0.3  # for quotes: how much the passage's section heading counts beside the sentence itself


class Embeds(Protocol):
    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class Thresholds:
    relevance: float = 0.42  # below this the best evidence does not match the question: refuse
    # and below this the question's meaning matches no statement, whatever words they share (issue 18:
    # "boiling point of mercury" vs Python's enum example of planet constants). None: the value calibrated
    # for the knowledge base's embedder (SEMANTIC_GATES), none for an embedder nobody calibrated
    semantic: float | None = None
    # a question with a foreign aspect (answer/aspects.py: a word neither the evidence nor the KB has, scoring
    # below ``aspect``) needs relevance >= ``aspect_relevance`` to be answered. None: ASPECT_GATES
    aspect: float | None = None
    aspect_relevance: float | None = None

    claim: float = 0.55  # a claim needs this much support to stay in the answer
    min_supported: float = 0.5  # share of a generated answer's claims that must be supported, else fall back
    extract: float = 0.42  # an extractive quote needs this much relevance to the question

    def semantic_for(self, embedder_id: str) -> float:
        if self.semantic is not None:
            return self.semantic
        return SEMANTIC_GATES.get(embedder_family(embedder_id), 0.0)

    def aspect_for(self, embedder_id: str) -> tuple[float, float]:
        """(aspect score, relevance needed with a foreign aspect); (0, 0) turns the check off."""
        score, rel = ASPECT_GATES.get(embedder_family(embedder_id), (0.0, 0.0))
        return (score if self.aspect is None else self.aspect,
                rel if self.aspect_relevance is None else self.aspect_relevance)  # fmt: skip


# gates by embedder family, each calibrated by bench/refusal.py (docs/benchmarks.md); cosine scales differ
# between embedders, so a value never carries over to another one
SEMANTIC_GATES = {"minilm": 0.44}
ASPECT_GATES = {"minilm": (0.86, 0.49)}  # (aspect score, relevance that exempts a match)


def embedder_family(embedder_id: str) -> str:
    """The calibration family of an embedder id: embedders that make the same vectors share one ("onnx:", the
    default, is MiniLM on ONNX Runtime: same vectors as "minilm:"); otherwise the id's scheme."""
    return "minilm" if same_vectors(embedder_id, "minilm:") else embedder_id.split(":", 1)[0]


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
    """The numbered passages with every sentence embedded once.

    Each passage first goes through the ``evidence`` guards (genloom.guard: prompt-injection rules by default;
    ``screen`` replaces them, e.g. a policy of other settings): a sentence that overlaps a span they flag is
    never evidence and never quoted (``ignored``), and their findings are kept in ``findings``."""

    def __init__(
        self, hits: Sequence[Any], embedder: Embeds, screen: Callable[[str], GuardResult] | None = None
    ) -> None:
        check = screen or (lambda text: guard_run("evidence", text))
        self.passages = []
        self.ignored: list[Span] = []  # instruction-like sentences: never evidence, never quoted
        self.findings: list[Finding] = []
        for i, h in enumerate(hits):
            spans = sentences(h.text, h.start)
            r = check(h.text)
            self.findings += r.findings
            bad = [(s.start + h.start, s.end + h.start) for f in r.findings if f.action != "allow" for s in
                   (f.spans or (GuardSpan(0, len(h.text), f.category),))]  # fmt: skip
            flagged = [s for s in spans if any(a < s.end and s.start < b for a, b in bad)]
            self.ignored += flagged
            self.passages.append(Passage(i + 1, h, [s for s in spans if s not in flagged]))
        self._flat: list[tuple[Passage, Span]] = [(p, s) for p in self.passages for s in p.sentences]
        self._embedder = embedder
        texts = [s.text for _, s in self._flat]
        # each passage's section ("title > heading") is embedded with the sentences, in the same batch
        sections = [" > ".join([p.hit.title, *p.hit.heading_path[-1:]]) for p in self.passages]
        vecs = embedder.embed_documents(texts + sections) if texts else np.zeros((0, 1), dtype=np.float32)
        self._vecs, self._section_vecs = vecs[: len(texts)], vecs[len(texts) :]
        self._words = [content_words(t) for t in texts]
        self._section_words = [content_words(t) for t in sections]
        self._section_of = np.array([self.passages.index(p) for p, _ in self._flat], dtype=np.int64)

    def __len__(self) -> int:
        return len(self._flat)

    def _scores(self, text: str, only: set[int] | None = None, with_section: bool = False) -> np.ndarray:
        if not self._flat:
            return np.zeros(0, dtype=np.float32)
        q = self._embedder.embed_documents([text])[0]
        words = content_words(text)
        scores = _mix(q, words, self._vecs, self._words)
        if with_section:  # a sentence inside a section about the question is a better quote
            section = _mix(q, words, self._section_vecs, self._section_words)
            scores = (1 - SECTION_WEIGHT) * scores + SECTION_WEIGHT * section[self._section_of]
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

    def relevance(self, question: str, with_section: bool = False) -> Match | None:
        """The evidence statement that best matches the question (not other questions or cross-references)."""
        scores = self._scores(question, with_section=with_section)
        for i in np.argsort(-scores):
            p, s = self._flat[int(i)]
            if _is_statement(s.text):
                return Match(p, s, float(scores[int(i)]))
        return None

    def semantic(self, question: str) -> float:
        """The highest meaning-only similarity (embedding cosine) of the question to an evidence statement:
        no credit for shared words, so a question that only borrows the corpus's vocabulary scores low."""
        if not self._flat:
            return 0.0
        sims = self._vecs @ self._embedder.embed_documents([question])[0]
        statements = [i for i, (_, s) in enumerate(self._flat) if _is_statement(s.text)]
        return float(np.clip(sims[statements], 0.0, 1.0).max()) if statements else 0.0

    def key_sentences(self, question: str, n: int) -> dict[int, list[Span]]:
        """The ``n`` statements most relevant to the question, grouped by passage, in document order.

        Used to build a compact prompt: prompt processing dominates time to first token on a CPU, and a
        small model follows a few on-topic sentences better than five whole chunks.
        """
        scores = self._scores(question, with_section=True)
        ranked = [i for i in np.argsort(-scores) if _is_statement(self._flat[int(i)][1].text)][:n]
        keep: dict[int, list[Span]] = {}
        for i in sorted(int(i) for i in ranked):
            p, s = self._flat[i]
            keep.setdefault(p.n, []).append(s)
        return keep

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
        """Quote the evidence that answers the question: a top sentence and the statements that follow it.

        Retrieval saw whole chunks and ranked them; sentence scores pick the span. So the quote comes from the
        highest-ranked passage whose best statement is within RANK_MARGIN of the best statement anywhere.
        """
        scores = self._scores(question, with_section=True)
        # the threshold applies to the sentence itself or to it in its section, whichever is higher
        passes = np.maximum(scores, self._scores(question)) >= threshold
        best_in: dict[int, int] = {}
        for i, (p, s) in enumerate(self._flat):
            if _is_statement(s.text) and (p.n not in best_in or scores[i] > scores[best_in[p.n]]):
                best_in[p.n] = i
        if not best_in:
            return []
        best_in = {n: i for n, i in best_in.items() if passes[i]}
        if not best_in:
            return []
        top = max(float(scores[i]) for i in best_in.values())
        n = min(n for n, i in best_in.items() if scores[i] >= top - RANK_MARGIN)
        i = best_in[n]
        p, first = self._flat[i]
        picked = [Match(p, first, float(scores[i]))]
        words = len(first.text.split())
        for s in p.sentences[p.sentences.index(first) + 1 :]:
            k = len(s.text.split())
            if not _is_statement(s.text) or words + k > max_words:
                break
            picked.append(Match(p, s, overlap(question, s.text)))
            words += k
        return picked


_REFERENCE = re.compile(
    r"^\W*(for (more|further) (information|details),? )?see (also )?(section|chapter)", re.I
)


def _is_statement(text: str) -> bool:
    """Quotable: not a question (FAQ headings are questions) and not a bare cross-reference."""
    return not text.rstrip().endswith("?") and not _REFERENCE.match(text)


def _mix(q: np.ndarray, words: set[str], vecs: np.ndarray, wordsets: list[set[str]]) -> np.ndarray:
    sem = np.clip(vecs @ q, 0.0, 1.0)
    lex = np.array([len(words & w) / len(words) if words else 0.0 for w in wordsets], dtype=np.float32)
    return LEXICAL_WEIGHT * lex + (1 - LEXICAL_WEIGHT) * sem
