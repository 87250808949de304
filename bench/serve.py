"""Serving overhead and behaviour under load: genloom's HTTP API vs raw llama-cpp-python in the same run.

    .venv/bin/python bench/serve.py [--rounds 5] [--max-tokens 128] [--clients 16] [--client-tokens 64]

Starts ``genloom serve`` (the bundled SmolLM2 GGUF, rate limits off) as a separate process on a loopback port.

1. Single client. Baseline (a): raw llama-cpp-python, ``Llama.create_chat_completion(stream=True)`` in this
   process. Candidate (b): one client streaming ``POST /v1/chat/completions`` (SSE) through HTTP. Same model,
   prompt, greedy settings and thread count; rounds alternate a/b; never both at once. Decode tokens/s counts
   the tokens after the first over the time after the first. Target: b/a >= 0.9.
2. ``--clients`` concurrent streaming clients, all sent at once: every one must finish without error;
   p50/p95/max TTFT, aggregate tokens/s (all tokens / wall time), per-client decode rate and Jain's fairness
   index over it (1.0 = equal service), and the order in which clients were served (FIFO means none starved).
3. The server process's memory: RSS now and peak (VmHWM).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import llama_cpp

from genloom.backends.llm.llamacpp import bundled_model_path

PROMPT = "Explain in a few sentences why the sky is blue."
SAMPLING = {"temperature": 0, "top_k": 40, "top_p": 0.95, "min_p": 0.05, "seed": 1}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_raw(llm: llama_cpp.Llama, max_tokens: int) -> tuple[float, int, float]:
    llm.reset()
    t0, t_first, n = time.perf_counter(), None, 0
    for chunk in llm.create_chat_completion(
        messages=[{"role": "user", "content": PROMPT}], stream=True, max_tokens=max_tokens,
        repeat_penalty=1.0, **SAMPLING,
    ):  # fmt: skip
        if chunk["choices"][0]["delta"].get("content"):
            n += 1
            if t_first is None:
                t_first = time.perf_counter()
    t_end = time.perf_counter()
    assert t_first is not None
    return t_first - t0, n, t_end - t_first


def body(max_tokens: int, prompt: str = PROMPT) -> dict:
    return {"model": "llamacpp:", "messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens,
            "stream": True, "stream_options": {"include_usage": True}, "repetition_penalty": 1.0, **SAMPLING}  # fmt: skip


def run_http(url: str, max_tokens: int) -> tuple[float, int, float]:
    t0, t_first, usage = time.perf_counter(), None, None
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body(max_tokens), timeout=120) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if chunk.get("usage"):
                usage = chunk["usage"]
            elif chunk["choices"] and chunk["choices"][0]["delta"].get("content") and t_first is None:
                t_first = time.perf_counter()
    t_end = time.perf_counter()
    assert t_first is not None and usage is not None
    return t_first - t0, usage["completion_tokens"], t_end - t_first


async def one_client(http: httpx.AsyncClient, i: int, max_tokens: int, t0: float) -> dict:
    t_first, n, usage = None, 0, None
    prompt = f"{PROMPT} (client {i})"
    async with http.stream("POST", "/v1/chat/completions", json=body(max_tokens, prompt)) as r:
        if r.status_code != 200:
            return {"client": i, "error": f"HTTP {r.status_code}: {(await r.aread())[:200]!r}"}
        async for line in r.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if "error" in chunk:
                return {"client": i, "error": chunk["error"]["message"]}
            if chunk.get("usage"):
                usage = chunk["usage"]
            elif chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
                n += 1
                if t_first is None:
                    t_first = time.perf_counter()
    t_end = time.perf_counter()
    if t_first is None or usage is None:
        return {"client": i, "error": "no tokens"}
    toks = usage["completion_tokens"]
    return {"client": i, "ttft": t_first - t0, "end": t_end - t0, "tokens": toks,
            "rate": (toks - 1) / (t_end - t_first) if toks > 1 and t_end > t_first else 0.0}  # fmt: skip


async def concurrent(url: str, clients: int, max_tokens: int) -> tuple[list[dict], float]:
    limits = httpx.Limits(max_connections=clients + 4)
    async with httpx.AsyncClient(base_url=url, timeout=600, limits=limits) as http:
        t0 = time.perf_counter()
        results = await asyncio.gather(*(one_client(http, i, max_tokens, t0) for i in range(clients)))
        return list(results), time.perf_counter() - t0


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(p / 100 * (len(xs) - 1))))]


def memory(pid: int) -> dict[str, float]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            key, val = line.split(":")
            out[key] = int(val.split()[0]) / 1024
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--client-tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=max(1, len(os.sched_getaffinity(0))))
    a = ap.parse_args()

    home = Path(os.environ.get("GENLOOM_BENCH_HOME", "/tmp/genloom-bench-serve"))
    port = free_port()
    env = {**os.environ, "GENLOOM_HOME": str(home), "GENLOOM_RATE_LIMIT_RPM": "0", "GENLOOM_RATE_LIMIT_TPM": "0",
           "GENLOOM_N_THREADS": str(a.threads), "GENLOOM_QUEUE_SIZE": str(max(32, a.clients))}  # fmt: skip
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    server = subprocess.Popen([sys.executable, "-m", "genloom.cli.main", "serve", "--port", str(port)], env=env,
                              stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        run_http(url, 8)  # load the model in the server
        mem_idle = memory(server.pid)
        llm = llama_cpp.Llama(
            str(bundled_model_path()), n_ctx=4096, n_threads=a.threads, n_batch=512, verbose=False
        )
        run_raw(llm, 8)

        raw, http = [], []
        for _ in range(a.rounds):
            raw.append(run_raw(llm, a.max_tokens))
            http.append(run_http(url, a.max_tokens))
        del llm

        def rate(r: tuple[float, int, float]) -> float:
            return (r[1] - 1) / r[2]

        raw_rate, http_rate = statistics.median(map(rate, raw)), statistics.median(map(rate, http))
        raw_ttft = statistics.median(r[0] for r in raw) * 1000
        http_ttft = statistics.median(r[0] for r in http) * 1000
        print(f"single client, {a.rounds} rounds x {a.max_tokens} tokens, {a.threads} threads")
        print(f"  (a) raw llama-cpp-python   decode {raw_rate:7.1f} tok/s   TTFT {raw_ttft:6.1f} ms")
        print(f"  (b) genloom over HTTP/SSE  decode {http_rate:7.1f} tok/s   TTFT {http_ttft:6.1f} ms")
        print(
            f"  ratio b/a: {http_rate / raw_rate:.3f} (target >= 0.9); TTFT overhead {http_ttft - raw_ttft:+.1f} ms"
        )

        results, wall = asyncio.run(concurrent(url, a.clients, a.client_tokens))
        ok = [r for r in results if "error" not in r]
        errors = [r for r in results if "error" in r]
        ttfts = [r["ttft"] for r in ok]
        rates = [r["rate"] for r in ok]
        total = sum(r["tokens"] for r in ok)
        jain = sum(rates) ** 2 / (len(rates) * sum(x * x for x in rates)) if rates else 0.0
        order = [r["client"] for r in sorted(ok, key=lambda r: r["ttft"])]
        print(f"{a.clients} concurrent streaming clients x {a.client_tokens} tokens")
        print(f"  completed {len(ok)}/{a.clients}, errors {len(errors)} {[e['error'] for e in errors][:3]}")
        if ok:
            print(f"  TTFT p50 {pct(ttfts, 50):.2f} s  p95 {pct(ttfts, 95):.2f} s  max {max(ttfts):.2f} s")
            print(f"  aggregate {total / wall:.1f} tok/s ({total} tokens in {wall:.2f} s)")
            print(f"  per-client decode tok/s min {min(rates):.1f} median {statistics.median(rates):.1f} "
                  f"max {max(rates):.1f}; Jain fairness {jain:.3f}")  # fmt: skip
            print(f"  served in order {order}")
        mem = memory(server.pid)
        print(f"server memory: RSS idle {mem_idle['VmRSS']:.0f} MiB, after load {mem['VmRSS']:.0f} MiB, "
              f"peak {mem['VmHWM']:.0f} MiB")  # fmt: skip
    finally:
        server.terminate()
        server.wait(20)


if __name__ == "__main__":
    main()
