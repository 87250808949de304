"""The openai: backend's overhead: the bundled SmolLM2 in-process (llamacpp:) vs the same GGUF behind
llama-cpp-python's OpenAI-compatible server, driven by genloom's openai: backend (HTTP + SSE), same run.

    .venv/bin/python bench/openai_backend.py [--runs 5] [--tokens 64]

Both use 2 threads and greedy decoding with ignore-nothing prompts; reported: median time to first token and
median decode rate (tokens after the first / time after the first), as the Engine measures them. This is not a
vLLM measurement: it shows what the HTTP path costs, not what a GPU engine gains.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from genloom.backends.llm.llamacpp import LlamaCppLLM, bundled_model_path
from genloom.backends.llm.openai import OpenAILLM
from genloom.generate import Engine
from genloom.types import SamplingParams

PROMPTS = ["Explain what a database index is.", "Describe the water cycle.", "Write about autumn in a city."]


def measure(engine: Engine, runs: int, tokens: int) -> tuple[float, float]:
    ttft, rate = [], []
    for i in range(runs):
        c = engine.generate(
            PROMPTS[i % len(PROMPTS)], SamplingParams(max_tokens=tokens, temperature=0, seed=1)
        )
        ttft.append(c.timings.time_to_first_token or 0.0)
        rate.append(c.timings.tokens_per_second or 0.0)
    return statistics.median(ttft) * 1000, statistics.median(rate)


def measure_raw(base: str, runs: int, tokens: int) -> tuple[float, float]:
    """The same server read by plain httpx (no genloom): what the server itself delivers over SSE."""
    ttft, rate = [], []
    for i in range(runs):
        body = {"model": "smollm2", "messages": [{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}],
                "max_tokens": tokens, "temperature": 0, "seed": 1, "stream": True}  # fmt: skip
        t0, first, n = time.perf_counter(), None, 0
        with httpx.stream("POST", f"{base}/chat/completions", json=body, timeout=120) as r:
            for line in r.iter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                delta = json.loads(line[6:])["choices"][0]["delta"].get("content")
                if delta:
                    n += 1
                    if first is None:
                        first = time.perf_counter()
        end = time.perf_counter()
        ttft.append((first or end) - t0)
        rate.append((n - 1) / (end - first) if first and n > 1 and end > first else 0.0)
    return statistics.median(ttft) * 1000, statistics.median(rate)


@contextlib.contextmanager
def llama_server() -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server on the bundled GGUF (2 threads); yields its /v1 URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(bundled_model_path()), "--host", "127.0.0.1",
           "--port", str(port), "--n_ctx", "2048", "--n_threads", "2", "--model_alias", "smollm2"]  # fmt: skip
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            for _ in range(300):
                try:
                    httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
            yield f"http://127.0.0.1:{port}/v1"
        finally:
            proc.terminate()
            proc.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--tokens", type=int, default=64)
    args = ap.parse_args()
    with llama_server() as base:
        remote = Engine(OpenAILLM(base, "smollm2"))
        # the two remote readers back to back, before the in-process model is even loaded: on 2 cores
        # nothing else in this process competes with the server while they run
        measure(remote, 1, 8), measure_raw(base, 1, 8)  # warm-up
        remote_row = ("openai: -> llama_cpp.server", *measure(remote, args.runs, args.tokens))
        raw_row = (
            "plain httpx -> llama_cpp.server (SSE pieces/s)",
            *measure_raw(base, args.runs, args.tokens),
        )
        local = Engine(LlamaCppLLM(None, n_ctx=2048, n_threads=2))
        measure(local, 1, 8)
        rows = [
            ("llamacpp: in-process (baseline)", *measure(local, args.runs, args.tokens)),
            remote_row,
            raw_row,
        ]
    print(f"\n{args.runs} runs x {args.tokens} tokens, greedy, 2 threads\n")
    print("| path | TTFT p50 ms | decode tok/s p50 | vs baseline |")
    print("|---|---|---|---|")
    for name, ttft, rate in rows:
        print(f"| {name} | {ttft:.0f} | {rate:.1f} | {rate / rows[0][2]:.2f}x |")


if __name__ == "__main__":
    main()
