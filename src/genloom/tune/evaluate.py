"""Base vs tuned on the same eval set, seeds and settings; confidence intervals; promotion gates.

    cmp = compare("llamacpp:", "registry:grounded@v2", "dev.jsonl", kb="docs", perplexity_files=[...])
    cmp.passed, cmp.rows["faithfulness"], write_report(cmp, "out/")

Both models answer every case through ``genloom.eval.evaluate`` (greedy decoding, seed 0, same k and
template), so every difference is the model's. Per-case scores give each metric a 95% bootstrap interval
(cases resampled 2,000 times, seeded) and the *paired* difference tuned - base an interval over the same
resamples. Perplexity on held-out domain text (``genloom.eval.perplexity``) shows whether tuning broke the
language model. Gates (``DEFAULT_GATES``) decide promotion: ``n_cases>=N`` needs enough cases to mean
anything, ``delta:METRIC>=X`` compares tuned with base
(point estimates), ``ppl_ratio<=X`` bounds tuned / base perplexity, and any ``genloom eval`` gate
(``METRIC>=X``) applies to the tuned run.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genloom.errors import UserError

# per-case values: name -> (function of a case record -> value or None when it does not apply, higher better)
PER_CASE: dict[str, tuple[Callable[[dict[str, Any]], float | None], bool]] = {
    "faithfulness": (lambda c: c["scores"].get("faithfulness"), True),
    "citation_precision": (lambda c: c["scores"].get("citation_precision"), True),
    "citation_recall": (lambda c: c["scores"].get("citation_recall"), True),
    "extractive_rate": (lambda c: None if c["refused"] else float(c["mode"] == "extractive"), False),
    "false_refusal_rate": (lambda c: None if c["should_refuse"] else float(c["refused"]), False),
    "refusal_correct": (lambda c: c["scores"].get("refusal_correct"), True),
    "completion_tokens": (lambda c: float(c["usage"]["completion_tokens"]), False),
}
DEFAULT_GATES = (
    "n_cases>=30",  # too few cases decide nothing (a 2-case run once "passed" everything below)
    "delta:faithfulness>=0.02",  # the tuned model's answers are better supported...
    "delta:extractive_rate<=0",  # ...fall back to quotes no more often...
    "delta:false_refusal_rate<=0.02",  # ...do not refuse answerable questions more often...
    "ppl_ratio<=1.15",  # ...and it still models the domain's text
)
_DELTA = re.compile(r"^delta:(?P<metric>\w+)\s*(?P<op>>=|<=)\s*(?P<value>[-+0-9.eE]+)$")
_PPL = re.compile(r"^ppl_ratio\s*<=\s*(?P<value>[0-9.eE+-]+)$")
_N = re.compile(r"^n_cases\s*>=\s*(?P<value>[0-9]+)$")


def bootstrap(base: Sequence[dict[str, Any]], tuned: Sequence[dict[str, Any]], resamples: int = 2000,
              seed: int = 0) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Mean, 95% CI and n for both runs and the paired difference, per PER_CASE metric."""
    if [c["id"] for c in base] != [c["id"] for c in tuned]:
        raise UserError("the two runs are not over the same cases", hint="evaluate both on the same dataset")
    rng = random.Random(seed)
    n = len(base)
    draws = [[rng.randrange(n) for _ in range(n)] for _ in range(resamples)]
    out: dict[str, dict[str, Any]] = {}
    for name, (fn, higher) in PER_CASE.items():
        b = [fn(c) for c in base]
        t = [fn(c) for c in tuned]

        def mean(vals: Sequence[float | None], idx: Sequence[int]) -> float | None:
            xs = [vals[i] for i in idx if vals[i] is not None]
            return sum(xs) / len(xs) if xs else None  # type: ignore[arg-type]

        everyone = range(n)
        stats: dict[str, list[float]] = {"base": [], "tuned": [], "delta": []}
        for idx in draws:
            mb, mt = mean(b, idx), mean(t, idx)
            if mb is not None:
                stats["base"].append(mb)
            if mt is not None:
                stats["tuned"].append(mt)
            if mb is not None and mt is not None:
                stats["delta"].append(mt - mb)
        mb, mt = mean(b, everyone), mean(t, everyone)
        out[name] = {
            "higher_is_better": higher,
            "base": _r(mb), "base_ci": _ci(stats["base"]), "n_base": sum(v is not None for v in b),
            "tuned": _r(mt), "tuned_ci": _ci(stats["tuned"]), "n_tuned": sum(v is not None for v in t),
            "delta": _r(None if mb is None or mt is None else mt - mb), "delta_ci": _ci(stats["delta"]),
        }  # fmt: skip
    return out


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def _ci(xs: list[float]) -> list[float] | None:
    if not xs:
        return None
    xs = sorted(xs)
    return [round(xs[int(0.025 * (len(xs) - 1))], 4), round(xs[int(0.975 * (len(xs) - 1))], 4)]


