"""Provenance bench (issue 16): the green-list watermark's detection, robustness, quality cost and speed, and
the log-prob detector's AUROC, on the bundled SmolLM2-135M.

    PYTHONPATH=src .venv/bin/python bench/watermark.py [--n 40] [--out bench/watermark-results.json]

Positives: ``--n`` generations per condition (40 prompts, greedy and sampled with SamplingParams' defaults,
with and without the watermark: gamma 0.25, delta 2.0, context width 1, a fixed bench key), at least 200
tokens each (end-of-generation is masked before 200 tokens, the same for both arms). Negatives (human text):
non-overlapping windows of Python 3.11 stdlib docstrings (read with ast, nothing imported) and the licence
texts in /usr/share/common-licenses. Texts are re-tokenized from their characters (as detection sees them)
and cut to 50 / 100 / 200 tokens. TPR at 1 % FPR uses the empirical 99th percentile of the human z-scores
at that length; TPR/FPR at z >= 4 is the shipped verdict's threshold.

Attacks on the watermarked (sampled) texts: 10 / 20 / 30 % of words replaced by random words of the human
corpus; and a paraphrase by the same model without the watermark. Quality: perplexity of each output given
its prompt under the (unwatermarked) model. Speed: decode tok/s watermarked / plain from the same
interleaved runs (baseline: the same generation without the hook), plus the hook's own cost per token.
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

TOPICS = [
    "the history of the bicycle",
    "how bees make honey",
    "why the sky is blue",
    "a day in a lighthouse",
    "the rules of chess",
    "learning to cook rice",
    "the water cycle",
    "a trip to the mountains",
    "how computers store numbers",
    "the life of a tree",
    "keeping a small garden",
    "the invention of paper",
    "how volcanoes form",
    "a rainy afternoon in a city",
    "why people keep dogs",
    "the moon landing",
    "how to write a good letter",
    "the ocean at night",
    "a visit to a museum",
    "how bread rises",
    "the first day of school",
    "trains and railways",
    "why we sleep",
    "a market on Saturday morning",
    "how maps are made",
    "the northern lights",
    "building a snowman",
    "the story of coffee",
    "how birds migrate",
    "a quiet library",
    "the importance of clean water",
    "how a bridge stands",
    "a fisherman's morning",
    "the planets of the solar system",
    "learning a new language",
    "how clocks keep time",
    "a summer festival",
    "the desert after rain",
    "how glass is made",
    "friendship between neighbours",
]
LENGTHS = (50, 100, 200)
MIN_NEW = 200


def human_texts(limit: int = 80) -> list[str]:
    """Human-written text available offline: stdlib docstrings (long ones; ``limit`` modules) and licence texts."""
    out: list[str] = []
    lib = Path(sys.base_prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    for path in sorted(lib.glob("*.py")):
        if len(out) >= limit:
            break
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        docs = [ast.get_docstring(n) for n in ast.walk(tree)
                if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)]  # fmt: skip
        body = "\n\n".join(d for d in docs if d and len(d.split()) >= 40)
        if body:
            out.append(body)
    for path in sorted(Path("/usr/share/common-licenses").glob("*")):
        if path.is_file() and path.stat().st_size > 2000:
            out.append(path.read_text(encoding="utf-8", errors="replace"))
    return out


def windows(tok, texts: Sequence[str], length: int, limit: int) -> list[list[int]]:
    out: list[list[int]] = []
    for t in texts:
        ids = tok(t)
        out += [ids[i : i + length] for i in range(0, len(ids) - length + 1, length)]
    rng = np.random.default_rng(0)
    rng.shuffle(out)  # type: ignore[arg-type]
    return out[:limit]


def substitute(text: str, frac: float, words: Sequence[str], rng: np.random.Generator) -> str:
    spans = [m.span() for m in re.finditer(r"\S+", text)]
    pick = (
        set(rng.choice(len(spans), size=round(frac * len(spans)), replace=False).tolist()) if spans else set()
    )
    parts, last = [], 0
    for i, (a, b) in enumerate(spans):
        parts.append(text[last:a])
        parts.append(str(rng.choice(words)) if i in pick else text[a:b])
        last = b
    parts.append(text[last:])
    return "".join(parts)


def auroc(pos: Sequence[float], neg: Sequence[float]) -> float:
    """P(score of a positive > score of a negative), ties half (Mann-Whitney)."""
    p, n = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    return float((p > n).mean() + 0.5 * (p == n).mean())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40, help="watermarked generations per decoding mode")
    ap.add_argument("--plain-every", type=int, default=1, help="plain arms on every k-th prompt (1: all)")
    ap.add_argument("--budget-s", type=int, default=0, help="stop generating after this many seconds (0: no)")
    ap.add_argument("--paraphrase", type=int, default=20)
    ap.add_argument("--lp-human", type=int, default=150, help="human windows scored by the log-prob detector")
    ap.add_argument("--out", default="bench/watermark-results.json")
    ap.add_argument("--threads", type=int, default=2, help="llama.cpp threads (1 on an oversubscribed box)")
    ap.add_argument("--reuse", action="store_true", help="analyse the generations saved by an earlier run")
    args = ap.parse_args()

    from genloom.backends.llm.llamacpp import LlamaCppLLM, LogitsHook
    from genloom.backends.llm.llamacpp.model import vocab
    from genloom.backends.llm.llamacpp.watermark_hook import WatermarkHook
    from genloom.eval.perplexity import log_softmax_rows
    from genloom.provenance.logprob import score_ids
    from genloom.provenance.watermark import Scheme, score
    from genloom.types import Message, SamplingParams

    scheme = Scheme(b"genloom-bench-watermark-key-0001", "wm-bench", gamma=0.25, delta=2.0, context_width=1)
    load0 = os.getloadavg()
    marked = LlamaCppLLM(n_ctx=1024, n_threads=args.threads, watermark=scheme)
    plain = LlamaCppLLM(n_ctx=1024, n_threads=args.threads)
    rt = plain.runtime
    eog = np.array([t for t in range(rt.n_vocab) if rt.is_eog(t)])
    tok = vocab(plain.path).tokenize

    class MinLength(LogitsHook):  # end-of-generation is not allowed before `n` tokens (both arms alike)
        def __init__(self, n: int) -> None:
            self.n, self.seen = n, 0

        def process(self, logits: np.ndarray) -> None:
            if self.seen < self.n:
                logits[eog] = -np.inf

        def accept(self, tokens: Sequence[int]) -> None:
            self.seen += len(tokens)

    def generate(backend, prompt: str, params: SamplingParams, min_new: int) -> dict:
        msgs = [Message("user", prompt)]
        t0 = time.perf_counter()
        parts, usage = [], None
        for d in backend.stream(msgs, params, hooks=[MinLength(min_new)]):
            parts.append(d.text)
            usage = d.usage or usage
        dt = time.perf_counter() - t0
        return {"text": "".join(parts), "tokens": usage.completion_tokens, "s": dt,
                "prompt_ids": backend.prompt_ids(msgs)}  # fmt: skip

    greedy = SamplingParams(max_tokens=230, temperature=0.0)
    conds = {"wm-greedy": (marked, greedy), "plain-greedy": (plain, greedy),
             "wm-sampled": (marked, None), "plain-sampled": (plain, None)}  # fmt: skip
    gens: dict[str, list[dict]] = {c: [] for c in conds}
    t_start = time.perf_counter()
    cache = Path(args.out).with_suffix(".generations.json")
    if args.reuse and cache.is_file():  # re-run the analysis on the generations of an earlier run
        gens = json.loads(cache.read_text())
    for i in range(0 if args.reuse and cache.is_file() else args.n):
        prompt = f"Write a detailed essay of at least 300 words about {TOPICS[i % len(TOPICS)]}."
        for c, (backend, params) in conds.items():  # interleaved: load drift hits both arms alike
            if c.startswith("plain") and i % args.plain_every:
                continue
            p = params or SamplingParams(max_tokens=230, seed=1000 + i)
            gens[c].append(generate(backend, prompt, p, MIN_NEW))
        print(
            f"  generated {i + 1}/{args.n} prompts ({time.perf_counter() - t_start:.0f} s)", file=sys.stderr
        )
        cache.write_text(json.dumps(gens))  # kept after every prompt: --reuse analyses a cut-short run
        if args.budget_s and time.perf_counter() - t_start > args.budget_s:
            print(f"  generation budget of {args.budget_s} s spent after {i + 1} prompts", file=sys.stderr)
            break
    human = human_texts()
    words = sorted({w for t in human for w in re.findall(r"[A-Za-z]{3,12}", t)})
    neg = {L: windows(tok, human, L, {50: 500, 100: 300, 200: 200}[L]) for L in LENGTHS}
    res: dict = {"model": plain.info().id, "n": args.n, "n_done": len(gens["wm-greedy"]), "plain_every": args.plain_every, "gamma": scheme.gamma, "delta": scheme.delta,
                 "context_width": scheme.context_width, "threads": plain.n_threads,
                 "load_start": [round(x, 2) for x in load0]}  # fmt: skip

    def z_of(ids: Sequence[int]) -> float:
        return score(scheme, ids).z

    detection = {}
    for L in LENGTHS:
        hz = np.array([z_of(w) for w in neg[L]])
        thr = float(np.quantile(hz, 0.99))
        row = {
            "human_n": len(hz),
            "threshold_1pct_fpr": round(thr, 3),
            "human_fpr_at_z4": float((hz >= 4).mean()),
        }
        for c in ("wm-greedy", "wm-sampled", "plain-greedy", "plain-sampled"):
            # every non-overlapping window of L tokens of each text (texts are few: the box is shared)
            texts = [tok(g["text"]) for g in gens[c]]
            zs = np.array([z_of(ids[k : k + L]) for ids in texts for k in range(0, len(ids) - L + 1, L)])
            row[c] = {"texts": sum(len(ids) >= L for ids in texts), "windows": len(zs),
                      "tpr_at_1pct_fpr": float((zs > thr).mean()) if len(zs) else None,
                      "rate_at_z4": float((zs >= 4).mean()) if len(zs) else None,
                      "median_z": round(float(np.median(zs)), 2) if len(zs) else None}  # fmt: skip
        detection[L] = row
    res["detection"] = detection

    rng = np.random.default_rng(7)
    attacks = {}
    thr100 = detection[100]["threshold_1pct_fpr"]
    for c in ("wm-sampled", "wm-greedy"):
        for frac in (0.1, 0.2, 0.3):
            zs = []
            for g in gens[c]:  # windows of 100 tokens of the attacked text, against the 100-token threshold
                ids = tok(substitute(g["text"], frac, words, rng))
                zs += [z_of(ids[k : k + 100]) for k in range(0, len(ids) - 99, 100)]
            zs_a = np.array(zs or [float("nan")])
            attacks[f"{c} {int(frac * 100)}% words (100-token windows)"] = {
                "n": len(zs), "tpr_at_1pct_fpr": float((zs_a > thr100).mean()),
                "rate_at_z4": float((zs_a >= 4).mean()), "median_z": round(float(np.median(zs_a)), 2)}  # fmt: skip
    para = []
    for g in gens["wm-sampled"][: args.paraphrase]:
        src = b"".join(rt.token_bytes(t) for t in tok(g["text"])[:150]).decode("utf-8", errors="replace")
        p = generate(plain, f"Paraphrase the following text in your own words:\n\n{src}",
                     SamplingParams(max_tokens=200, temperature=0.0), 100)  # fmt: skip
        ids = tok(p["text"])
        para.append((z_of(ids[:100]), len(ids)))
    pz = np.array([z for z, _ in para] or [float("nan")])
    attacks["wm-sampled paraphrased by the model (first 100 tokens)"] = {
        "n": len(para), "tpr_at_1pct_fpr": float((pz > thr100).mean()), "rate_at_z4": float((pz >= 4).mean()),
        "median_z": round(float(np.median(pz)), 2)}  # fmt: skip
    res["attacks"] = attacks

    scorer = plain.scorer(512)

    def ppl(g: dict) -> float:  # perplexity of the output given its prompt, under the plain model
        gen_ids = tok(g["text"])[:MIN_NEW]
        seq = list(g["prompt_ids"]) + gen_ids
        with scorer.lock:
            scorer.reset()
            scorer.eval(seq)
            lp = log_softmax_rows(scorer.all_logits(len(seq) - 1))
        start = len(g["prompt_ids"]) - 1
        nll = -lp[np.arange(start, len(seq) - 1), np.asarray(seq[start + 1 :])]
        return float(np.exp(nll.mean()))

    res["quality_ppl"] = {c: round(float(np.median([ppl(g) for g in gens[c]])), 3) for c in gens}

    # speed: tok/s of the same interleaved runs; the hook's own time per step
    tps = {c: [g["tokens"] / g["s"] for g in gens[c]] for c in gens}
    res["speed"] = {
        "greedy_ratio_median": round(float(np.median(tps["wm-greedy"]) / np.median(tps["plain-greedy"])), 4),
        "sampled_ratio_median": round(
            float(np.median(tps["wm-sampled"]) / np.median(tps["plain-sampled"])), 4
        ),
        "tok_s_median": {c: round(float(np.median(v)), 2) for c, v in tps.items()},
    }
    hook = WatermarkHook(scheme, rt.n_vocab)
    hook.start([1])
    logits = np.zeros(rt.n_vocab, dtype=np.float32)
    t0 = time.perf_counter()
    for k in range(2000):
        hook.process(logits)
        hook.accept([k])
    res["speed"]["hook_us_per_token"] = round((time.perf_counter() - t0) / 2000 * 1e6, 1)
    step_ms = 1000.0 / float(np.median(tps["plain-greedy"]))
    res["speed"]["hook_share_of_step"] = round(res["speed"]["hook_us_per_token"] / 1000.0 / step_ms, 4)

    # the log-prob detector: generated (plain and watermarked) vs human at 200 tokens; lower ratio = model
    lp_neg = [score_ids(scorer, w) for w in neg[200][: args.lp_human]]
    ratio_neg = [a / b for a, b, _ in lp_neg]
    lp = {}
    for c in gens:
        long = [ids[:200] for g in gens[c] if len(ids := tok(g["text"])) >= 200]
        r = [a / b for a, b, _ in (score_ids(scorer, ids) for ids in long)]
        lp[c] = {"n": len(r), "auroc": round(auroc([-x for x in r], [-x for x in ratio_neg]), 4),
                 "median_ratio": round(float(np.median(r)), 4)}  # fmt: skip
    lp["human"] = {"n": len(ratio_neg), "median_ratio": round(float(np.median(ratio_neg)), 4),
                   "ratio_at_5pct_fpr": round(float(np.quantile(ratio_neg, 0.05)), 4),
                   "ratio_at_1pct_fpr": round(float(np.quantile(ratio_neg, 0.01)), 4)}  # fmt: skip
    res["logprob"] = lp
    res["load_end"] = [round(x, 2) for x in os.getloadavg()]
    res["wall_s"] = round(time.perf_counter() - t_start, 1)
    res["samples"] = {c: gens[c][0]["text"][:300] for c in gens}
    Path(args.out).write_text(json.dumps(res, indent=1) + "\n")
    print(json.dumps({k: v for k, v in res.items() if k != "samples"}, indent=1))
    assert math.isfinite(res["speed"]["greedy_ratio_median"])


if __name__ == "__main__":
    main()
