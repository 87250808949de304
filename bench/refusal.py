"""Refusals that hold against near-misses: the relevance gate on in-domain, off-domain and adversarial
out-of-domain questions (ones that borrow the corpus's words), on two corpora.

    .venv/bin/python bench/refusal.py [--out rows.json]

Corpora (embedder: the default, MiniLM on ONNX Runtime), each fetched with ``apt-get download`` on first use:
  debian-faq         the debian-faq HTML pages (bench/answer.py ``debian_faq()``); sets
                     bench/data/debian-faq-dev.jsonl (50 answerable, 25 unanswerable: off- and near-domain) and
                     bench/data/debian-faq-ood.jsonl (36 off-topic questions sharing a Debian word each)
  python enum howto  howto/enum.html of python3.11-doc, the README's refusal example; sets
                     bench/data/python-enum-dev.jsonl (30 answerable) and bench/data/python-enum-ood.jsonl
                     (36 off-topic questions borrowing its example names: MERCURY, Color, BEE, Flag, pickle ...)

The gate refuses before any generation, so only retrieval and evidence scoring run (no LLM). Columns:
  baseline      the gate before issue 18: lexical+semantic mix >= 0.42
  before        + meaning-only similarity >= verify.SEMANTIC_GATES (the first issue-18 change)
  gate now      the shipped gate (answer/gate.py): + the foreign-aspect check with verify.ASPECT_GATES
  calibrated    the foreign-aspect check with the values this run calibrates

Calibration is honest: the aspect check's two values (how low a foreign word's score refuses, and the
relevance that exempts a confident match) are chosen on the even-numbered questions of all four sets only:
the setting that refuses the most even-numbered near-misses without refusing any even-numbered answerable
question that "before" answers; among those, the one that refuses least (lowest values). The odd-numbered
halves are then reported as held-out.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from answer import CACHE, DEV, debian_faq  # the corpus helper is shared, not copied

DATA = Path(__file__).parent / "data"
PY_ENUM = CACHE / "root/usr/share/doc/python3.11/html/howto/enum.html"
README_Q = "What is the boiling point of mercury?"


def python_enum_howto() -> Path:
    """howto/enum.html from the python3.11-doc package, downloaded once."""
    if not PY_ENUM.is_file():
        with tempfile.TemporaryDirectory() as tmp:
            if subprocess.run(["apt-get", "download", "python3.11-doc"], cwd=tmp).returncode != 0:
                subprocess.run(["apt-get", "update", "-q"], check=True)
                subprocess.run(["apt-get", "download", "python3.11-doc"], cwd=tmp, check=True)
            deb = next(Path(tmp).glob("python3.11-doc_*.deb"))
            subprocess.run(["dpkg", "-x", str(deb), str(CACHE / "root")], check=True)
    return PY_ENUM


def load(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def score(kb, question: str, th) -> dict:
    from genloom.answer.aspects import foreign_aspects
    from genloom.answer.gate import judge
    from genloom.answer.verify import Evidence

    hits = kb.search(question, k=5)
    ev = Evidence(hits, kb.embedder)
    top = ev.relevance(question) if hits else None

    def known(w: str) -> bool:
        return bool(kb.search(w, k=1, mode="keyword"))

    aspects = foreign_aspects(question, ev, kb.embedder, known) if hits else []
    v = judge(question, question, ev, hits, kb.embedder, str(kb.embedder.info()["id"]), th, known)
    return {"mix": top.score if top else 0.0, "sem": ev.semantic(question),
            "aspect": aspects[0].score if aspects else 1.0, "word": aspects[0].word if aspects else None,
            "stand_in": aspects[0].stand_in if aspects else None, "now": v.refused is not None}  # fmt: skip


def refused(r: dict, mix: float, sem: float, floor: float, needs: float) -> bool:
    return r["mix"] < mix or r["sem"] < sem or (r["aspect"] < floor and r["mix"] < needs)


def rate(rows: list[dict], *gate: float) -> float:
    return sum(refused(r, *gate) for r in rows) / max(1, len(rows))


def calibrate(rows: list[dict], mix: float, sem: float) -> tuple[float, float]:
    """(floor, needs) from the even-numbered halves only (see the module docstring)."""
    even = [r for r in rows if r["i"] % 2 == 0]
    ans = [r for r in even if r["kind"] == "answerable" and not refused(r, mix, sem, 0.0, 0.0)]
    ood = [r for r in even if r["kind"] == "ood"]
    best, pick = -1, (0.0, 0.0)
    for f in range(70, 100):
        for n in range(int(mix * 100), 101):
            g = (mix, sem, f / 100, n / 100)
            if any(refused(r, *g) for r in ans):
                continue
            caught = sum(refused(r, *g) for r in ood)
            if caught > best:  # strictly more: ties keep the lower (less refusing) setting
                best, pick = caught, (f / 100, n / 100)
    return pick


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, help="write per-question scores as JSON")
    args = ap.parse_args()
    os.environ.setdefault("GENLOOM_HOME", str(CACHE / "home"))
    from genloom.answer.verify import Thresholds
    from genloom.kb import KnowledgeBase

    th = Thresholds()
    corpora = {"debian-faq": (debian_faq(), load(DEV), load(DATA / "debian-faq-ood.jsonl")),
               "python-enum": (python_enum_howto(), load(DATA / "python-enum-dev.jsonl"),
                               load(DATA / "python-enum-ood.jsonl"))}  # fmt: skip
    rows: list[dict] = []
    t0 = time.perf_counter()
    kbs = {}
    for name, (src, dev, ood) in corpora.items():
        kb = kbs[name] = KnowledgeBase.open(f"refusal-{name}", create=True)
        if kb.stats().get("documents", 0) == 0:
            kb.ingest([src])
        cases = [(c, "answerable" if not c.get("should_refuse") else c["tags"][1]) for c in dev]
        by_kind: dict[str, int] = {}
        for c, kind in cases + [(c, "ood") for c in ood]:
            i = by_kind[kind] = by_kind.get(kind, -1) + 1  # position within its set: even/odd halves
            rows.append({"corpus": name, "kind": kind, "i": i, "question": c["question"],
                         **score(kb, c["question"], th)})  # fmt: skip
    seconds = time.perf_counter() - t0
    emb = str(next(iter(kbs.values())).embedder.info()["id"])
    sem = th.semantic_for(emb)
    now = th.aspect_for(emb)
    cal = calibrate(rows, th.relevance, sem)
    print(f"embedder {emb}; semantic gate {sem:.2f}; aspect gate shipped: score < {now[0]:.2f} refuses when "
          f"relevance < {now[1]:.2f}; calibrated on the even halves: < {cal[0]:.2f} when relevance < {cal[1]:.2f}")  # fmt: skip
    gates = {"baseline": (th.relevance, 0.0, 0.0, 0.0), "before": (th.relevance, sem, 0.0, 0.0),
             "calibrated": (th.relevance, sem, *cal)}  # fmt: skip
    print(
        f"{'corpus':12} {'set':30} {'n':>3} {'':15} {'baseline':>9} {'before':>7} {'gate now':>9} {'calibrated':>10}"
    )
    for name in corpora:
        rs = [r for r in rows if r["corpus"] == name]
        sets = []
        for kind in ("answerable", "off-domain", "near-domain", "ood"):
            k = [r for r in rs if r["kind"] == kind]
            what = "false refusals" if kind == "answerable" else "refused"
            label = "near-misses" if kind == "ood" else kind
            if k:
                sets += [(f"{label}, even (calibration)", k[0::2], what), (f"{label}, odd (held out)", k[1::2], what),
                         (f"{label}, all", k, what)]  # fmt: skip
        for label, k, what in sets:
            cols = [rate(k, *gates["baseline"]), rate(k, *gates["before"]),
                    sum(r["now"] for r in k) / len(k), rate(k, *gates["calibrated"])]  # fmt: skip
            print(f"{name:12} {label:30} {len(k):3d} {what:15} " + " ".join(f"{c:9.1%}" for c in cols))
        missed = [r["question"] for r in rs if r["kind"] == "ood" and not r["now"]]
        print(f"{name}: near-misses the gate now still answers ({len(missed)}):", missed or "none")
        lost = [
            r["question"]
            for r in rs
            if r["kind"] == "answerable" and r["now"] and not refused(r, *gates["before"])
        ]
        print(f"{name}: answerable questions the aspect check refuses ({len(lost)}):", lost or "none")
    readme = next(r for r in rows if r["corpus"] == "python-enum" and r["question"] == README_Q)
    print(f"README example on the Python enum howto: {README_Q!r} mix {readme['mix']:.2f} semantic "
          f"{readme['sem']:.2f} aspect {readme['word']!r} {readme['aspect']:.3f}: baseline "
          f"{'refused' if refused(readme, *gates['baseline']) else 'ANSWERED'}, before "
          f"{'refused' if refused(readme, *gates['before']) else 'ANSWERED'}, gate now "
          f"{'refused' if readme['now'] else 'ANSWERED'}")  # fmt: skip
    print(f"scoring {len(rows)} questions took {seconds:.1f}s (a shared box: not a timing claim)")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
