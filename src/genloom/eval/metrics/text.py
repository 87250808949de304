"""Answer-vs-reference text metrics: exact match, token F1 (SQuAD-style), ROUGE-L, BLEU and chrF.

Normalization (for exact match, F1 and ROUGE-L): lower case, citation markers ``[n]`` and punctuation
removed, articles (a, an, the) dropped, whitespace collapsed. BLEU and chrF come from sacrebleu with its
defaults (13a tokenization; BLEU with exponential smoothing at sentence level) on the raw texts without
citation markers, so figures are comparable with other sacrebleu users.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from typing import Any

_MARKER = re.compile(r"\s*\[\d+\]")
_ARTICLES = {"a", "an", "the"}


def strip_citations(text: str) -> str:
    return re.sub(r"\s+", " ", _MARKER.sub("", text)).strip()


def normalize_tokens(text: str) -> list[str]:
    text = strip_citations(text).lower()
    text = "".join(" " if unicodedata.category(ch).startswith("P") else ch for ch in text)
    return [w for w in text.split() if w not in _ARTICLES]


def exact_match(prediction: str, reference: str) -> float:
    return 1.0 if normalize_tokens(prediction) == normalize_tokens(reference) else 0.0


def token_f1(prediction: str, reference: str) -> float:
    p, r = normalize_tokens(prediction), normalize_tokens(reference)
    if not p or not r:
        return 1.0 if p == r else 0.0
    common = sum((Counter(p) & Counter(r)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(r)
    return 2 * precision * recall / (precision + recall)


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence (dynamic programming, one row at a time)."""
    if not a or not b:
        return 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, start=1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F1 (beta = 1) over normalized tokens."""
    p, r = normalize_tokens(prediction), normalize_tokens(reference)
    lcs = lcs_length(p, r)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(p), lcs / len(r)
    return 2 * precision * recall / (precision + recall)


def _sacrebleu() -> Any:
    import sacrebleu  # a core dependency; imported on first use (it loads regex tables)

    return sacrebleu


def sentence_bleu(prediction: str, reference: str) -> float:
    """BLEU of one answer, 0..100."""
    return float(_sacrebleu().sentence_bleu(strip_citations(prediction), [reference]).score)


def sentence_chrf(prediction: str, reference: str) -> float:
    """chrF of one answer, 0..100."""
    return float(_sacrebleu().sentence_chrf(strip_citations(prediction), [reference]).score)


def corpus_bleu(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU, 0..100 (n-gram statistics summed over all answers, as BLEU is defined)."""
    return float(
        _sacrebleu().corpus_bleu([strip_citations(p) for p in predictions], [list(references)]).score
    )


def corpus_chrf(predictions: Sequence[str], references: Sequence[str]) -> float:
    return float(
        _sacrebleu().corpus_chrf([strip_citations(p) for p in predictions], [list(references)]).score
    )
