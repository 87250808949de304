"""PII detection: precision/recall per entity type and ms per text, genloom's checked patterns (the baseline,
the audit log's default) vs patterns + presidio's spaCy names (pii_engine=presidio) vs presidio throughout.

    .venv/bin/python bench/guard_pii.py                    # all three engines
    .venv/bin/python bench/guard_pii.py --engines patterns # no presidio needed

The labelled set (bench/data/pii_labelled.jsonl, written for this benchmark): texts with their PII values and
types, plus hard negatives (ISBNs, EANs, dates, version strings, order and tracking numbers, digit strings that
fail Luhn/mod-97/check letters, times, hashes). A found span counts when its type is right and it overlaps the
labelled one by at least half of their union; "redacted" counts a labelled span as covered (>= 80 % of its
characters) by any found span, whatever its type: what matters for the audit log.

"presidio throughout" is AnalyzerEngine with its predefined recognisers plus UK_NINO, ES_NIF, ES_NIE, PL_PESEL
(added for English), score >= 0.4. Its email recogniser calls tldextract's module-level extractor, which would
fetch the public suffix list: here ``tldextract.extract`` is replaced by an extractor with no suffix-list URLs
(the bundled snapshot) for this process only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from genloom.guard.base import Span
from genloom.guard.pii import NER_MODEL, PIIGuard, PresidioNer
from genloom.guard.pii_patterns import ENTITIES

DATA = Path(__file__).parent / "data" / "pii_labelled.jsonl"
PRESIDIO_TYPES = {"EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE", "CREDIT_CARD": "CREDIT_CARD",
                  "IBAN_CODE": "IBAN", "US_SSN": "US_SSN", "UK_NINO": "UK_NINO", "ES_NIF": "ES_NIF",
                  "ES_NIE": "ES_NIF", "PL_PESEL": "PL_PESEL", "IP_ADDRESS": "IP_ADDRESS", "PERSON": "PERSON"}  # fmt: skip


def load() -> list[tuple[str, list[Span]]]:
    out = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        text, spans, pos = d["text"], [], 0
        for entity, value in d["spans"]:
            i = text.index(value, pos)
            spans.append(Span(i, i + len(value), entity))
            pos = i + len(value)
        out.append((text, spans))
    return out


def presidio_throughout():  # type: ignore[no-untyped-def]
    import tldextract

    tldextract.extract = tldextract.TLDExtract(suffix_list_urls=())  # see the module docstring
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_analyzer.predefined_recognizers import (
        EsNieRecognizer,
        EsNifRecognizer,
        PlPeselRecognizer,
        UkNinoRecognizer,
    )

    nlp = NlpEngineProvider(nlp_configuration={"nlp_engine_name": "spacy",
                                               "models": [{"lang_code": "en", "model_name": NER_MODEL}]}).create_engine()  # fmt: skip
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(languages=["en"], nlp_engine=nlp)
    for cls in (UkNinoRecognizer, EsNifRecognizer, EsNieRecognizer, PlPeselRecognizer):
        registry.add_recognizer(cls(supported_language="en"))
    engine = AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["en"])

    def find(text: str) -> list[Span]:
        res = engine.analyze(text=text, language="en", entities=list(PRESIDIO_TYPES), score_threshold=0.4)
        return [Span(r.start, r.end, PRESIDIO_TYPES[r.entity_type]) for r in res]

    return find


def overlap(a: Span, b: Span) -> float:
    inter = max(0, min(a.end, b.end) - max(a.start, b.start))
    return inter / (max(a.end, b.end) - min(a.start, b.start))


def score(data: list[tuple[str, list[Span]]], preds: list[list[Span]]) -> dict[str, dict[str, float]]:
    tp, fp, fn, covered = Counter(), Counter(), Counter(), Counter()
    for (_, gold), pred in zip(data, preds, strict=True):
        used: set[int] = set()
        for g in gold:
            hit = next((i for i, p in enumerate(pred) if i not in used and p.category == g.category
                        and overlap(p, g) >= 0.5), None)  # fmt: skip
            if hit is None:
                fn[g.category] += 1
            else:
                tp[g.category] += 1
                used.add(hit)
            cov = sum(max(0, min(p.end, g.end) - max(p.start, g.start)) for p in pred)
            covered[g.category] += cov >= 0.8 * (g.end - g.start)
        for i, p in enumerate(pred):
            if i not in used:
                fp[p.category] += 1
    rows: dict[str, dict[str, float]] = {}
    for e in [*ENTITIES, "all"]:
        t, f, n, c = ((sum(x.values()) for x in (tp, fp, fn, covered)) if e == "all"
                      else (tp[e], fp[e], fn[e], covered[e]))  # fmt: skip
        rows[e] = {"labelled": t + n, "tp": t, "fp": f, "fn": n,
                   "precision": t / (t + f) if t + f else 1.0, "recall": t / (t + n) if t + n else 1.0,
                   "redacted": c / (t + n) if t + n else 1.0}  # fmt: skip
    return rows


def run(name: str, find, data, repeat: int) -> dict:  # type: ignore[no-untyped-def]
    preds = [find(t) for t, _ in data]  # warm-up and the predictions scored
    t0 = time.perf_counter()
    for _ in range(repeat):
        for t, _ in data:
            find(t)
    ms = (time.perf_counter() - t0) * 1000 / (repeat * len(data))
    negatives = sum(1 for (_, g), p in zip(data, preds, strict=True) if not g and p)
    return {
        "engine": name,
        "ms_per_text": ms,
        "scores": score(data, preds),
        "hard_negative_texts_flagged": negatives,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engines", default="patterns,presidio,presidio-throughout")
    ap.add_argument("--repeat", type=int, default=3, help="timed passes over the set (patterns: x20)")
    ap.add_argument("--out", type=Path, help="also write the results as JSON")
    args = ap.parse_args()
    data = load()
    n_neg = sum(1 for _, g in data if not g)
    print(f"{len(data)} texts, {sum(len(g) for _, g in data)} labelled spans, {n_neg} hard-negative texts; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")  # fmt: skip
    results = []
    for name in args.engines.split(","):
        t0 = time.perf_counter()
        if name == "patterns":
            find, rep = PIIGuard().find, args.repeat * 20
        elif name == "presidio":
            ner = PresidioNer()
            ner.engine()
            find, rep = PIIGuard(None, ner).find, args.repeat
        elif name == "presidio-throughout":
            find, rep = presidio_throughout(), args.repeat
        else:
            raise SystemExit(f"unknown engine {name!r}")
        load_s = time.perf_counter() - t0
        r = run(name, find, data, rep)
        r["load_s"] = load_s
        results.append(r)
    base = results[0]
    for r in results:
        print(f"\n== {r['engine']}: {r['ms_per_text']:.3f} ms/text ({r['ms_per_text'] / base['ms_per_text']:.0f}x "
              f"{base['engine']}), load {r['load_s']:.1f} s, hard-negative texts flagged "
              f"{r['hard_negative_texts_flagged']}/{n_neg}")  # fmt: skip
        print(
            f"{'entity':<12} {'n':>4} {'tp':>4} {'fp':>4} {'fn':>4} {'prec':>6} {'recall':>6} {'redacted':>8}"
        )
        for e, s in r["scores"].items():
            print(f"{e:<12} {s['labelled']:>4} {s['tp']:>4} {s['fp']:>4} {s['fn']:>4} {s['precision']:>6.3f} "
                  f"{s['recall']:>6.3f} {s['redacted']:>8.3f}")  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
