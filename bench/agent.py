"""Agent task success on knowledge-base tasks that need 1-3 tool calls; steps and tokens per task.

    .venv/bin/python bench/agent.py [--model llamacpp:] [--embedder minilm:] [--limit N] [--out FILE]
    .venv/bin/python bench/agent.py --oracle-only --embedder hash: --answer-model fake:   # check the harness

Knowledge base: this repository's README.md and docs/, ingested into a temporary GENLOOM_HOME.
Tasks: bench/agent_tasks.jsonl (id, task, tools allowed, expect, oracle tool calls, tags).

Success criterion of a task (written in its ``expect``):
  * every group in ``answer_contains`` has one alternative in the final answer (case-insensitive, whole words,
    the answer's [n] markers removed), and
  * every tool in ``must_call`` was called at least once and succeeded.
``cited`` additionally needs a citation whose source ends with ``expect.cites``.

Baseline, measured in the same run: the **oracle**, a scripted model that makes exactly the task's listed tool
calls and answers with the top passage each returned. It measures what the tools and the KB deliver when tool choice is
perfect (an upper bound for the tool-use part); the model's success is printed as a ratio to it. The oracle is
not a language model: its token counts are 0.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TASKS = Path(__file__).parent / "agent_tasks.jsonl"


@dataclass
class Call:
    id: str
    name: str
    arguments: str


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class Turn:
    text: str = ""
    tool_calls: list[Call] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    finish_reason: str = "stop"


class Oracle:
    """Makes the task's listed tool calls in order, then answers with the top passage of each search
    and the other tools' results."""

    def __init__(self, task: dict[str, Any], doc_ids: dict[str, str]) -> None:
        self.plan, self.doc_ids, self.i = list(task["oracle"]), doc_ids, 0

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, str):
            return re.sub(r"\{doc:([^}]+)\}", lambda m: self.doc_ids[m.group(1)], value)
        return value

    def generate(self, prompt_messages, params, *, tools=None, tool_choice="auto") -> Turn:
        if self.i < len(self.plan) and tool_choice != "none":
            step = self.plan[self.i]
            self.i += 1
            args = {k: self._resolve(v) for k, v in step["arguments"].items()}
            return Turn(
                tool_calls=[Call(f"oracle-{self.i}", step["tool"], json.dumps(args))],
                finish_reason="tool_calls",
            )
        # the top passage of each search (its passages are blocks separated by blank lines), other results whole
        seen = [m["content"].split("\n\n")[0] if m.get("name") == "search_kb" else m["content"]
                for m in prompt_messages if m["role"] == "tool"]  # fmt: skip
        return Turn(text="\n".join(seen) or "I do not know.")


def judge(task: dict[str, Any], result: Any) -> dict[str, Any]:
    expect = task["expect"]
    answer = re.sub(r"\[\d+(?:,\s*\d+)*\]", " ", result.answer or "").lower()
    found = all(
        any(re.search(rf"(?<![\w]){re.escape(alt.lower())}(?![\w])", answer) for alt in group)
        for group in expect.get("answer_contains", [])
    )
    ok_calls = {c["name"] for c in result.tool_calls if c["ok"]}
    called = all(name in ok_calls for name in expect.get("must_call", []))
    success = bool(result.answer) and found and called
    cites = expect.get("cites")
    cited = success and (not cites or any(c.source.endswith(cites) for c in result.citations))
    return {"success": success, "answer_ok": found, "calls_ok": called, "cited": cited}


def build_kb(embedder: str) -> None:
    from genloom.kb import KnowledgeBase

    with KnowledgeBase.open("repo", create=True, embedder=embedder) as kb:
        report = kb.ingest([ROOT / "README.md", ROOT / "docs"])
    print(f"KB 'repo': README.md + docs/ ({report.chunks} chunks, embedder {embedder})")


