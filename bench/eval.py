"""The evaluation harness on the debian-faq dev set: every metric genloom eval reports, with the figures that
go in docs/benchmarks.md, plus a determinism check (the run is repeated and compared without timings).

    .venv/bin/python bench/eval.py [--k 5] [--limit N] [--repeat] [--out DIR]

Corpus: the debian-faq package's English HTML pages (bench/answer.py ``debian_faq()``, downloaded once).
Dataset: bench/data/debian-faq-dev.jsonl (50 answerable questions with gold pages, 25 unanswerable; no
reference answers, so the answer-text metrics are n/a). Baseline named in the output: the extractive mode
(quotes only, no generation) measured in the same run, against the shipped ``auto`` mode.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from answer import CACHE, DEV, debian_faq  # the corpus helper is shared, not copied

KEYS = [
    "hit@k", "recall@k", "mrr", "faithfulness", "citation_precision", "citation_recall", "refusal_precision",
    "refusal_recall", "false_refusal_rate", "answered_rate", "extractive_rate", "prompt_tokens",
    "completion_tokens", "latency_p50", "latency_p95",
]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--repeat", action="store_true", help="run auto mode twice and compare (determinism)")
    ap.add_argument("--out", type=Path, default=CACHE / "eval-out")
    args = ap.parse_args()
    os.environ.setdefault("GENLOOM_HOME", str(CACHE / "eval-home"))

    from genloom.eval import evaluate, load_dataset
    from genloom.eval.report import render
    from genloom.kb import KnowledgeBase

    corpus = debian_faq()
    kb = KnowledgeBase.open("debian-faq", create=True)
    t = time.perf_counter()
    kb.ingest([corpus])
    print(f"ingest (or check unchanged): {time.perf_counter() - t:.1f}s; {kb.stats()}")
    cases = load_dataset(DEV)
    if args.limit:
        cases = cases[: args.limit]
    args.out.mkdir(parents=True, exist_ok=True)
    runs = {}
    for mode in ("extractive", "auto"):
        t = time.perf_counter()
        runs[mode] = evaluate(cases, kb=kb, k=args.k, mode=mode, dataset=DEV)
        print(f"{mode}: {len(cases)} cases in {time.perf_counter() - t:.1f}s", file=sys.stderr)
        (args.out / f"run-{mode}.json").write_text(json.dumps(runs[mode].to_dict(), indent=1, sort_keys=True))
    (args.out / "report.html").write_text(render(runs["auto"], runs["extractive"]))
    print(f"\nk={args.k} cases={len(cases)} model={runs['auto'].config['model']} "
          f"embedder={runs['auto'].config['embedder']} template={runs['auto'].config['template']}")  # fmt: skip
    print(f"{'metric':<22}{'baseline: extractive':>22}{'auto (shipped)':>16}")
    for k in KEYS:
        b, a = runs["extractive"].value(k), runs["auto"].value(k)
        print(f"{k:<22}{_f(b):>22}{_f(a):>16}")
    print("\nper tag (auto): n, hit@k, faithfulness, citation_recall, answered_rate")
    for tag, m in runs["auto"].by_tag.items():
        print(f"  {tag:<14} {m['n_cases']:>3} {_f(m['hit@k']):>7} {_f(m['faithfulness']):>7} "
              f"{_f(m['citation_recall']):>7} {_f(m['answered_rate']):>7}")  # fmt: skip
    if args.repeat:
        again = evaluate(cases, kb=kb, k=args.k, mode="auto", dataset=DEV)
        strip = [{k: v for k, v in r.to_dict().items() if k != "timings"} for r in (runs["auto"], again)]
        same = json.dumps(strip[0], sort_keys=True) == json.dumps(strip[1], sort_keys=True)
        print(f"\ndeterminism: second auto run identical apart from timings: {same}")
    print(f"\nruns and report in {args.out}")


def _f(v: object) -> str:
    return "n/a" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))


if __name__ == "__main__":
    main()
