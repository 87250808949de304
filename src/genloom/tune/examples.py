"""Training examples: what ``genloom tune data`` writes and ``genloom tune train`` reads.

One JSON object per line, either an SFT example or a preference pair:

    {"messages": [{"role": "system", "content": "..."}, {"role": "user", "content": "..."}],
     "completion": "The answer [1].", "question": "...", "source": "kb", "synthetic": true}
    {"messages": [...], "chosen": "a good answer", "rejected": "a worse one", "question": "...",
     "source": "feedback"}

``messages`` is the prompt (it ends with a user turn); the chat template is applied at training time with
the GGUF's own template, as serving applies it (genloom.tune.chat). ``question`` groups examples for the
held-out split (every example about one question lands on the same side) and for dedupe. Files are
checked line by line: an error names its line and what to write instead; unknown keys are an error.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genloom.errors import NotFound, UserError

ROLES = ("system", "user", "assistant")
KEYS = {
    "messages": "the prompt: a list of {role, content}, ending with a user turn (required)",
    "completion": "the answer to learn (SFT examples)",
    "chosen": "the preferred answer (preference pairs)",
    "rejected": "the worse answer (preference pairs)",
    "question": "the question the example is about (split and dedupe key; default: the last user turn)",
    "source": "where it came from: chat, kb, feedback, eval, claims",
    "synthetic": "true when genloom generated it (e.g. from a knowledge base)",
    "meta": "any JSON object, carried through",
}


@dataclass(slots=True)
class Example:
    """An SFT example (``completion`` set) or a preference pair (``chosen`` and ``rejected`` set)."""

    messages: list[dict[str, str]]
    completion: str | None = None
    chosen: str | None = None
    rejected: str | None = None
    question: str = ""
    source: str = "chat"
    synthetic: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.question:
            self.question = next((m["content"] for m in reversed(self.messages) if m["role"] == "user"), "")

    @property
    def kind(self) -> str:
        return "sft" if self.completion is not None else "preference"

    def key(self) -> str:
        """Identity for dedupe: the prompt plus what is learnt from it."""
        body = json.dumps([self.messages, self.completion, self.chosen, self.rejected], sort_keys=True)
        return hashlib.sha256(body.encode("utf-8")).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"messages": self.messages}
        for k in ("completion", "chosen", "rejected"):
            if getattr(self, k) is not None:
                d[k] = getattr(self, k)
        d.update(question=self.question, source=self.source)
        if self.synthetic:
            d["synthetic"] = True
        if self.meta:
            d["meta"] = self.meta
        return d


def check_messages(value: Any, where: str, *, prompt: bool = True) -> list[dict[str, str]]:
    """A list of {role, content}; as a prompt it must end with a user turn."""
    if not isinstance(value, list) or not value:
        raise UserError(f"{where}: 'messages' must be a non-empty list", hint='e.g. [{"role": "user", ...}]')
    out = []
    for i, m in enumerate(value):
        if not isinstance(m, dict) or set(m) - {"role", "content"} or "role" not in m or "content" not in m:
            raise UserError(
                f"{where}: messages[{i}] must be an object with exactly 'role' and 'content'",
                hint='e.g. {"role": "user", "content": "How do I ...?"}',
            )
        if m["role"] not in ROLES:
            raise UserError(f"{where}: messages[{i}] has role {m['role']!r}", hint=f"use one of {ROLES}")
        if not isinstance(m["content"], str):
            raise UserError(f"{where}: messages[{i}].content must be a string", hint="write the text")
        out.append({"role": m["role"], "content": m["content"]})
    if prompt and out[-1]["role"] != "user":
        raise UserError(
            f"{where}: the prompt must end with a user turn, it ends with {out[-1]['role']!r}",
            hint="put the answer to learn in 'completion' (or 'chosen'/'rejected'), not in messages",
        )
    return out


def _text(obj: dict[str, Any], key: str, where: str) -> str | None:
    v = obj.get(key)
    if v is None:
        return None
    if not isinstance(v, str) or not v.strip():
        raise UserError(f"{where}: {key!r} must be a non-empty string", hint=f"write {key!r} as text")
    return v


def parse_example(obj: Any, where: str) -> Example:
    if not isinstance(obj, dict):
        raise UserError(f"{where}: expected a JSON object, got {type(obj).__name__}", hint=KEYS["messages"])
    unknown = sorted(set(obj) - set(KEYS))
    if unknown:
        close = difflib.get_close_matches(unknown[0], KEYS, n=1)
        raise UserError(
            f"{where}: unknown key {unknown[0]!r}",
            hint=(f"did you mean {close[0]!r}? " if close else "") + f"known keys: {', '.join(KEYS)}",
        )
    if "messages" not in obj:
        raise UserError(f"{where}: no 'messages'", hint=KEYS["messages"])
    messages = check_messages(obj["messages"], where)
    completion, chosen, rejected = (_text(obj, k, where) for k in ("completion", "chosen", "rejected"))
    if completion is not None and (chosen is not None or rejected is not None):
        raise UserError(f"{where}: both 'completion' and 'chosen'/'rejected'", hint="one example, one kind")
    if completion is None and (chosen is None or rejected is None):
        raise UserError(
            f"{where}: needs 'completion' (SFT) or both 'chosen' and 'rejected' (preference)",
            hint="add the answer to learn",
        )
    if chosen is not None and chosen == rejected:
        raise UserError(
            f"{where}: 'chosen' and 'rejected' are the same text", hint="a pair needs two answers"
        )
    meta = obj.get("meta", {})
    if not isinstance(meta, dict):
        raise UserError(f"{where}: 'meta' must be a JSON object", hint='e.g. "meta": {"by": "me"}')
    synthetic = obj.get("synthetic", False)
    if not isinstance(synthetic, bool):
        raise UserError(f"{where}: 'synthetic' must be true or false", hint='e.g. "synthetic": true')
    return Example(
        messages, completion, chosen, rejected, _text(obj, "question", where) or "",
        _text(obj, "source", where) or "chat", synthetic, meta,
    )  # fmt: skip


def read_jsonl(path: str | Path) -> Iterable[tuple[int, str, Any]]:
    """(line number, 'file line N', decoded object) for every non-empty line; bad JSON names its line."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise NotFound(f"no such file: {path}", hint="pass a .jsonl file, one JSON object per line")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise UserError(f"{p} is not UTF-8 text ({e.reason})", hint="save it as UTF-8") from None
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        where = f"{p.name} line {n}"
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as e:
            raise UserError(
                f"{where}: not valid JSON ({e.msg} at column {e.colno})",
                hint="each line must be one complete JSON object",
            ) from None
        yield n, where, obj


