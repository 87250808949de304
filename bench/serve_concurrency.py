"""Continuous batching under load: aggregate decode tok/s and TTFT with 1..16 concurrent streaming clients.

    .venv/bin/python bench/serve_concurrency.py [--slots 4,8] [--levels 1,4,8,16] [--rounds 2] [--tokens 64]
        [--baseline-src /path/to/main/src] [--no-llama-server] [--out results.json]

Starts, side by side on loopback ports (real HTTP, SSE streaming, the bundled SmolLM2-135M, rate limits and
the response cache off, n_ctx 1024 per slot):

- ``slots=1``: ``genloom serve`` from this checkout with ``GENLOOM_LLAMACPP_SLOTS=1`` (one generation at a
  time, as before issue 20) -- the named baseline every ratio is against;
- ``slots=N``: the same with N slots, for each N in ``--slots`` (continuous batching);
- ``main``: with ``--baseline-src``, ``genloom serve`` from that source tree (today's code, one at a time);
- ``llama_cpp.server``: llama-cpp-python's own OpenAI server on the same GGUF (skip with --no-llama-server).

For each level c, every server in turn gets c clients at once, each streaming ``--rounds`` requests one after
another (greedy, ``--tokens`` max tokens, a different story prompt per request so nothing is cached). Printed
per server and level: aggregate tok/s (all completion tokens / wall time), TTFT p50/p95, per-request decode
tok/s (tokens after the first / time after the first); then the ratios against slots=1. First, without any
server: ms per llama_decode step for 1, 4, 8, 16 one-token sequences (the ceiling of batching on this CPU).
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

from genloom.backends.llm.llamacpp import bundled_model_path

TOPICS = ["a dragon", "the sea", "a robot", "a lighthouse", "a cat", "a train", "a forest", "a city", "a comet",
          "a baker", "a river", "a clock", "a violin", "a desert", "a garden", "a ship", "a mountain", "a storm",
          "a library", "an island", "a fox", "a bridge", "a market", "a moon"]  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(
    name: str, cmd: list[str], env: dict[str, str], url: str, health: str
) -> tuple[str, subprocess.Popen[bytes], str]:
    log = open(f"/tmp/bench-conc-{name.replace('=', '')}.log", "wb")  # noqa: SIM115 (lives with the process)
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    for _ in range(1200):
        if proc.poll() is not None:
            raise SystemExit(f"{name} exited with {proc.returncode}: {' '.join(cmd)}")
        try:
            if httpx.get(url + health, timeout=2).status_code == 200:
                return name, proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"{name} did not start")


def servers(a: argparse.Namespace) -> list[tuple[str, subprocess.Popen[bytes], str]]:
    out = []
    here = str(Path(__file__).resolve().parents[1] / "src")
    common = {**os.environ, "GENLOOM_RATE_LIMIT_RPM": "0", "GENLOOM_RATE_LIMIT_TPM": "0", "GENLOOM_CACHE_TTL": "0",
              "GENLOOM_N_CTX": "1024", "GENLOOM_N_THREADS": str(a.threads), "GENLOOM_QUEUE_SIZE": "64"}  # fmt: skip
    plan = [("slots=1", here, 1), *((f"slots={n}", here, n) for n in map(int, a.slots.split(",")))]
    if a.baseline_src:
        plan.insert(0, ("main", a.baseline_src, 1))
    for name, src, slots in plan:
        port = free_port()
        env = {**common, "PYTHONPATH": src, "GENLOOM_HOME": f"/tmp/genloom-bench-conc-{port}",
               "GENLOOM_LLAMACPP_SLOTS": str(slots)}  # fmt: skip
        cmd = [sys.executable, "-m", "genloom.cli.main", "serve", "--port", str(port), "-m", "llamacpp:"]
        out.append(start(name, cmd, env, f"http://127.0.0.1:{port}", "/healthz"))
    if a.llama_server:
        port = free_port()
        cmd = [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(bundled_model_path()),
            "--n_ctx",
            "1024",
            "--n_threads",
            str(a.threads),
            "--n_threads_batch",
            str(a.threads),
            "--port",
            str(port),
            "--model_alias",
            "llamacpp:",
            "--interrupt_requests",
            "False",
        ]  # fmt: skip (queue, do not cut off)
        out.append(start("llama_cpp.server", cmd, dict(os.environ), f"http://127.0.0.1:{port}", "/v1/models"))
    return out


def body(prompt: str, tokens: int) -> dict:
    return {"model": "llamacpp:", "messages": [{"role": "user", "content": prompt}], "max_tokens": tokens,
            "stream": True, "stream_options": {"include_usage": True}, "temperature": 0, "seed": 1}  # fmt: skip


async def request(http: httpx.AsyncClient, prompt: str, tokens: int) -> dict:
    try:
        return await _request(http, prompt, tokens)
    except httpx.HTTPError as e:
        return {"error": f"{type(e).__name__}: {e}"}


async def _request(http: httpx.AsyncClient, prompt: str, tokens: int) -> dict:
    t0 = time.perf_counter()
    t_first, n, usage = None, 0, None
    async with http.stream("POST", "/v1/chat/completions", json=body(prompt, tokens)) as r:
        if r.status_code != 200:
            return {"error": f"HTTP {r.status_code}: {(await r.aread())[:200]!r}"}
        async for line in r.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if "error" in chunk:
                return {"error": str(chunk["error"])[:200]}
            if chunk.get("usage"):
                usage = chunk["usage"]
            if chunk.get("choices") and chunk["choices"][0].get("delta", {}).get("content"):
                n += 1
                t_first = t_first or time.perf_counter()
    t_end = time.perf_counter()
    if t_first is None:
        return {"error": "no tokens"}
    toks = usage["completion_tokens"] if usage else n
    return {
        "ttft": t_first - t0,
        "tokens": toks,
        "decode": (toks - 1) / (t_end - t_first) if toks > 1 else 0.0,
    }


async def level(url: str, clients: int, rounds: int, tokens: int, salt: int) -> dict:
    async with httpx.AsyncClient(
        base_url=url, timeout=900, limits=httpx.Limits(max_connections=clients + 4)
    ) as http:

        async def client(i: int) -> list[dict]:
            res = []
            for r in range(rounds):
                topic = TOPICS[(i * rounds + r + salt) % len(TOPICS)]
                res.append(
                    await request(http, f"Write a long story about {topic}. (#{salt}-{i}-{r})", tokens)
                )
            return res

        t0 = time.perf_counter()
        per = await asyncio.gather(*(client(i) for i in range(clients)))
        wall = time.perf_counter() - t0
    done = [x for rs in per for x in rs if "error" not in x]
    errors = [x["error"] for rs in per for x in rs if "error" in x]
    ttft = sorted(x["ttft"] for x in done)
    return {"clients": clients, "requests": clients * rounds, "ok": len(done), "errors": errors[:3],
            "tokens": sum(x["tokens"] for x in done), "wall": wall,
            "aggregate": sum(x["tokens"] for x in done) / wall,
            "ttft_p50": pct(ttft, 50), "ttft_p95": pct(ttft, 95),
            "decode": statistics.median(x["decode"] for x in done) if done else 0.0}  # fmt: skip


def kernel(threads: int, rounds: int = 5) -> dict[int, float]:
    """The ceiling batching can reach here: ms per llama_decode step of b one-token sequences (no server, no
    sampling) -- if 16 tokens in one step cost 16x one token, the CPU is compute-bound and batching cannot help."""
    from genloom.backends.llm.llamacpp.model import runtime

    rt = runtime(bundled_model_path(), n_ctx=1024, n_threads=threads, n_batch=512)
    ctx = rt.batch_context(16)
    prompt = rt.tokenize("Write a long story about a dragon.", bos=True)
    for seq in range(16):
        ctx.decode([(seq, 0, prompt, True)])
    times: dict[int, list[float]] = {b: [] for b in (1, 4, 8, 16)}
    for _ in range(rounds):
        for b, ts in times.items():  # interleaved: a load change hits every size alike
            t = time.perf_counter()
            ctx.decode([(seq, len(prompt), [100 + seq], True) for seq in range(b)])
            ts.append(time.perf_counter() - t)
            for seq in range(b):
                ctx.forget(seq, len(prompt))
    ctx.close()
    return {b: statistics.median(ts) * 1000 for b, ts in times.items()}


def pct(xs: list[float], p: float) -> float:
    return xs[min(len(xs) - 1, max(0, round(p / 100 * (len(xs) - 1))))] if xs else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--slots", default="8", help="slot counts to compare with slots=1, e.g. 4,8")
    ap.add_argument("--levels", default="1,4,8,16")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=max(1, len(os.sched_getaffinity(0))))
    ap.add_argument("--baseline-src", default="", help="a source tree to run as 'main' (today's genloom)")
    ap.add_argument("--no-llama-server", dest="llama_server", action="store_false")
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    ms = kernel(a.threads)
    print("llama_decode per step, b sequences x 1 token: " + ", ".join(
        f"b={b} {t:.1f} ms ({b * ms[1] / t:.2f}x the tok/s of b=1)" for b, t in ms.items()))  # fmt: skip
    procs = servers(a)
    results: dict[str, list[dict]] = {name: [] for name, _, _ in procs}
    try:
        for _, _, url in procs:  # warm up: load the model in each server
            asyncio.run(level(url, 1, 1, 8, salt=99))
        for k, c in enumerate(int(x) for x in a.levels.split(",")):
            for name, _, url in procs[k % len(procs) :] + procs[: k % len(procs)]:  # rotate who goes first
                r = asyncio.run(level(url, c, a.rounds, a.tokens, salt=k))
                results[name].append(r)
                print(f"{name:>18}  {c:>2} clients  {r['ok']}/{r['requests']} ok  aggregate {r['aggregate']:6.1f} tok/s"
                      f"  TTFT p50 {r['ttft_p50']:5.2f} s p95 {r['ttft_p95']:5.2f} s  decode/request {r['decode']:6.1f}"
                      f" tok/s  ({r['tokens']} tokens, {r['wall']:.1f} s){'  errors ' + str(r['errors']) if r['errors'] else ''}",
                      flush=True)  # fmt: skip
    finally:
        for _, p, _ in procs:
            p.terminate()
        for _, p, _ in procs:
            p.wait(timeout=30)
    base = results["slots=1"]
    print(f"load average at end: {os.getloadavg()}")
    print("aggregate tok/s ratio vs slots=1:")
    for name, rs in results.items():
        print(f"  {name:>18}  " + "  ".join(f"{r['clients']:>2}: {r['aggregate'] / b['aggregate']:.2f}x"
                                           for r, b in zip(rs, base, strict=True)))  # fmt: skip
    one = {name: rs[0]["decode"] for name, rs in results.items() if rs[0]["clients"] == 1}
    if one:
        print("single-client decode tok/s ratio vs slots=1: "
              + ", ".join(f"{n} {v / one['slots=1']:.3f}" for n, v in one.items()))  # fmt: skip
    if a.out:
        Path(a.out).write_text(json.dumps({"args": vars(a), "results": results}, indent=1))


if __name__ == "__main__":
    main()
