"""Run a dataset through the grounded-answer path and score every case.

    run = evaluate(load_dataset("dev.jsonl"), kb="docs", k=5)
    run.metrics["hit@k"], run.by_tag["packages"]["faithfulness"], run.cases[0]["citations"]

Deterministic: answers are decoded greedily with a fixed seed (genloom.rag does that), cases keep the
dataset's order, JSON keys are sorted and floats rounded. Everything measured in seconds lives in
``timings`` (it varies run to run); everything else is identical for the same inputs and settings.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genloom.eval.dataset import EvalCase
from genloom.eval.metrics import aggregate, by_tag, timing_summary
from genloom.eval.metrics import grounding as g
from genloom.eval.metrics import retrieval as r
from genloom.eval.metrics import text as t
from genloom.eval.metrics.semantic import similarity

SCHEMA = "genloom.eval/1"
ROUND = 6


@dataclass
class EvalRun:
    """The result of one evaluation; ``to_dict()`` is what ``--out run.json`` writes."""

    config: dict[str, Any]
    metrics: dict[str, Any]
    by_tag: dict[str, dict[str, Any]]
    cases: list[dict[str, Any]]
    timings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "config": self.config,
            "metrics": self.metrics,
            "by_tag": self.by_tag,
            "cases": self.cases,
            "timings": self.timings,
        }

    def value(self, name: str, tag: str | None = None) -> Any:
        """A metric by name (latency ones come from ``timings``), overall or for one tag."""
        if name.startswith("latency_"):
            return self.timings.get("summary", {}).get(name)
        return (self.by_tag.get(tag, {}) if tag else self.metrics).get(name)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EvalRun:
        return cls(d["config"], d["metrics"], d.get("by_tag", {}), d["cases"], d.get("timings", {}))


def _round(x: float) -> float:
    return round(float(x), ROUND)


def score_case(case: EvalCase, retrieved: Sequence[str], answer: Any, embedder: Any) -> dict[str, float]:
    """Per-case scores; a metric that does not apply to the case (no gold, no reference, ...) is absent."""
    s: dict[str, float | None] = {}
    gold, answerable = list(case.gold_sources), not case.should_refuse
    if gold and answerable:
        s["hit@k"] = r.hit_at_k(retrieved, gold)
        s["recall@k"] = r.recall_at_k(retrieved, gold)
        s["mrr"] = r.reciprocal_rank(retrieved, gold)
    if case.answer is not None:
        s["exact_match"] = t.exact_match(answer.answer, case.answer)
        s["token_f1"] = t.token_f1(answer.answer, case.answer)
        s["rouge_l"] = t.rouge_l(answer.answer, case.answer)
        s["bleu"] = t.sentence_bleu(answer.answer, case.answer)  # 0-100, as sacrebleu reports it
        s["chrf"] = t.sentence_chrf(answer.answer, case.answer)
        s["semantic_similarity"] = similarity(embedder, answer.answer, case.answer)
    if not answer.refused:
        s["faithfulness"] = g.faithfulness(answer.claims)
        if gold and answerable:
            cited = [c.source for c in answer.citations]
            s["citation_precision"] = g.citation_precision(cited, gold)
            s["citation_recall"] = g.citation_recall(cited, gold)
    s["refusal_correct"] = 1.0 if answer.refused == case.should_refuse else 0.0
    return {k: _round(v) for k, v in sorted(s.items()) if v is not None}


CaseRunner = Callable[[Sequence[EvalCase], dict[str, Any], Callable[[int], None]], list[dict[str, Any]]]
"""``(cases, options, done)`` -> one ``run_case`` result per case, in the cases' order; ``done(n)`` after each
(genloom.distributed.eval_tasks: on workers). ``options``: ``case_options`` (JSON: what travels to a worker)."""


def evaluate(
    cases: Sequence[EvalCase],
    *,
    kb: Any = "default",
    k: int = 5,
    model: Any = None,
    template: str = "grounded_answer",
    mode: str = "auto",
    max_tokens: int = 160,
    judge: Any = None,
    dataset: str | Path | None = None,
    progress: Callable[[int, int, EvalCase], None] | None = None,
    evidence_tokens: int = 0,
    runner: CaseRunner | None = None,
) -> EvalRun:
    """Answer every case from ``kb`` and score it. ``judge``: a genloom.eval.metrics.judge.Judge or None.
    ``evidence_tokens``: compress the evidence to this many prompt tokens (genloom.compress; 0 = off).
    ``runner``: where the cases are answered (default: here, one after another)."""
    from genloom.errors import UserError
    from genloom.kb import KnowledgeBase

    if not cases:
        raise UserError("no cases to evaluate", hint="pass a dataset with at least one case")
    if k < 1:
        raise UserError(f"k must be at least 1, got {k}", hint="pass -k 5")
    opts = Options(k, model, template, mode, max_tokens, judge, evidence_tokens)
    if isinstance(kb, str):
        with KnowledgeBase.open(kb) as opened:
            return _evaluate(cases, opened, kb, opts, dataset, progress, runner)
    return _evaluate(cases, kb, getattr(kb, "name", "kb"), opts, dataset, progress, runner)


@dataclass(frozen=True)
class Options:
    """How each case is answered and judged."""

    k: int
    model: Any
    template: str
    mode: str
    max_tokens: int
    judge: Any
    evidence_tokens: int = 0


def case_options(kb_name: str, o: Options) -> dict[str, Any]:
    """``o`` as JSON for a worker: models and the judge by spec (an object cannot travel)."""
    from genloom.errors import UserError

    if o.model is not None and not isinstance(o.model, str):
        raise UserError("cases answered on workers need the model as a spec string",
                        hint="pass e.g. model='llamacpp:' instead of a backend object")  # fmt: skip
    judge = None
    if o.judge is not None:
        if getattr(o.judge, "spec", None) is None:
            raise UserError("a judge for cases answered on workers needs its model as a spec string",
                            hint="make it with Judge('llamacpp:', ...)")  # fmt: skip
        judge = [o.judge.spec, o.judge.template_name, o.judge.seed]
    return {"kb": kb_name, "k": o.k, "model": o.model, "template": o.template, "mode": o.mode,
            "max_tokens": o.max_tokens, "evidence_tokens": o.evidence_tokens, "judge": judge}  # fmt: skip


def run_case(case: EvalCase, kbo: Any, o: Options) -> dict[str, Any]:
    """Answer and score one case: ``{"record", "timing", "model", "template"}`` (what a worker sends back)."""
    from genloom.route.rag_cascade import answer_stream  # an AnswerStream, or a cascade:SMALL|BIG (issue 21)

    t0 = time.perf_counter()
    hits = kbo.search(case.question, k=o.k, mode="hybrid")
    t_search = time.perf_counter() - t0
    stream = answer_stream(
        case.question, kb=kbo, k=o.k, model=o.model, template=o.template, mode=o.mode,
        max_tokens=o.max_tokens, evidence_tokens=o.evidence_tokens,
    )  # fmt: skip
    for _ in stream:
        pass
    a = stream.answer
    assert a is not None
    retrieved = [h.source for h in hits]
    scores = score_case(case, retrieved, a, kbo.embedder)
    if o.judge is not None and not a.refused:
        evidence = "\n".join(f"[{c.n}] {c.quote}" for c in a.citations)
        grade = o.judge.grade(case.question, t.strip_citations(a.answer), case.answer, evidence)
        if grade is not None:
            scores["judge_score"] = _round(grade)
    record = _record(case, retrieved, a, scores)
    if getattr(stream, "route", None) is not None:  # which side of a cascade answered, and why
        record["route"] = stream.route
    return {"record": record, "timing": {"search": round(t_search, 4), **a.timings}, "model": a.model,
            "template": a.template}  # fmt: skip


_judges: dict[tuple[Any, ...], Any] = {}  # per worker process: judges loaded so far


def run_case_json(case: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """``run_case`` from JSON (``EvalCase.to_dict`` plus its line, ``case_options``): a worker's eval task."""
    from genloom.eval.dataset import parse_case
    from genloom.eval.metrics.judge import Judge
    from genloom.kb import KnowledgeBase

    c = dict(case)
    line = int(c.pop("line", 0))
    judge = None
    if options["judge"] is not None:
        key = tuple(options["judge"])
        if key not in _judges:
            spec, template, seed = key
            _judges[key] = Judge(spec, template, int(seed))
        judge = _judges[key]
    o = Options(int(options["k"]), options["model"], options["template"], options["mode"],
                int(options["max_tokens"]), judge, int(options["evidence_tokens"]))  # fmt: skip
    # opened per case (cheap on Postgres; the embedder is cached): a knowledge base replaced meanwhile by a
    # re-embed is seen as it is now
    with KnowledgeBase.open(options["kb"]) as kbo:
        return run_case(parse_case(c, f"eval case {c.get('id')!r}", line), kbo, o)


