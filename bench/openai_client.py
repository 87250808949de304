"""Where the openai: path's time goes: llama_cpp.server on the bundled GGUF, read three ways in one run --
a plain httpx SSE reader with a minimal body (baseline), the same reader with the body genloom sends, and
genloom's ``OpenAILLM.stream``. Reported: pieces per second after the first piece (one piece is one token
here), median of 9 runs of 64 greedy tokens.

    PYTHONPATH=src .venv/bin/python bench/openai_client.py
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from openai_backend import PROMPTS, llama_server

from genloom.backends.llm.openai import OpenAILLM
from genloom.types import Message, SamplingParams

PARAMS = SamplingParams(max_tokens=64, temperature=0, seed=1)


def rate(pieces: Iterator[str]) -> float:
    first, n = None, 0
    for _ in pieces:
        n += 1
        if first is None:
            first = time.perf_counter()
    end = time.perf_counter()
    return (n - 1) / (end - first) if first is not None and n > 1 else 0.0


def sse(base: str, body: dict) -> Iterator[str]:
    with httpx.stream("POST", f"{base}/chat/completions", json=body, timeout=120) as r:
        for line in r.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                choices = json.loads(line[6:])["choices"]
                if choices and choices[0]["delta"].get("content"):
                    yield choices[0]["delta"]["content"]


def main() -> None:
    with llama_server() as base:
        llm = OpenAILLM(base, "smollm2")

        def minimal(p: str) -> Iterator[str]:
            return sse(base, {"model": "smollm2", "messages": [{"role": "user", "content": p}],
                              "max_tokens": 64, "temperature": 0, "seed": 1, "stream": True})  # fmt: skip

        def genloom_body(p: str) -> Iterator[str]:
            return sse(base, llm.request_body([Message("user", p)], PARAMS))

        def genloom_client(p: str) -> Iterator[str]:
            return (d.text for d in llm.stream([Message("user", p)], PARAMS) if d.text)

        ways: list[tuple[str, Callable[[str], Iterator[str]]]] = [
            ("plain httpx reader, minimal body (baseline)", minimal),
            ("plain httpx reader, genloom's request body", genloom_body),
            ("genloom OpenAILLM.stream", genloom_client),
        ]
        rows = []
        for label, way in ways:
            rate(way(PROMPTS[0]))  # warm-up
            rows.append((label, statistics.median(rate(way(PROMPTS[i % 3])) for i in range(9))))
    print("\n| reader | pieces/s p50 | vs baseline |\n|---|---|---|")
    for label, r in rows:
        print(f"| {label} | {r:.1f} | {r / rows[0][1]:.2f}x |")


if __name__ == "__main__":
    main()
