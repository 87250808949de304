"""``genloom tune data``: gather examples from every source, dedupe, split by question, write the files.

    report = build_dataset(out="data/", kb="docs", chat=["pairs.jsonl"], feedback=["fb.jsonl"])
    report["files"]["train"], report["counts"], report["skipped"]

Writes ``sft.train.jsonl`` / ``sft.heldout.jsonl`` and, when there are preference pairs,
``pref.train.jsonl`` / ``pref.heldout.jsonl``, plus ``manifest.json`` (sources, counts per source, what was
skipped and why, the seed, each file's sha256). ``exclude`` names eval sets whose questions must never be
trained on: examples about those questions are dropped (and counted) before the split.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from genloom.errors import UserError
from genloom.tune.examples import Example, dedupe, question_key, split, write_examples
from genloom.tune.sources import (
    Skipped,
    claim_pairs,
    feedback_pairs,
    from_chat_file,
    from_eval_set,
    from_feedback,
)


def build_dataset(
    out: str | Path,
    *,
    kb: str | None = None,
    kb_examples: int = 0,
    chat: Sequence[str | Path] = (),
    feedback: Sequence[str | Path] = (),
    eval_sets: Sequence[str | Path] = (),
    eval_runs: Sequence[str | Path] = (),
    exclude: Sequence[str | Path] = (),
    held_out: float = 0.1,
    unanswerable: float = 0.1,
    seed: int = 0,
    k: int = 5,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Build the training files in folder ``out``; ``kb_examples`` > 0 makes that many grounded examples
    from ``kb`` (0 with a kb: every candidate). Feedback/eval items about a KB are rebuilt against ``kb``."""
    from genloom.eval.dataset import load_dataset

    if not (kb or chat or feedback or eval_sets or eval_runs):
        raise UserError(
            "no data source given", hint="pass --kb NAME, --chat FILE, --feedback FILE or --eval-set FILE"
        )
    if eval_runs and not kb:
        raise UserError("--eval-run pairs are rebuilt from a knowledge base", hint="pass --kb NAME as well")
    banned = {question_key(c.question) for path in exclude for c in load_dataset(path)}
    opened: Any = None
    skipped = Skipped()
    examples: list[Example] = []
    try:
        if kb:
            from genloom.kb import KnowledgeBase
            from genloom.tune.grounded import examples_from_kb

            opened = KnowledgeBase.open(kb)
            examples += examples_from_kb(opened, k=k, unanswerable=unanswerable, limit=kb_examples, seed=seed,
                                         exclude_questions=banned, progress=progress)  # fmt: skip
        for path in chat:
            examples += from_chat_file(path)
        for path in feedback:
            examples += from_feedback(path, opened, skipped)
            examples += feedback_pairs(path, opened, skipped)
        for path in eval_sets:
            examples += from_eval_set(path, opened, skipped)
        for path in eval_runs:
            examples += claim_pairs(path, opened, skipped)
    finally:
        if opened is not None:
            opened.close()
    if banned:
        before = len(examples)
        examples = [e for e in examples if question_key(e.question) not in banned]
        if len(examples) < before:
            skipped["question is in an excluded eval set"] += before - len(examples)
    examples, dropped = dedupe(examples)
    if dropped:
        skipped["duplicate"] += dropped
    if not examples:
        raise UserError("the sources gave no examples", hint=f"skipped: {dict(skipped) or 'nothing'}")
    out = Path(out).expanduser()
    files: dict[str, dict[str, Any]] = {}
    counts: dict[str, Any] = {}
    for kind, prefix in (("sft", "sft"), ("preference", "pref")):
        chosen = [e for e in examples if e.kind == kind]
        if not chosen:
            continue
        train, held = split(chosen, held_out, seed)
        for part, rows in (("train", train), ("heldout", held)):
            path = out / f"{prefix}.{part}.jsonl"
            files[f"{prefix}.{part}"] = {
                "path": str(path),
                "examples": len(rows),
                "sha256": write_examples(path, rows),
            }
        counts[kind] = {
            "train": len(train), "heldout": len(held),
            "by_source": dict(Counter(e.source for e in chosen)),
            "synthetic": sum(e.synthetic for e in chosen),
            "by_kind": dict(Counter(str(e.meta.get("kind", "-")) for e in chosen)),
        }  # fmt: skip
    manifest = {
        "schema": "genloom.tune.data/1",
        "sources": {"kb": kb, "chat": [str(p) for p in chat], "feedback": [str(p) for p in feedback],
                    "eval_sets": [str(p) for p in eval_sets], "eval_runs": [str(p) for p in eval_runs],
                    "exclude": [str(p) for p in exclude]},
        "seed": seed, "held_out": held_out, "unanswerable": unanswerable,
        "counts": counts, "skipped": dict(skipped), "files": files,
    }  # fmt: skip
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
    return manifest
