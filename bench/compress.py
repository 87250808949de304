"""Context compression (issue 21): tokens saved vs answer metrics lost on the debian-faq dev set, same run.

    .venv/bin/python bench/compress.py [--limit 10] [--budget 400 ...]

Baseline (named in the output): the shipped prompt, 5 key statements (``prompt_sentences=5``). Compressed: as
many key statements as fit ``--budget`` prompt tokens (genloom.compress.fit_evidence; least relevant dropped).
Greedy, seed 0, k = 5, the bundled model; the same cases for every row.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from answer import CACHE, DEV, debian_faq  # the corpus helper is shared, not copied

KEYS = ["prompt_tokens", "completion_tokens", "faithfulness", "citation_precision", "citation_recall",
        "answered_rate", "extractive_rate"]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=10)
    ap.add_argument("--budget", type=int, nargs="+", default=[400])
    args = ap.parse_args()
    os.environ.setdefault("GENLOOM_HOME", str(CACHE / "eval-home"))
    from genloom.eval import evaluate, load_dataset
    from genloom.kb import KnowledgeBase

    kb = KnowledgeBase.open("debian-faq", create=True)
    kb.ingest([debian_faq()])
    cases = load_dataset(DEV)[: args.limit]
    rows = {}
    for budget in [0, *args.budget]:
        name = "baseline: 5 statements" if budget == 0 else f"budget {budget} tokens"
        t = time.perf_counter()
        run = evaluate(cases, kb=kb, k=5, dataset=DEV, evidence_tokens=budget)
        rows[name] = {k: run.metrics.get(k) for k in KEYS} | {"wall_s": round(time.perf_counter() - t, 1),
                                                              "p50_s": run.timings["summary"].get("latency_p50")}  # fmt: skip
        print(f"{name}: {time.perf_counter() - t:.0f}s", file=sys.stderr, flush=True)
    print(f"\ncases={len(cases)}\n\n| metric | " + " | ".join(rows) + " |\n|---|" + "---|" * len(rows))
    for k in [*KEYS, "p50_s", "wall_s"]:
        print(
            f"| {k} | " + " | ".join("n/a" if r[k] is None else f"{r[k]:.3f}" for r in rows.values()) + " |"
        )
    base = rows["baseline: 5 statements"]
    for name, r in rows.items():
        if r is not base and base["prompt_tokens"]:
            print(f"{name}: {1 - r['prompt_tokens'] / base['prompt_tokens']:.0%} fewer prompt tokens, faithfulness "
                  f"{(r['faithfulness'] or 0) - (base['faithfulness'] or 0):+.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
