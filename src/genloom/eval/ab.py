"""Offline A/B: two prompt versions or two models on the same cases and seeds, with paired bootstrap intervals
and a verdict (``genloom eval ab DATASET --a grounded_answer@v1 --b grounded_answer@v2``).

An arm is a grounded-answer prompt template ``NAME@vN`` (genloom.prompts) or a model spec. Both arms run every
case through ``genloom.eval.evaluate`` (greedy, seed 0, the same k and knowledge base), so every difference is
the arm's. The per-metric difference B - A gets a paired 95% bootstrap interval (cases resampled 2,000 times,
seeded: genloom.tune.evaluate.bootstrap, the same statistic as base-vs-tuned). A metric's verdict is "B better"
or "A better" when its interval excludes 0 in that direction, else "no difference"; the overall verdict is
B (or A) when it is better on some metric and worse on none, "mixed" when each wins somewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from genloom.errors import UserError


@dataclass(frozen=True)
class Arm:
    label: str  # as given
    template: str | None  # a prompt template id, or None
    model: str | None  # a model spec, or None (the default)

    def describe(self) -> str:
        return f"template {self.template}" if self.template else f"model {self.model}"


def parse_arm(text: str, default_template: str = "grounded_answer") -> Arm:
    """``NAME@vN`` of an existing prompt template, else a model spec."""
    from genloom.prompts import versions

    text = text.strip()
    if not text:
        raise UserError(
            "an A/B arm is empty", hint="pass --a grounded_answer@v1 --b grounded_answer@v2 (or models)"
        )
    name, at, _ = text.partition("@")
    if at and ":" not in name and versions(name):
        from genloom.prompts import load

        return Arm(text, load(text).id, None)  # NotFound names the versions that exist
    return Arm(text, None, text)


def verdict(rows: dict[str, dict[str, Any]]) -> tuple[str, dict[str, str]]:
    per: dict[str, str] = {}
    for name, r in rows.items():
        ci = r.get("delta_ci")
        if ci is None or r.get("delta") is None:
            per[name] = "n/a"
        elif ci[0] > 0 or ci[1] < 0:
            b_up = ci[0] > 0
            per[name] = "B better" if b_up == r["higher_is_better"] else "A better"
        else:
            per[name] = "no difference"
    wins = {v for v in per.values() if v in ("A better", "B better")}
    overall = "mixed" if len(wins) == 2 else (wins.pop().split()[0] if wins else "no difference")
    return overall, per


def ab_test(
    cases: Sequence[Any],
    a: Arm,
    b: Arm,
    *,
    kb: Any,
    k: int = 5,
    dataset: Any = None,
    template: str = "grounded_answer",
    progress: Callable[[str, int, int, Any], None] | None = None,
) -> dict[str, Any]:
    """Both arms on ``cases``; the report: config, rows (per metric a, b, delta with intervals), verdicts."""
    from genloom.eval import evaluate
    from genloom.tune.evaluate import bootstrap

    if not cases:
        raise UserError("no cases to compare on", hint="pass a dataset with at least one case")
    runs = {}
    for side, arm in (("a", a), ("b", b)):
        step = (lambda i, n, c, s=side: progress(s, i, n, c)) if progress else None
        runs[side] = evaluate(cases, kb=kb, k=k, model=arm.model, template=arm.template or template,
                              dataset=dataset, progress=step)  # fmt: skip
    raw = bootstrap(runs["a"].cases, runs["b"].cases)
    rows = {name: {"higher_is_better": r["higher_is_better"], "a": r["base"], "a_ci": r["base_ci"], "n_a": r["n_base"],
                   "b": r["tuned"], "b_ci": r["tuned_ci"], "n_b": r["n_tuned"], "delta": r["delta"],
                   "delta_ci": r["delta_ci"]} for name, r in raw.items()}  # fmt: skip
    overall, per = verdict(rows)
    for name, v in per.items():
        rows[name]["verdict"] = v
    return {
        "schema": "genloom.eval.ab/1",
        "a": {"arm": a.label, "what": a.describe(), "model": runs["a"].config["model"],
              "template": runs["a"].config["template"]},
        "b": {"arm": b.label, "what": b.describe(), "model": runs["b"].config["model"],
              "template": runs["b"].config["template"]},
        "config": {k2: runs["a"].config[k2] for k2 in ("dataset", "n_cases", "kb", "k", "decoding")}
        | {"bootstrap": 2000, "confidence": 0.95, "paired": True},
        "rows": rows,
        "verdict": overall,
        "runs": {s: r.to_dict() for s, r in runs.items()},
    }  # fmt: skip


__all__ = ["Arm", "ab_test", "parse_arm", "verdict"]
