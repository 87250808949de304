"""Does the evidence speak to what the question asks, or only to a word the question borrows? (issue 18)

"What is the boiling point of mercury?" against the Python enum howto retrieves ``MERCURY = (3.303e+23, ...)``:
the entity matches, by words and by meaning, but nothing there is about boiling. The relevance scores cannot
see that, because the entity dominates both the question's and the statement's embedding. So each word of the
question is checked on its own:

1. a word the evidence contains (same crude stem) is covered;
2. a word the knowledge base uses anywhere (``known``: a keyword lookup, the ACL applied) is not foreign to it:
   the retrieval may simply have missed its passage, which is not a reason to refuse;
3. any other word is a *foreign aspect* candidate: it is scored by how much of the question's meaning
   survives when the evidence's own vocabulary has to say it, i.e. the highest cosine between the question
   and the question with that word dropped or replaced by one of the ``CANDIDATES`` evidence words most
   similar to it (words the question already has are not stand-ins: "the mercury point of mercury"
   repeats the entity and says nothing about boiling).

A filler ("what *happens* if ...") can be dropped at almost no cost (score ~0.98); a paraphrase finds its
stand-in ("sortable" -> "ordered", 0.89); a property the evidence never mentions finds neither ("boiling"
-> 0.82). How low a score refuses is calibrated per embedder (verify.Thresholds, bench/refusal.py).
Only MiniLM-sized work: one batch of the evidence's words and a few short variants of the question, and only
for the foreign candidates (most in-domain questions have none).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from genloom.answer.text import content_tokens
from genloom.answer.verify import Embeds, Evidence

CANDIDATES = 8  # stand-ins tried per foreign word: its nearest evidence words by embedding


@dataclass(frozen=True, slots=True)
class Aspect:
    """A word of the question that neither the evidence nor the knowledge base contains."""

    word: str
    score: float  # cosine of the question with its best restatement without the word (1 = lost nothing)
    stand_in: str | None  # the evidence word of that restatement; None = the word was best dropped


def foreign_aspects(
    question: str, evidence: Evidence, embedder: Embeds, known: Callable[[str], bool]
) -> list[Aspect]:
    """The question's foreign aspects (see the module docstring), the least covered first; [] when every
    content word of the question is in the evidence (its usable sentences, titles and headings) or known to
    the knowledge base."""
    asked = content_tokens(question)
    text = " ".join(" ".join([p.hit.title, *p.hit.heading_path, *(s.text for s in p.sentences)])
                    for p in evidence.passages)  # fmt: skip
    vocab = content_tokens(text)
    have = {s for _, s in vocab}
    foreign = [w for w, s in asked if s not in have and not known(w)]
    if not foreign:
        return []
    own = {s for _, s in asked}
    stand_ins = [w for w, s in vocab if s not in own]
    vecs = embedder.embed_documents([question, *foreign, *stand_ins])
    q, words, pool = vecs[0], vecs[1 : 1 + len(foreign)], vecs[1 + len(foreign) :]
    out = []
    for word, wv in zip(foreign, words, strict=True):
        near = [stand_ins[int(i)] for i in np.argsort(-(pool @ wv))[:CANDIDATES]] if stand_ins else []
        options: list[str | None] = [None, *near]
        variants = [_replace(question, word, o or "") for o in options]
        sims = embedder.embed_documents(variants) @ q
        best = int(np.argmax(sims))
        out.append(Aspect(word, float(sims[best]), options[best]))
    return sorted(out, key=lambda a: a.score)


def _replace(text: str, word: str, by: str) -> str:
    """``text`` with every whole-word occurrence of ``word`` (any case) replaced by ``by`` ('' drops it)."""
    out = re.sub(rf"(?<![\w'-]){re.escape(word)}(?![\w-])", by, text, flags=re.I)
    return re.sub(r"\s+([?.!,;:])", r"\1", re.sub(r"\s{2,}", " ", out)).strip()
