"""Metric families (retrieval, text, semantic, grounding, refusal, latency, judge) and the aggregation of
per-case scores into run-level figures, overall and per tag.

Every run-level metric is listed in METRICS with what it means and whether higher is better; the gate
and the report use this list, so a metric name is either known or an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from genloom.eval.metrics.latency import latency_summary
from genloom.eval.metrics.refusal import refusal_metrics
from genloom.eval.metrics.text import corpus_bleu, corpus_chrf

# name -> (family, higher is better, meaning)
METRICS: dict[str, tuple[str, bool, str]] = {
    "hit@k": ("retrieval", True, "a gold source is among the k retrieved chunks"),
    "recall@k": ("retrieval", True, "share of gold sources among the k retrieved chunks"),
    "mrr": ("retrieval", True, "mean reciprocal rank of the first gold source"),
    "exact_match": ("answer", True, "normalized answer equals the reference"),
    "token_f1": ("answer", True, "token overlap F1 with the reference"),
    "rouge_l": ("answer", True, "ROUGE-L F1 (longest common subsequence) with the reference"),
    "bleu": ("answer", True, "corpus BLEU (sacrebleu, 0-100)"),
    "chrf": ("answer", True, "corpus chrF (sacrebleu, 0-100)"),
    "semantic_similarity": ("answer", True, "embedding cosine between answer and reference"),
    "faithfulness": ("grounding", True, "share of answer claims the verifier found supported by evidence"),
    "citation_precision": ("grounding", True, "share of citations pointing at a gold source"),
    "citation_recall": ("grounding", True, "share of gold sources the answer cites"),
    "refusal_precision": ("refusal", True, "refusals that were right to refuse"),
    "refusal_recall": ("refusal", True, "unanswerable questions that were refused"),
    "false_refusal_rate": ("refusal", False, "answerable questions that were refused"),
    "answered_rate": ("refusal", True, "share of cases answered (not refused)"),
    "extractive_rate": ("answer", False, "share of answers that fell back to verbatim quotes"),
    "prompt_tokens": ("cost", False, "mean prompt tokens per case"),
    "completion_tokens": ("cost", False, "mean completion tokens per case"),
    "judge_score": ("judge", True, "MODEL-JUDGED rubric score, 0-1 (LLM-as-judge)"),
    "latency_p50": ("latency", False, "median seconds per case (timings section)"),
    "latency_p95": ("latency", False, "95th percentile seconds per case (timings section)"),
}

PER_CASE_MEAN = [
    "hit@k", "recall@k", "mrr", "exact_match", "token_f1", "rouge_l", "semantic_similarity",
    "faithfulness", "citation_precision", "citation_recall", "judge_score",
]  # fmt: skip
ROUND = 6


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), ROUND) if values else None


def aggregate(cases: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Run-level metrics from per-case results (as the runner writes them). ``n_<metric>`` says how many
    cases each mean is over; a metric with no eligible case is None."""
    out: dict[str, Any] = {"n_cases": len(cases)}
    for name in PER_CASE_MEAN:
        vals = [c["scores"][name] for c in cases if c["scores"].get(name) is not None]
        out[name] = _mean(vals)
        out[f"n_{name}"] = len(vals)
    with_ref = [c for c in cases if c.get("reference") is not None]
    if with_ref:
        preds, refs = [c["answer"] for c in with_ref], [c["reference"] for c in with_ref]
        out["bleu"], out["chrf"] = round(corpus_bleu(preds, refs), 4), round(corpus_chrf(preds, refs), 4)
    else:
        out["bleu"] = out["chrf"] = None
    out["n_bleu"] = out["n_chrf"] = len(with_ref)
    for k, v in refusal_metrics([(c["refused"], c["should_refuse"]) for c in cases]).items():
        out[k] = None if v is None else round(v, ROUND)
    answered = [c for c in cases if not c["refused"]]
    out["answered_rate"] = _mean([0.0 if c["refused"] else 1.0 for c in cases])
    out["extractive_rate"] = _mean([1.0 if c["mode"] == "extractive" else 0.0 for c in answered])
    out["prompt_tokens"] = _mean([c["usage"]["prompt_tokens"] for c in cases])
    out["completion_tokens"] = _mean([c["usage"]["completion_tokens"] for c in cases])
    return out


def by_tag(cases: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    tags = sorted({t for c in cases for t in c["tags"]})
    return {t: aggregate([c for c in cases if t in c["tags"]]) for t in tags}


def timing_summary(seconds: Sequence[float]) -> dict[str, Any]:
    return {k: None if v is None else round(v, 4) for k, v in latency_summary(seconds).items()}


__all__ = ["METRICS", "aggregate", "by_tag", "timing_summary"]
