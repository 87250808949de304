"""Grounded answers on the debian-faq dev set: quality (hit@5, cited-gold, refusals) and where the time goes.

    .venv/bin/python bench/answer.py [--k 5] [--mode auto] [--limit N]

Corpus: the Debian package ``debian-faq`` (HTML, 17 chapters), fetched with ``apt-get download`` into
``~/.cache/genloom-bench`` on first use. Dev set: ``bench/data/debian-faq-dev.jsonl`` (50 paraphrased questions
whose answer is in one FAQ section + 25 questions the FAQ cannot answer), written by hand for this bench.

Calibration is honest: every question is answered once with the relevance gate open, its relevance score is
recorded, and the gate threshold is chosen on the even-numbered questions only; the odd-numbered half is
reported with that threshold as held-out figures. The baseline named in the output is "no gate" (answer
everything), i.e. what an assistant without refusals would do.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

CACHE = Path(os.environ.get("GENLOOM_BENCH_CACHE", "~/.cache/genloom-bench")).expanduser()
DEV = Path(__file__).parent / "data" / "debian-faq-dev.jsonl"


def debian_faq() -> Path:
    """The English HTML pages of the debian-faq package, downloaded once."""
    root = CACHE / "debian-faq"
    pages = root / "usr/share/doc/debian/FAQ"
    if not pages.is_dir():
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            if subprocess.run(["apt-get", "download", "debian-faq"], cwd=tmp).returncode != 0:
                subprocess.run(["apt-get", "update", "-q"], check=True)
                subprocess.run(["apt-get", "download", "debian-faq"], cwd=tmp, check=True)
            deb = next(Path(tmp).glob("debian-faq_*.deb"))
            subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
    out = CACHE / "debian-faq-en"
    out.mkdir(exist_ok=True)
    for page in pages.glob("*.en.html"):
        target = out / page.name
        if not target.exists():
            target.write_bytes(page.read_bytes())
    return out


@dataclass
class Row:
    question: str
    gold: list[str]
    should_refuse: bool
    hit5: bool
    relevance: float
    refused_other: bool  # refused for a reason other than the gate (nothing supported, nothing quotable)
    cited_gold: bool
    mode: str
    timings: dict[str, float]


def evaluate(rows: list[Row], tau: float) -> dict[str, float]:
    ans = [r for r in rows if not r.should_refuse]
    una = [r for r in rows if r.should_refuse]
    refused = {id(r): r.relevance < tau or r.refused_other for r in rows}
    tp = sum(refused[id(r)] for r in una)
    fp = sum(refused[id(r)] for r in ans)
    return {
        "n_answerable": len(ans),
        "n_unanswerable": len(una),
        "hit@5": sum(r.hit5 for r in ans) / max(1, len(ans)),
        "cited_gold": sum((not refused[id(r)]) and r.cited_gold for r in ans) / max(1, len(ans)),
        "refusal_precision": tp / max(1, tp + fp),
        "refusal_recall": tp / max(1, len(una)),
        "false_refusal_rate": fp / max(1, len(ans)),
    }


def pick_tau(rows: list[Row]) -> float:
    """The gate that refuses >= 95% of unanswerable questions with the fewest false refusals (ties: lowest)."""
    best = (float("inf"), 0.0)
    for tau in [x / 100 for x in range(0, 100)]:
        m = evaluate(rows, tau)
        if m["refusal_recall"] >= 0.95 and m["false_refusal_rate"] < best[0]:
            best = (m["false_refusal_rate"], tau)
    return best[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--mode", default="auto", choices=["auto", "generate", "extractive"])
    ap.add_argument("--limit", type=int, default=0, help="only the first N dev cases (quick look)")
    ap.add_argument("--out", type=Path, help="write per-question rows as JSON")
    args = ap.parse_args()

    os.environ.setdefault("GENLOOM_HOME", str(CACHE / "home"))
    from genloom.answer.verify import Thresholds
    from genloom.kb import KnowledgeBase
    from genloom.rag import AnswerStream

    corpus = debian_faq()
    kb = KnowledgeBase.open("debian-faq", create=True)
    t = time.perf_counter()
    report = kb.ingest([corpus])
    print(
        f"ingest: {report.summary() if hasattr(report, 'summary') else report} in {time.perf_counter() - t:.1f}s"
    )

    cases = [json.loads(line) for line in DEV.read_text().splitlines() if line.strip()]
    if args.limit:
        cases = cases[: args.limit]
    default = Thresholds()
    open_gate = replace(default, relevance=0.0)
    rows: list[Row] = []
    for i, case in enumerate(cases):
        gold = case.get("gold_sources", [])
        hits = kb.search(case["question"], k=5)
        hit5 = any(Path(h.source).name in gold for h in hits)
        s = AnswerStream(case["question"], kb=kb, k=args.k, mode=args.mode, thresholds=open_gate)
        for _ in s:
            pass
        a = s.answer
        assert a is not None
        cited = any(Path(c.source).name in gold for c in a.citations)
        rows.append(
            Row(
                case["question"],
                gold,
                bool(case.get("should_refuse")),
                hit5,
                a.relevance,
                a.refused,
                cited,
                a.mode,
                a.timings,
            )
        )
        flag = "REFUSE?" if case.get("should_refuse") else ("gold" if cited else "miss")
        print(
            f"[{i + 1:>2}/{len(cases)}] rel={a.relevance:.2f} {a.mode:<10} {flag:<7} {case['question'][:60]}",
            file=sys.stderr,
        )

    even, odd = rows[0::2], rows[1::2]
    tau = pick_tau(even)
    print(
        f"\nmode={args.mode} k={args.k} cases={len(rows)} (answerable {sum(not r.should_refuse for r in rows)})"
    )
    print(f"relevance gate: shipped default {default.relevance:.2f}; calibrated on even cases: {tau:.2f}")
    table = [
        ("baseline: relevance gate open (0.00), all cases", evaluate(rows, 0.0)),
        (f"shipped gate {default.relevance:.2f}, all cases", evaluate(rows, default.relevance)),
        (f"calibrated gate {tau:.2f}, even cases (calibration)", evaluate(even, tau)),
        (f"calibrated gate {tau:.2f}, odd cases (held out)", evaluate(odd, tau)),
    ]
    keys = ["hit@5", "cited_gold", "refusal_precision", "refusal_recall", "false_refusal_rate"]
    print(f"{'':<52}" + "".join(f"{k:>20}" for k in keys))
    for name, m in table:
        print(f"{name:<52}" + "".join(f"{m[k]:>20.3f}" for k in keys))

    answered = [r for r in rows if not r.refused_other and r.relevance >= default.relevance]
    print("\ntimings over answered questions (seconds): median / p95")
    for key in ["retrieve", "evidence", "prompt", "decode", "verify", "first_token", "total"]:
        vals = sorted(r.timings[key] for r in answered if key in r.timings)
        if vals:
            p95 = vals[min(len(vals) - 1, int(0.95 * len(vals)))]
            print(f"  {key:<12} {statistics.median(vals):>7.3f} / {p95:.3f}  (n={len(vals)})")
    modes = {m: sum(r.mode == m for r in answered) for m in ("generated", "extractive")}
    print(f"answer modes among answered: {modes}")
    if args.out:
        args.out.write_text(json.dumps([r.__dict__ for r in rows], indent=1))


if __name__ == "__main__":
    main()
