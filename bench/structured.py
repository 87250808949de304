"""Constrained decoding speed: genloom's token masking vs unconstrained decoding, same model and prompt.

    .venv/bin/python bench/structured.py [--rounds 5] [--max-tokens 256] [--schema invoice]

Paths, interleaved round by round so machine load hits all of them alike (greedy, KV cache reset first):
  (a) unconstrained  Engine.stream on the embedded llama.cpp backend (the baseline)
  (b) constrained    Engine.stream(..., constraint=schema): the grammar hook in genloom's token loop,
                     grammar-forced tokens fed in one batch (fast-forward)
  (c) mask only      as (b) with fast-forward off: a mask computed and applied for every single token
  (d) llama-cpp-python's logits_processor route with the same llguidance matcher (what we avoid)
Decode tokens/s = (tokens - 1) / (time after the first token). Also prints the one-off tokenizer build
time and the grammar compile time for every schema in tests/schema_suite.py. Target: (b)/(a) >= 0.90.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import llama_cpp
import numpy as np

from genloom import Engine, SamplingParams
from genloom.backends.llm.llamacpp import LlamaCppLLM, bundled_model_path
from genloom.backends.llm.llamacpp import grammar_hook as steer
from genloom.generate.extract import EXTRACT_SYSTEM
from genloom.structured import Constraint, OutputIncomplete
from genloom.structured.grammar import matcher

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from schema_suite import SUITE


def run_engine(engine: Engine, messages, params: SamplingParams, constraint) -> tuple[float, int, float]:
    engine.backend.runtime.reset()
    t_first = None
    c_first = 0.0
    s = engine.stream(messages, params, constraint=constraint)
    try:
        for _ in s:
            if t_first is None:
                t_first, c_first = time.perf_counter(), time.process_time()
    except OutputIncomplete:  # ran out of --max-tokens: the speed is still what we measure
        pass
    t_end, c_end = time.perf_counter(), time.process_time()
    assert s.completion is not None and t_first is not None
    n = s.completion.usage.completion_tokens
    return (n - 1) / (t_end - t_first), n, (c_end - c_first) * 1000 / (n - 1)


def run_logits_processor(
    backend: LlamaCppLLM, messages, constraint: Constraint, max_tokens: int
) -> tuple[float, int]:
    """llguidance through llama-cpp-python's own logits_processor hook (numpy recarray per token)."""
    llm = backend.runtime.llama
    llm.reset()
    tok = backend.runtime.lltokenizer()
    m = matcher(constraint, tok)
    ids = backend.prompt_ids(messages)
    n_vocab = llm.n_vocab()
    bitmask = np.full((n_vocab + 31) // 32, -1, dtype=np.int32)
    seen = [len(ids)]

    def proc(input_ids, scores):
        for t in input_ids[seen[0] :]:
            m.consume_token(int(t))
        seen[0] = len(input_ids)
        m.unsafe_compute_mask_ptr(bitmask.ctypes.data, bitmask.nbytes)
        allowed = np.unpackbits(bitmask.view(np.uint8), bitorder="little", count=n_vocab).view(bool)
        return np.where(allowed, scores, -np.inf)

    n, t_first, c_first = 0, None, 0.0
    gen = llm.generate(
        ids,
        temp=0,
        top_k=40,
        top_p=0.95,
        min_p=0.05,
        repeat_penalty=1.0,
        logits_processor=llama_cpp.LogitsProcessorList([proc]),
    )
    for token in gen:
        if t_first is None:
            t_first, c_first = time.perf_counter(), time.process_time()
        if llama_cpp.llama_vocab_is_eog(llm._model.vocab, token):
            break
        n += 1
        m.consume_token(token)
        seen[0] += 1
        if m.is_stopped() or n >= max_tokens:
            break
    gen.close()
    t_end, c_end = time.perf_counter(), time.process_time()
    assert t_first is not None
    return (n - 1) / (t_end - t_first), n, (c_end - c_first) * 1000 / (n - 1)


def compile_times(backend: LlamaCppLLM) -> list[tuple[str, float, float, float]]:
    tok = backend.runtime.lltokenizer()
    rows = []
    for name, schema, _ in SUITE:
        t0 = time.perf_counter()
        c = Constraint.json_schema(schema)  # schema checks
        t1 = time.perf_counter()
        c.grammar()
        t2 = time.perf_counter()
        m = matcher(c, tok)
        mask = np.full((backend.runtime.n_vocab + 31) // 32, -1, dtype=np.int32)
        m.unsafe_compute_mask_ptr(mask.ctypes.data, mask.nbytes)  # first mask included: compile is lazy
        t3 = time.perf_counter()
        rows.append((name, (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--schema", default="invoice", help="a schema name from tests/schema_suite.py")
    args = ap.parse_args()

    backend = LlamaCppLLM(str(bundled_model_path()), n_ctx=4096, n_threads=args.threads, n_batch=512)
    engine = Engine(backend)
    _ = backend.runtime  # load the model before timing anything
    t = time.perf_counter()
    backend.runtime.lltokenizer()
    tok_s = time.perf_counter() - t

    schema, inputs = next((s, i) for n, s, i in SUITE if n == args.schema)
    constraint = Constraint.json_schema(schema)
    import json

    messages = [
        {
            "role": "system",
            "content": EXTRACT_SYSTEM.format(schema=json.dumps(schema, separators=(",", ":"))),
        },
        {"role": "user", "content": inputs[0]},
    ]
    params = SamplingParams(max_tokens=args.max_tokens, temperature=0, repeat_penalty=1.0, seed=1)

    def a():
        return run_engine(engine, messages, params, None)

    def b():
        steer.FAST_FORWARD = True
        return run_engine(engine, messages, params, constraint)

    def c():
        steer.FAST_FORWARD = False
        try:
            return run_engine(engine, messages, params, constraint)
        finally:
            steer.FAST_FORWARD = True

    def d():
        from genloom.types import as_messages

        return run_logits_processor(backend, as_messages(messages), constraint, args.max_tokens)

    paths = {"unconstrained": a, "constrained": b, "mask-only": c, "logits_processor": d}
    for f in paths.values():  # warm-up
        f()
    res: dict[str, list[float]] = {k: [] for k in paths}
    cpu: dict[str, list[float]] = {k: [] for k in paths}
    ntok: dict[str, int] = {}
    for _ in range(args.rounds):
        for k, f in paths.items():
            rate, n, cpu_ms = f()
            res[k].append(rate)
            cpu[k].append(cpu_ms)
            ntok[k] = n
    med = {k: statistics.median(v) for k, v in res.items()}
    cmed = {k: statistics.median(v) for k, v in cpu.items()}
    print(
        f"model: {backend.path.name}, threads {args.threads}, rounds {args.rounds}, greedy, schema {args.schema!r}"
    )
    print(
        f"llguidance tokenizer from the llama.cpp vocab: {tok_s * 1000:.0f} ms (once per model per process)"
    )
    print(
        f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs"
    )
    head = f"{'path':<18}{'decode tok/s':>14}{'tokens':>8}{'ratio':>8}{'CPU ms/token':>14}{'CPU ratio':>11}"
    print(head + "   (medians; ratio = rate / unconstrained; CPU ratio = unconstrained CPU / path CPU)")
    for k in paths:
        print(
            f"{k:<18}{med[k]:>14.1f}{ntok[k]:>8}{med[k] / med['unconstrained']:>8.3f}"
            f"{cmed[k]:>14.2f}{cmed['unconstrained'] / cmed[k]:>11.3f}"
        )
    print(f"target: constrained / unconstrained >= 0.90 -> {med['constrained'] / med['unconstrained']:.3f}")
    print()
    rows = compile_times(backend)
    print(f"{'schema':<22}{'check ms':>10}{'grammar ms':>12}{'matcher+1st mask ms':>22}")
    for name, x, y, z in rows:
        print(f"{name:<22}{x:>10.2f}{y:>12.2f}{z:>22.2f}")
    totals = [x + y + z for _, x, y, z in rows]
    print(f"compile total per schema: median {statistics.median(totals):.2f} ms, max {max(totals):.2f} ms")


if __name__ == "__main__":
    main()
