"""Fine-tuning costs on this machine: training tokens/s and peak RSS, and a GGUF adapter's decode speed vs the base.

    python bench/tune.py --data DATA.jsonl [--steps 4] [--adapter ADAPTER.gguf] [--threads 2]
    python bench/tune.py --run RUN_DIR       # report a finished genloom tune train run, time its adapter

1. training: ``genloom.tune.train`` for ``--steps`` LoRA steps on the file (a fresh run folder, in a child
   process so its peak RSS is its own); prints tokens/s, seconds/step, peak RSS.
2. decode: the same prompt decoded greedily for 128 tokens by the base (baseline, measured in the same run)
   and by the base + ``--adapter`` (default: the adapter trained in step 1), alternating, 3 rounds each;
   prints tokens/s and the ratio (target >= 0.9x).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TRAIN = """
import json, sys
from genloom.tune import TrainConfig, train
run = train(sys.argv[1], sys.argv[2], TrainConfig(max_steps=int(sys.argv[3]), batch_size=4, threads=int(sys.argv[4]),
            save_steps=1000))
print(json.dumps(run.metrics))
"""


def decode_rate(lora: str | None, threads: int, tokens: int = 128) -> float:
    from genloom.backends.llm.llamacpp import LlamaCppLLM
    from genloom.types import Message, SamplingParams

    llm = LlamaCppLLM(None, n_ctx=1024, n_threads=threads, lora_path=lora)
    msgs = [Message("user", "Write a long story about a lighthouse keeper and the sea.")]
    params = SamplingParams(max_tokens=tokens, temperature=0, seed=0)
    list(llm.stream(msgs, SamplingParams(max_tokens=4, temperature=0)))  # load, warm up
    n = 0
    first = None
    for d in llm.stream(msgs, params):
        if d.text and first is None:
            first = time.perf_counter()
        if d.usage:
            n = d.usage.completion_tokens
    end = time.perf_counter()
    return (n - 1) / (end - (first or end)) if n > 1 else 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, help="a genloom tune data SFT file")
    ap.add_argument("--run", type=Path, help="a finished run folder instead of training here")
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--adapter", type=Path, help="GGUF adapter to time (default: the one trained here)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tokens", type=int, default=128)
    args = ap.parse_args()
    t0 = time.perf_counter()
    if args.run:
        run_dir = args.run
        m = json.loads((run_dir / "metrics.json").read_text())
    elif args.data:
        run_dir = Path(tempfile.mkdtemp(prefix="bench-tune-")) / "run"
        proc = subprocess.run([sys.executable, "-c", TRAIN, str(args.data), str(run_dir), str(args.steps),
                               str(args.threads)], capture_output=True, text=True)  # fmt: skip
        if proc.returncode != 0:
            sys.exit(proc.stderr[-3000:])
        m = json.loads(proc.stdout.strip().splitlines()[-1])
    else:
        sys.exit("pass --data FILE (train here) or --run DIR (a finished run)")
    print(flush=True)
    print(f"training: {m['steps']} steps on {m.get('threads', args.threads)} threads: {m['tokens_seen']} tokens in "
          f"{m['wall_seconds']} s = {m['tokens_per_second']} tokens/s, {m['wall_seconds'] / m['steps']:.1f} s/step; "
          f"peak RSS {m['peak_rss_mb']} MB" + ("" if args.run else f"; process {time.perf_counter() - t0:.1f} s with model load"))  # fmt: skip
    adapter = args.adapter
    if adapter is None:
        from genloom.tune.chat import base_gguf
        from genloom.tune.export import export_adapter

        adapter = run_dir / "adapter.gguf"
        if not adapter.exists():
            export_adapter(run_dir / "adapter", adapter, base_gguf("llamacpp:"))
    base, tuned = [], []
    for i in range(args.rounds):
        base.append(decode_rate(None, args.threads, args.tokens))
        tuned.append(decode_rate(str(adapter), args.threads, args.tokens))
        print(f"round {i + 1}: base {base[-1]:.1f} tok/s, adapter {tuned[-1]:.1f} tok/s", flush=True)
    b, t = statistics.median(base), statistics.median(tuned)
    print(f"decode, {args.tokens} tokens greedy, median of {args.rounds}: base (baseline) {b:.1f} tok/s, base + adapter {t:.1f} tok/s "
          f"-> {t / b:.2f}x (rounds: base {[round(x, 1) for x in base]}, adapter {[round(x, 1) for x in tuned]})")  # fmt: skip


if __name__ == "__main__":
    main()
