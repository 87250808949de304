"""Perplexity of the bundled model on the debian-faq pages, and the two ways to get per-token log-probs.

    .venv/bin/python bench/perplexity.py [--window 512] [--check-tokens 256]

Baseline named in the output: token-by-token evaluation on the ordinary generation context (one forward pass
per token, the last position's logits read from the context), against the shipped method (one batched pass
per window on a context created with logits_all=True). Both are timed on the same first --check-tokens tokens
in the same run, and their summed NLL compared; then the shipped method runs over the whole corpus.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from answer import debian_faq  # the corpus helper is shared, not copied


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--window", type=int, default=512)
    ap.add_argument("--check-tokens", type=int, default=256)
    args = ap.parse_args()

    from genloom.backends.llm import resolve_llm
    from genloom.eval.perplexity import PerplexityModel, log_softmax_rows, perplexity, read_corpus_file
    from genloom.settings import get_settings

    files = sorted(debian_faq().glob("*.en.html"))
    pm = PerplexityModel(None, args.window)
    text = read_corpus_file(files[0])
    ids = pm.tokenize(text)[: args.check_tokens]
    step = pm.window - 1
    t = time.perf_counter()
    batched = sum(pm.window_nll(ids[i : i + step]) for i in range(0, len(ids), step))
    t_batched = time.perf_counter() - t
    pm.close()

    llm = resolve_llm(None).runtime.llama
    t = time.perf_counter()
    ref = 0.0
    for i in range(0, len(ids), step):
        seq = [llm.token_bos(), *ids[i : i + step]]
        llm.reset()
        for j in range(len(seq) - 1):
            llm.eval([seq[j]])
            row = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),)).copy()
            ref -= float(log_softmax_rows(row[None])[0, seq[j + 1]])
    t_tok = time.perf_counter() - t
    llm.reset()
    n = len(ids)
    print(f"threads={get_settings().n_threads} window={args.window} load={os.getloadavg()[0]:.2f}")
    print(f"{'method':<44}{'tokens':>8}{'seconds':>10}{'tok/s':>10}{'NLL':>12}")
    print(
        f"{'baseline: token by token (generation context)':<44}{n:>8}{t_tok:>10.2f}{n / t_tok:>10.1f}{ref:>12.3f}"
    )
    print(
        f"{'shipped: batched window, logits_all':<44}{n:>8}{t_batched:>10.2f}{n / t_batched:>10.1f}{batched:>12.3f}"
    )
    print(f"speed-up {t_tok / t_batched:.1f}x; NLL relative difference {abs(batched - ref) / ref:.2e}")

    t = time.perf_counter()
    result = perplexity(files, window=args.window)
    dt = time.perf_counter() - t
    print(f"\ncorpus: {len(files)} debian-faq pages, {result['tokens']} tokens, {dt:.1f}s "
          f"({result['tokens'] / dt:.0f} tok/s)")  # fmt: skip
    print(f"perplexity of {result['model']} (window {result['window']}): {result['perplexity']:.3f}")
    for f in sorted(result["files"], key=lambda f: f["perplexity"]):
        print(f"  {f['perplexity']:>8.3f}  {f['tokens']:>6}  {Path(f['path']).name}")


if __name__ == "__main__":
    main()