def _evaluate(
    cases: Sequence[EvalCase], kbo: Any, kb_name: str, o: Options, dataset: str | Path | None,
    progress: Callable[[int, int, EvalCase], None] | None, runner: CaseRunner | None,
) -> EvalRun:  # fmt: skip
    t_run = time.perf_counter()
    if runner is None:
        outcomes = []
        for i, case in enumerate(cases):
            if progress:
                progress(i, len(cases), case)
            outcomes.append(run_case(case, kbo, o))
    else:
        done = (
            (lambda n: progress(n, len(cases), cases[min(n, len(cases) - 1)]))
            if progress
            else (lambda n: None)
        )
        outcomes = runner(cases, case_options(kb_name, o), done)
        if len(outcomes) != len(cases):
            raise RuntimeError(f"the case runner returned {len(outcomes)} results for {len(cases)} cases")
    results = [x["record"] for x in outcomes]
    per_case_time = {case.id: x["timing"] for case, x in zip(cases, outcomes, strict=True)}
    model_id = template_id = None
    for x in outcomes:
        model_id, template_id = x["model"] or model_id, x["template"] or template_id
    totals = [v.get("total", 0.0) for v in per_case_time.values()]
    config = {
        "dataset": Path(dataset).name if dataset else None,
        "n_cases": len(cases),
        "kb": kb_name,
        "embedder": str(kbo.embedder.info()["id"]),
        "k": o.k,
        "model": model_id or (o.model if isinstance(o.model, str) else None),
        "template": template_id or o.template,
        "mode": o.mode,
        **({"evidence_tokens": o.evidence_tokens} if o.evidence_tokens else {}),  # issue 21: compressed
        "decoding": {"temperature": 0, "seed": 0, "max_tokens": o.max_tokens},
        "judge": o.judge.describe() if o.judge is not None else None,
        "synthetic": any(c.synthetic for c in cases),
    }
    return EvalRun(
        config=config,
        metrics=aggregate(results),
        by_tag=by_tag(results),
        cases=results,
        timings={
            "summary": {**timing_summary(totals), "wall": round(time.perf_counter() - t_run, 3)},
            "machine": platform.machine(),
            "cases": per_case_time,
        },
    )


def _record(case: EvalCase, retrieved: list[str], a: Any, scores: dict[str, float]) -> dict[str, Any]:
    return {
        "id": case.id,
        "line": case.line,
        "question": case.question,
        "tags": list(case.tags),
        "should_refuse": case.should_refuse,
        "gold_sources": list(case.gold_sources),
        "gold_section": case.gold_section,
        "reference": case.answer,
        "synthetic": case.synthetic,
        "retrieved": retrieved,
        "answer": a.answer,
        "refused": a.refused,
        "refusal_reason": a.refusal_reason,
        "mode": a.mode,
        "relevance": _round(a.relevance),
        "citations": [
            {"n": c.n, "source": c.source, "heading": " > ".join(c.heading_path), "quote": c.quote}
            for c in a.citations
        ],
        "claims": [
            {"text": c.text, "support": _round(c.support), "supported": c.supported} for c in a.claims
        ],
        "usage": {"prompt_tokens": a.usage.prompt_tokens, "completion_tokens": a.usage.completion_tokens},
        "scores": scores,
    }
