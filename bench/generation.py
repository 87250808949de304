"""Generation overhead: genloom's engine vs raw llama-cpp-python, same model, prompt and settings.

    .venv/bin/python bench/generation.py [--rounds 5] [--max-tokens 128]

Baseline (a): llama-cpp-python's own streaming chat API, ``Llama.create_chat_completion(stream=True)``.
Candidate (b): ``genloom.Engine(...).stream(...)`` on the embedded llama.cpp backend.
Each path has its own Llama instance with identical settings; rounds alternate a/b so drift in machine
load hits both. The KV cache is reset before every run so time-to-first-token includes prompt eval.
Prints decode tokens/s and TTFT for each, and the ratios b/a. Target: decode ratio >= 0.95, TTFT
overhead <= 10 ms.
"""

from __future__ import annotations

import argparse
import statistics
import time

import llama_cpp

from genloom import Engine, SamplingParams
from genloom.backends.llm.llamacpp import LlamaCppLLM, bundled_model_path

PROMPT = "Explain in a few sentences why the sky is blue."


def run_raw(llm: llama_cpp.Llama, max_tokens: int) -> tuple[float, float, str]:
    llm.reset()
    t0 = time.perf_counter()
    t_first = None
    parts = []
    for chunk in llm.create_chat_completion(
        messages=[{"role": "user", "content": PROMPT}],
        stream=True,
        max_tokens=max_tokens,
        temperature=0,
        top_k=40,
        top_p=0.95,
        min_p=0.05,
        repeat_penalty=1.0,
        seed=1,
    ):
        text = chunk["choices"][0]["delta"].get("content")
        if text:
            if t_first is None:
                t_first = time.perf_counter()
            parts.append(text)
    t_end = time.perf_counter()
    assert t_first is not None
    return t_first - t0, t_end - t_first, "".join(parts)


def run_genloom(engine: Engine, max_tokens: int) -> tuple[float, float, str]:
    engine.backend.runtime.reset()
    params = SamplingParams(
        max_tokens=max_tokens, temperature=0, top_k=40, top_p=0.95, min_p=0.05, repeat_penalty=1.0, seed=1
    )
    t0 = time.perf_counter()
    t_first = None
    parts = []
    for piece in engine.stream(PROMPT, params):
        if t_first is None:
            t_first = time.perf_counter()
        parts.append(piece)
    t_end = time.perf_counter()
    assert t_first is not None
    return t_first - t0, t_end - t_first, "".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    path = str(bundled_model_path())
    raw = llama_cpp.Llama(
        model_path=path,
        n_ctx=4096,
        n_threads=args.threads,
        n_threads_batch=args.threads,
        n_batch=512,
        verbose=False,
    )
    backend = LlamaCppLLM(path, n_ctx=4096, n_threads=args.threads, n_batch=512)
    engine = Engine(backend)
    count = lambda text: len(raw.tokenize(text.encode(), add_bos=False))  # noqa: E731

    run_raw(raw, 8)  # warm-up both
    run_genloom(engine, 8)
    res: dict[str, dict[str, list[float]]] = {
        "raw": {"ttft": [], "tps": []},
        "genloom": {"ttft": [], "tps": []},
    }
    same_text = True
    for _ in range(args.rounds):
        ttft_a, dec_a, text_a = run_raw(raw, args.max_tokens)
        ttft_b, dec_b, text_b = run_genloom(engine, args.max_tokens)
        same_text &= text_a == text_b
        res["raw"]["ttft"].append(ttft_a)
        res["raw"]["tps"].append((count(text_a) - 1) / dec_a)
        res["genloom"]["ttft"].append(ttft_b)
        res["genloom"]["tps"].append((count(text_b) - 1) / dec_b)

    med = {k: {m: statistics.median(v) for m, v in d.items()} for k, d in res.items()}
    print(f"model: {path}")
    print(f"rounds: {args.rounds}, max_tokens: {args.max_tokens}, threads: {args.threads}, greedy")
    print(f"{'path':<10}{'decode tok/s (median)':>24}{'TTFT ms (median)':>20}")
    for k in ("raw", "genloom"):
        print(f"{k:<10}{med[k]['tps']:>24.1f}{med[k]['ttft'] * 1000:>20.1f}")
    ratio = med["genloom"]["tps"] / med["raw"]["tps"]
    overhead = (med["genloom"]["ttft"] - med["raw"]["ttft"]) * 1000
    print(f"decode ratio genloom/raw: {ratio:.3f}  (target >= 0.95)")
    print(f"TTFT overhead: {overhead:+.1f} ms  (target <= 10 ms)")
    print(f"identical greedy text on both paths: {same_text}")


if __name__ == "__main__":
    main()
