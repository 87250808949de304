"""Small-only vs big-only vs the verified cascade on the debian-faq dev set (issue 21), same cases, same run.

    .venv/bin/python bench/cascade.py [--limit 20] [--small llamacpp:] [--big SPEC]

The grounded-answer eval (genloom.eval.evaluate, greedy, seed 0) runs three times: the small model alone, the
big model alone, and ``cascade:SMALL|BIG`` (the small answer stands when its claims are supported, setting
``cascade_min_supported``; else the big model answers). Printed: the quality metrics, the share of requests
the big model had to answer, and latency. Without ``--big`` the big side is the only other backend that can
run here: the same bundled GGUF behind llama-cpp-python's OpenAI-compatible server (``openai:`` spec, started
on loopback by this script), so big == small in quality and the run measures the mechanics (acceptance rate,
calls saved, the check's overhead), not a quality gap.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from answer import CACHE, DEV, debian_faq  # the corpus helper is shared, not copied

KEYS = ["hit@k", "faithfulness", "citation_precision", "citation_recall", "refusal_precision", "refusal_recall",
        "answered_rate", "extractive_rate", "prompt_tokens", "completion_tokens"]  # fmt: skip


@contextlib.contextmanager
def llama_server() -> Iterator[str]:
    from genloom.backends.llm.llamacpp import bundled_model_path

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    threads = os.environ.get("GENLOOM_N_THREADS", "1")
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(bundled_model_path()), "--host", "127.0.0.1",
           "--port", str(port), "--n_ctx", "4096", "--model_alias", "smollm2", "--n_threads", threads]  # fmt: skip
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            for _ in range(600):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.5)
            yield f"openai:http://127.0.0.1:{port}/v1#smollm2"
        finally:
            proc.terminate()
            proc.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=20)
    ap.add_argument("--small", default="llamacpp:")
    ap.add_argument("--big", default=None, help="default: the bundled GGUF behind llama_cpp.server (openai:)")
    ap.add_argument("--out", type=Path, default=CACHE / "cascade-out")
    args = ap.parse_args()
    os.environ.setdefault("GENLOOM_HOME", str(CACHE / "eval-home"))

    from genloom.eval import evaluate, load_dataset
    from genloom.kb import KnowledgeBase

    kb = KnowledgeBase.open("debian-faq", create=True)
    kb.ingest([debian_faq()])
    cases = load_dataset(DEV)[: args.limit]
    args.out.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        big = args.big or stack.enter_context(llama_server())
        specs = {"small-only": args.small, "big-only": big, "cascade": f"cascade:{args.small}|{big}"}
        rows = {}
        for name, spec in specs.items():
            t = time.perf_counter()
            run = evaluate(cases, kb=kb, k=5, model=spec, dataset=DEV)
            wall = time.perf_counter() - t
            routes = [c.get("route") for c in run.cases]
            to_big = sum(1 for r in routes if r and r["model"] == big) if name == "cascade" else (
                len(cases) if name == "big-only" else 0)  # fmt: skip
            rows[name] = {**{k: run.metrics.get(k) for k in KEYS}, "big_calls": to_big, "wall_s": round(wall, 1),
                          "p50_s": run.timings["summary"].get("latency_p50")}  # fmt: skip
            (args.out / f"run-{name}.json").write_text(json.dumps(run.to_dict(), indent=1, sort_keys=True))
            print(f"{name}: {len(cases)} cases in {wall:.0f}s", file=sys.stderr, flush=True)
    print(f"\ncases={len(cases)} small={args.small} big={big}\n")
    print("| metric | " + " | ".join(rows) + " |\n|---|" + "---|" * len(rows))
    for k in [*KEYS, "big_calls", "p50_s", "wall_s"]:
        vals = [rows[n][k] for n in rows]
        print(f"| {k} | " + " | ".join("n/a" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)
                                       for v in vals) + " |")  # fmt: skip
    c, s, b = rows["cascade"], rows["small-only"], rows["big-only"]
    if b["faithfulness"]:
        print(f"\ncascade keeps {c['faithfulness'] / b['faithfulness']:.2f}x of big-only faithfulness "
              f"with {c['big_calls']}/{len(cases)} big calls; small-only: {s['faithfulness'] / b['faithfulness']:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