def load_examples(path: str | Path, kind: str | None = None) -> list[Example]:
    """Read a training file written by ``genloom tune data``; ``kind`` ('sft'/'preference') must match."""
    out = [parse_example(obj, where) for _, where, obj in read_jsonl(path)]
    if not out:
        raise UserError(f"{path} has no examples", hint="build one with: genloom tune data ...")
    if kind is not None:
        wrong = [i for i, e in enumerate(out) if e.kind != kind]
        if wrong:
            raise UserError(
                f"{path}: example {wrong[0] + 1} is a {out[wrong[0]].kind} example, this needs {kind}",
                hint="--method lora trains on completions, --method dpo on chosen/rejected pairs",
            )
    return out


def write_examples(path: str | Path, examples: Sequence[Example]) -> str:
    """Write JSONL; returns the sha256 of what was written (the data hash the registry records)."""
    body = "".join(json.dumps(e.to_dict(), ensure_ascii=False, sort_keys=True) + "\n" for e in examples)
    p = Path(path).expanduser()
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(p.suffix + ".tmp")
    tmp.write_text(body, encoding="utf-8")
    tmp.replace(p)  # never a half-written training file
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def data_hash(paths: Sequence[str | Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(Path(p).expanduser().read_bytes())
    return h.hexdigest()


def dedupe(examples: Iterable[Example]) -> tuple[list[Example], int]:
    """Drop exact repeats (same prompt and answer); returns (kept, dropped count). First one wins."""
    seen: set[str] = set()
    kept, dropped = [], 0
    for e in examples:
        k = e.key()
        if k in seen:
            dropped += 1
        else:
            seen.add(k)
            kept.append(e)
    return kept, dropped


_WS = re.compile(r"\s+")


def question_key(q: str) -> str:
    return _WS.sub(" ", q.strip().lower()).rstrip("?.! ")


def split(examples: Sequence[Example], held_out: float, seed: int = 0) -> tuple[list[Example], list[Example]]:
    """(train, held-out), kept apart by question: no question has examples on both sides."""
    if not 0 <= held_out < 1:
        raise UserError(f"the held-out share must be in [0, 1), got {held_out}", hint="e.g. --held-out 0.1")
    questions = sorted({question_key(e.question) for e in examples})
    rng = random.Random(seed)
    rng.shuffle(questions)
    n = round(len(questions) * held_out)
    if held_out > 0 and n == 0 and len(questions) > 1:
        n = 1
    out = set(questions[:n])
    return (
        [e for e in examples if question_key(e.question) not in out],
        [e for e in examples if question_key(e.question) in out],
    )
