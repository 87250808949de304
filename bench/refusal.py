"""Refusals that hold against near-misses: the relevance gate on in-domain, off-domain and adversarial
out-of-domain questions (ones that borrow the corpus's words) over the debian-faq knowledge base.

    .venv/bin/python bench/refusal.py [--out rows.json]

Corpus: the debian-faq HTML pages (bench/answer.py ``debian_faq()``), embedder MiniLM (the default).
Sets: bench/data/debian-faq-dev.jsonl (50 answerable, 25 unanswerable: off- and near-domain) and
bench/data/debian-faq-ood.jsonl (36 off-topic questions written to share a Debian word each: "package
holiday", "horse stable", "kernel of corn", "report a bug in the Instagram app", ...).

The gate refuses before any generation, so only retrieval and the evidence scores run (no LLM). Baseline:
the gate before issue 18 (lexical+semantic mix >= 0.42). Gate now: that AND the meaning-only similarity
(``Evidence.semantic``) >= the gate calibrated for the embedder (``verify.SEMANTIC_GATES``). That threshold is calibrated honestly: chosen on the
even-numbered answerable dev questions only (the highest value keeping their false refusals <= 5 %), then
reported on the odd-numbered half as held-out, and on the unanswerable and out-of-domain sets, which play
no part in choosing it. The README's own example (Python docs, enum howto with planet constants) is run too.
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

OOD = Path(__file__).parent / "data" / "debian-faq-ood.jsonl"
PY_ENUM = CACHE / "root/usr/share/doc/python3.11/html/howto/enum.html"  # python3.11-doc, when downloaded


def scores(kb, question: str) -> tuple[float, float]:
    from genloom.answer.verify import Evidence

    ev = Evidence(kb.search(question, k=5), kb.embedder)
    top = ev.relevance(question)
    return (top.score if top else 0.0), ev.semantic(question)


def refused(mix: float, sem: float, mix_tau: float, sem_tau: float) -> bool:
    return mix < mix_tau or sem < sem_tau


def rate(rows: list[dict], mix_tau: float, sem_tau: float) -> float:
    return sum(refused(r["mix"], r["sem"], mix_tau, sem_tau) for r in rows) / max(1, len(rows))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, help="write per-question scores as JSON")
    args = ap.parse_args()
    os.environ.setdefault("GENLOOM_HOME", str(CACHE / "home"))
    from genloom.answer.verify import Thresholds
    from genloom.kb import KnowledgeBase

    kb = KnowledgeBase.open("debian-faq", create=True)
    kb.ingest([debian_faq()])
    rows = []
    t0 = time.perf_counter()
    cases = [json.loads(x) for x in DEV.read_text().splitlines() if x.strip()]
    cases += [{**json.loads(x), "tags": ["ood"]} for x in OOD.read_text().splitlines() if x.strip()]
    for i, c in enumerate(cases):
        mix, sem = scores(kb, c["question"])
        kind = "ood" if "ood" in c["tags"] else ("answerable" if not c.get("should_refuse") else c["tags"][1])
        rows.append({"i": i, "question": c["question"], "kind": kind, "mix": mix, "sem": sem})
    seconds = time.perf_counter() - t0
    th = Thresholds()
    gate = th.semantic_for(str(kb.embedder.info()["id"]))
    ans = [r for r in rows if r["kind"] == "answerable"]
    even, odd = ans[0::2], ans[1::2]
    # calibrate on the even half only: the highest semantic threshold keeping its false refusals <= 5 %
    tau = max(t / 100 for t in range(101) if rate(even, th.relevance, t / 100) <= 0.05)
    print(f"calibrated on {len(even)} even-numbered answerable questions: semantic >= {tau:.2f} "
          f"(the gate shipped for this embedder: {gate:.2f})")  # fmt: skip
    sets = [("answerable, even (calibration)", even, "false refusals"),
            ("answerable, odd (held out)", odd, "false refusals"), ("answerable, all", ans, "false refusals")]  # fmt: skip
    for kind in ("off-domain", "near-domain", "ood"):
        sets.append((f"unanswerable: {kind}", [r for r in rows if r["kind"] == kind], "refused"))
    print(f"{'set':34} {'n':>3} {'':15} {'baseline':>9} {'gate now':>9} {'calibrated':>10}")
    for name, rs, what in sets:
        base, now, cal = (
            rate(rs, th.relevance, 0.0),
            rate(rs, th.relevance, gate),
            rate(rs, th.relevance, tau),
        )
        print(f"{name:34} {len(rs):3d} {what:15} {base:9.1%} {now:9.1%} {cal:10.1%}")
    missed = [r["question"] for r in rows if r["kind"] == "ood" and not refused(r["mix"], r["sem"], th.relevance, gate)]  # fmt: skip
    print("out-of-domain still answered:", missed or "none")
    print(f"scoring {len(rows)} questions took {seconds:.1f}s ({seconds / len(rows) * 1000:.0f} ms each)")
    if PY_ENUM.is_file():
        py = KnowledgeBase.open("py-enum-howto", create=True)
        py.ingest([PY_ENUM])
        q = "What is the boiling point of mercury?"
        mix, sem = scores(py, q)
        print(f"README example on the Python enum howto: {q!r} mix {mix:.2f} semantic {sem:.2f}: "
              f"baseline {'refused' if mix < th.relevance else 'ANSWERED'}, "
              f"gate now {'refused' if refused(mix, sem, th.relevance, gate) else 'ANSWERED'}")  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