@dataclass
class Comparison:
    base: str
    tuned: str
    config: dict[str, Any]
    rows: dict[str, dict[str, Any]]
    perplexity: dict[str, Any]
    gates: list[dict[str, Any]] = field(default_factory=list)
    runs: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return bool(self.gates) and all(g["passed"] for g in self.gates)

    def summary(self) -> dict[str, Any]:
        """What goes into the registry's metrics for the tuned version."""
        return {"vs": self.base, "dataset": self.config.get("dataset"), "passed": self.passed,
                "metrics": {k: {x: v[x] for x in ("base", "tuned", "delta", "delta_ci")} for k, v in self.rows.items()},
                "perplexity": {k: self.perplexity.get(k) for k in ("base", "tuned", "ratio")},
                "gates": [{"gate": g["gate"], "passed": g["passed"]} for g in self.gates]}  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {"schema": "genloom.tune.compare/1", "base": self.base, "tuned": self.tuned,
                "config": self.config, "rows": self.rows, "perplexity": self.perplexity,
                "gates": self.gates, "passed": self.passed}  # fmt: skip


def check(
    rows: dict[str, dict[str, Any]], ppl: dict[str, Any], tuned_run: Any, gates: Sequence[str]
) -> list[dict[str, Any]]:
    from genloom.eval.gate import check_gates

    out = []
    plain = []
    for g in gates:
        m, p, n = _DELTA.match(g.strip()), _PPL.match(g.strip()), _N.match(g.strip())
        if n:
            count = len(tuned_run.cases)
            out.append({"gate": g, "value": count, "passed": count >= int(n["value"])})
        elif m:
            if m["metric"] not in rows:
                raise UserError(f"unknown metric in gate {g!r}", hint=f"known: {', '.join(rows)}")
            d, limit = rows[m["metric"]]["delta"], float(m["value"])
            ok = d is not None and (d >= limit if m["op"] == ">=" else d <= limit)
            out.append({"gate": g, "value": d, "passed": ok})
        elif p:
            ratio = ppl.get("ratio")
            out.append(
                {"gate": g, "value": ratio, "passed": ratio is not None and ratio <= float(p["value"])}
            )
        else:
            plain.append(g)
    for r in check_gates(tuned_run, plain) if plain else []:
        out.append({"gate": r.gate.text, "value": r.value, "passed": r.passed})
    return out


