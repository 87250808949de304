"""Evaluation: run a labeled dataset through the grounded-answer path and measure retrieval, answers,
faithfulness, citations, refusals, cost and latency -- deterministically, offline, on your own data.

    from genloom.eval import load_dataset, evaluate
    run = evaluate(load_dataset("dev.jsonl"), kb="docs", k=5)
    run.metrics["faithfulness"], run.by_tag["packages"]["hit@k"]

Modules: dataset (JSONL schema, line-numbered errors), metrics/ (one family per module), runner, report
(self-contained HTML), gate (``metric>=value``), perplexity (llama.cpp), generate_set (synthetic cases).
"""

from genloom.eval.dataset import EvalCase, load_dataset
from genloom.eval.gate import check_gates, parse_gate
from genloom.eval.runner import EvalRun, evaluate

__all__ = ["EvalCase", "EvalRun", "check_gates", "evaluate", "load_dataset", "parse_gate"]
