"""Grounded-answer training examples made from a knowledge base (synthetic; say so wherever they are used).

How an example is made, for every question candidate of the KB (``genloom.eval.generate_set.candidates``:
a question heading as is, another heading H as "What does the documentation say about H?", "To X, Y." as
"How do I X?", "X is a Y." as "What is X?"; the candidate's *answer* is the sentence it came from):

1. The prompt is built exactly as ``genloom ask`` builds it: hybrid search (k passages), the relevance
   gate (a question serving would refuse before the model runs is skipped), the key statements of the
   evidence in the ``grounded_answer`` template (``genloom.rag.grounded_messages``).
2. Answerable: the answer sentence must be among the statements shown in the prompt; the completion is
   that sentence verbatim followed by the number of the source it is in: ``"<sentence> [n]"``. Questions
   whose answer sentence is not shown are skipped (the prompt would not support the target).
3. Unanswerable ("I don't know."): for a seeded share of the candidates, the evidence is retrieved with the
   candidate's own document left out; kept only when the relevance gate still passes (so serving would
   show it to the model) and no shown statement shares most of the answer's content words.

Every example is marked ``synthetic: true`` with ``meta.kind`` (answerable / unanswerable) and the
candidate's origin (from-heading / from-sentence): the questions echo the documents' wording.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genloom.answer.text import overlap, strip_markers
from genloom.answer.verify import Evidence, Thresholds
from genloom.tune.examples import Example

IDK_ANSWER = "I don't know."


@dataclass(frozen=True)
class GroundedPrompt:
    messages: list[dict[str, str]]
    evidence: Evidence
    shown: list[tuple[int, str]]  # (source number, statement) as shown in the prompt
    relevance: float


def grounded_prompt(
    question: str,
    kb: Any,
    *,
    k: int = 5,
    template: str = "grounded_answer",
    prompt_sentences: int = 5,
    leave_out: str | None = None,
) -> GroundedPrompt:
    """The prompt ``genloom ask`` would send for ``question`` (optionally without document ``leave_out``)."""
    from genloom.prompts import load as load_template
    from genloom.rag import grounded_messages

    if leave_out is None:
        hits = kb.search(question, k=k, mode="hybrid")
    else:
        hits = [h for h in kb.search(question, k=k + 20, mode="hybrid") if h.source != leave_out][:k]
    evidence = Evidence(hits, kb.embedder)
    top = evidence.relevance(question) if hits else None
    msgs, keep = grounded_messages(load_template(template), evidence, question, prompt_sentences)
    if keep is None:
        shown = [(p.n, s.text) for p in evidence.passages for s in p.sentences]
    else:
        shown = [(n, s.text) for n, spans in sorted(keep.items()) for s in spans]
    return GroundedPrompt([m.to_dict() for m in msgs], evidence, shown, top.score if top else 0.0)


def cite(text: str, prompt: GroundedPrompt, threshold: float | None = None) -> str | None:
    """``text`` re-cited against the prompt's evidence: every sentence ends with the source that supports it
    best; None when a sentence is not supported (the verifier's claim threshold)."""
    from genloom.answer.text import sentences

    th = Thresholds().claim if threshold is None else threshold
    out = []
    for s in sentences(strip_markers(text)):
        m = prompt.evidence.best(s.text)
        if m is None or m.score < th:
            return None
        out.append(f"{s.text.strip()} [{m.passage.n}]")
    return " ".join(out) if out else None


def examples_from_kb(
    kb: Any,
    *,
    k: int = 5,
    template: str = "grounded_answer",
    unanswerable: float = 0.1,
    limit: int = 0,
    seed: int = 0,
    exclude_questions: set[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[Example]:
    """Synthetic grounded SFT examples from ``kb`` (see the module docstring for how)."""
    from genloom.eval.generate_set import candidates
    from genloom.tune.examples import question_key

    th = Thresholds()
    pool = candidates(kb)
    rng = random.Random(seed)
    rng.shuffle(pool)
    if exclude_questions:
        pool = [c for c in pool if question_key(c["question"]) not in exclude_questions]
    if limit:
        pool = pool[: limit * 2]  # some candidates are skipped; stop at ``limit`` made
    made = 0
    for i, c in enumerate(pool):
        if progress:
            progress(i, len(pool))
        if limit and made >= limit:
            return
        q, answer, gold = c["question"], c["answer"], c["gold_sources"][0]
        origin = next((t for t in c["tags"] if t.startswith("from-")), "")
        meta = {"origin": origin, "doc": gold, "section": c["gold_section"]}
        if rng.random() < unanswerable:
            leave = next((d.source for d in kb.documents() if Path(d.source).name == gold), None)
            p = grounded_prompt(q, kb, k=k, template=template, leave_out=leave)
            if p.relevance < th.relevance or any(overlap(answer, s) >= 0.5 for _, s in p.shown):
                continue
            made += 1
            yield Example(p.messages, IDK_ANSWER, question=q, source="kb", synthetic=True,
                          meta={**meta, "kind": "unanswerable"})  # fmt: skip
            continue
        p = grounded_prompt(q, kb, k=k, template=template)
        if p.relevance < th.relevance:
            continue
        where = [(n, s) for n, s in p.shown if answer.strip() in s or overlap(answer, s) >= 0.9]
        if not where:
            continue
        n, sentence = where[0]
        made += 1
        yield Example(p.messages, f"{sentence.strip()} [{n}]", question=q, source="kb", synthetic=True,
                      meta={**meta, "kind": "answerable"})  # fmt: skip