def compare(
    base: str,
    tuned: str,
    dataset: str | Path,
    *,
    kb: str = "default",
    k: int = 5,
    template: str = "grounded_answer",
    mode: str = "auto",
    limit: int = 0,
    perplexity_files: Sequence[str | Path] = (),
    window: int = 512,
    gates: Sequence[str] = DEFAULT_GATES,
    base_run: str | Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> Comparison:
    """Evaluate ``base`` and ``tuned`` (model specs) on ``dataset`` from ``kb``, then apply ``gates``.

    ``base_run``: a ``genloom eval --out`` run of the base made earlier with the same dataset and settings
    (decoding is deterministic, so it stands for re-running the base; any difference in settings is an error).
    """
    from genloom.eval import EvalRun, evaluate, load_dataset
    from genloom.eval.perplexity import perplexity

    cases = load_dataset(dataset)
    if limit:
        cases = cases[:limit]
    runs = {}
    todo = [("base", base), ("tuned", tuned)]
    if base_run is not None:
        runs["base"] = EvalRun.from_dict(json.loads(Path(base_run).expanduser().read_text(encoding="utf-8")))
        runs["base"].cases = runs["base"].cases[
            : len(cases)
        ]  # a --limit run compares with the same first cases
        todo = todo[1:]
    for label, spec in todo:

        def step(i: int, n: int, case: Any, label: str = label) -> None:
            if progress:
                progress(label, i, n)

        runs[label] = evaluate(cases, kb=kb, k=k, model=spec, template=template, mode=mode,
                               dataset=dataset, progress=step)  # fmt: skip
    ppl: dict[str, Any] = {"files": [str(p) for p in perplexity_files], "window": window}
    if perplexity_files:
        pb, pt = perplexity(perplexity_files, base, window), perplexity(perplexity_files, tuned, window)
        ppl.update(base=pb["perplexity"], tuned=pt["perplexity"], tokens=pb["tokens"],
                   ratio=round(pt["perplexity"] / pb["perplexity"], 4))  # fmt: skip
    if base_run is not None:
        _same_settings(runs["base"].config, runs["tuned"].config, base)
    rows = bootstrap(runs["base"].cases, runs["tuned"].cases)
    config = {**runs["tuned"].config, "base_model": runs["base"].config["model"], "bootstrap": 2000}
    result = Comparison(base, tuned, config, rows, ppl, runs={k: v.to_dict() for k, v in runs.items()})
    result.gates = check(rows, ppl, runs["tuned"], gates)
    return result


def _same_settings(base: dict[str, Any], tuned: dict[str, Any], base_spec: str) -> None:
    from genloom.backends.llm import resolve_llm

    want = {**tuned, "model": resolve_llm(base_spec).info().id}
    for key in ("dataset", "kb", "embedder", "k", "model", "template", "mode", "decoding"):
        if base.get(key) != want.get(key):
            raise UserError(
                f"the base run differs in {key!r}: {base.get(key)!r} vs {want.get(key)!r}",
                hint="re-run the base with the same settings, or leave out --base-run",
            )


def write_report(c: Comparison, out: str | Path) -> dict[str, Path]:
    """``compare.json`` (everything, with both runs), ``compare.md`` (the table) in folder ``out``."""
    out = Path(out).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "compare.json", "md": out / "compare.md"}
    paths["json"].write_text(json.dumps({**c.to_dict(), "runs": c.runs}, indent=1, sort_keys=True), "utf-8")
    paths["md"].write_text(markdown(c), encoding="utf-8")
    return paths


def _fmt(v: Any, ci: Any = None) -> str:
    if v is None:
        return "n/a"
    return f"{v:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")


def markdown(c: Comparison) -> str:
    lines = [f"# {c.tuned} vs {c.base}", "",
             f"dataset `{c.config.get('dataset')}` ({c.config.get('n_cases')} cases), kb `{c.config.get('kb')}`, "
             f"k={c.config.get('k')}, template `{c.config.get('template')}`, mode {c.config.get('mode')}, "
             "greedy, seed 0; 95% bootstrap intervals (2,000 resamples, paired for the difference)", "",
             "| metric | base | tuned | tuned - base |", "|---|---|---|---|"]  # fmt: skip
    for name, r in c.rows.items():
        arrow = "higher is better" if r["higher_is_better"] else "lower is better"
        lines.append(f"| {name} ({arrow}; n {r['n_base']}/{r['n_tuned']}) | {_fmt(r['base'], r['base_ci'])} | "
                     f"{_fmt(r['tuned'], r['tuned_ci'])} | {_fmt(r['delta'], r['delta_ci'])} |")  # fmt: skip
    if c.perplexity.get("base") is not None:
        p = c.perplexity
        lines.append(f"| perplexity ({p['tokens']} held-out tokens) | {p['base']:.3f} | {p['tuned']:.3f} | "
                     f"ratio {p['ratio']:.3f} |")  # fmt: skip
    lines += ["", "gates:"] + [f"- {'PASS' if g['passed'] else 'FAIL'} `{g['gate']}` (value {g['value']})"
                               for g in c.gates]  # fmt: skip
    lines.append(f"\npromotion: {'allowed' if c.passed else 'refused'}")
    return "\n".join(lines) + "\n"


def load_report(path: str | Path) -> dict[str, Any]:
    p = Path(path).expanduser()
    if p.is_dir():
        p = p / "compare.json"
    if not p.exists():
        raise UserError(f"no comparison report at {p}", hint="run genloom tune eval --out DIR first")
    data: dict[str, Any] = json.loads(p.read_text(encoding="utf-8"))
    return data