def run(
    name: str, tasks: list[dict[str, Any]], make_model: Any, answer_model: str | None, max_steps: int
) -> list[dict[str, Any]]:
    from genloom.agents import agent
    from genloom.kb import KnowledgeBase

    rows = []
    with KnowledgeBase.open("repo") as kb:
        doc_ids = {Path(d.source).name: d.doc_id for d in kb.documents()}
        for task in tasks:
            t0 = time.perf_counter()
            result = agent(
                task["task"],
                make_model(task, doc_ids),
                task["tools"],
                kb=kb,
                answer_model=answer_model,
                max_steps=max_steps,
            )
            row = {
                "id": task["id"],
                "tags": task["tags"],
                **judge(task, result),
                "steps": result.steps,
                "tool_calls": len(result.tool_calls),
                "tokens": result.usage.total_tokens,
                "seconds": round(time.perf_counter() - t0, 2),
                "stopped": result.stopped,
                "answer": (result.answer or "")[:300],
                "calls": [(c["name"], c["ok"]) for c in result.tool_calls],
            }
            rows.append(row)
            mark = "ok " if row["success"] else "-- "
            print(
                f"  {name:7s} {mark}{task['id']:18s} steps {row['steps']}  calls {row['tool_calls']}  "
                f"tokens {row['tokens']:5d}  {row['seconds']:6.2f}s  {row['stopped']}"
            )
    return rows


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(rows)
    out: dict[str, Any] = {
        "tasks": n,
        "success": sum(r["success"] for r in rows) / n,
        "cited": sum(r["cited"] for r in rows) / n,
        "mean_steps": statistics.mean(r["steps"] for r in rows),
        "mean_tool_calls": statistics.mean(r["tool_calls"] for r in rows),
        "mean_tokens": statistics.mean(r["tokens"] for r in rows),
        "mean_seconds": statistics.mean(r["seconds"] for r in rows),
    }
    tags = sorted({t for r in rows for t in r["tags"]})
    out["by_tag"] = {
        t: sum(r["success"] for r in rows if t in r["tags"]) / sum(t in r["tags"] for r in rows) for t in tags
    }
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--model", default="llamacpp:", help="tool-calling model spec (needs issue 12's LLM seam)"
    )
    ap.add_argument("--oracle-only", action="store_true", help="run only the oracle baseline (harness check)")
    ap.add_argument("--embedder", default="minilm:", help="embedder of the benchmark KB")
    ap.add_argument("--answer-model", default=None, help="model for ask_kb (default: --model)")
    ap.add_argument("--max-steps", type=int, default=6)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="write the per-task results as JSON")
    args = ap.parse_args()
    tasks = [json.loads(line) for line in TASKS.read_text().splitlines() if line.strip()]
    tasks = tasks[: args.limit] if args.limit else tasks

    os.environ["GENLOOM_HOME"] = tempfile.mkdtemp(prefix="genloom-agent-bench-")
    os.environ["GENLOOM_EMBEDDER"] = args.embedder
    sys.path.insert(0, str(ROOT / "src"))
    build_kb(args.embedder)
    answer_model = args.answer_model or args.model
    results: dict[str, Any] = {"command": " ".join(sys.argv), "tasks": len(tasks)}
    oracle = run("oracle", tasks, lambda task, ids: Oracle(task, ids), answer_model, args.max_steps)
    results["oracle"] = {"summary": summary(oracle), "rows": oracle}
    if not args.oracle_only:
        from genloom.errors import GenloomError
        from genloom.generate import Engine

        engine = Engine(args.model)  # one engine (one loaded model) for every task
        try:
            model_rows = run("model", tasks, lambda task, ids: engine, answer_model, args.max_steps)
        except GenloomError as e:  # e.g. an Engine without tool calling: report the oracle, say why not more
            print(f"\nthe model run stopped: {e}")
        else:
            results["model"] = {"spec": args.model, "summary": summary(model_rows), "rows": model_rows}
    print()
    for name in ("oracle", "model"):
        if name in results:
            s = results[name]["summary"]
            print(
                f"{name:7s} success {s['success']:.2f}  cited {s['cited']:.2f}  steps {s['mean_steps']:.2f}  "
                f"tool calls {s['mean_tool_calls']:.2f}  tokens {s['mean_tokens']:.0f}  {s['mean_seconds']:.2f}s/task"
            )
            print("        by tag: " + ", ".join(f"{t} {v:.2f}" for t, v in s["by_tag"].items()))
    if "model" in results:
        base = results["oracle"]["summary"]["success"]
        ratio = results["model"]["summary"]["success"] / base if base else float("nan")
        print(f"model success / oracle success = {ratio:.2f}")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
