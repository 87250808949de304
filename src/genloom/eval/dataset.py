"""Evaluation datasets: JSON Lines, one case per line, checked line by line.

    {"question": "How do I hold a package?", "answer": "Run apt-mark hold PKG.",
     "gold_sources": ["pkg-basics.en.html"], "should_refuse": false, "tags": ["packages"]}

Only ``question`` is required. Unknown keys are an error (a typo such as ``gold_source`` would otherwise
silently turn a metric off); free-form data goes under ``meta``.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genloom.errors import NotFound, UserError

FIELDS = {
    "id": "a stable case id (default: derived from the question)",
    "question": "the question to ask (required)",
    "answer": "a reference answer (turns on exact match, token F1, ROUGE-L, BLEU, chrF, similarity)",
    "gold_sources": "documents that should be retrieved and cited: file names or path suffixes",
    "gold_section": "the section that answers it (informational, shown in the report)",
    "should_refuse": "true when the knowledge base cannot answer it (refusal metrics)",
    "tags": "labels; every metric is also reported per tag",
    "synthetic": "true for generated cases (genloom eval generate-set)",
    "meta": "any JSON object, carried through to the results",
}


@dataclass(frozen=True, slots=True)
class EvalCase:
    id: str
    question: str
    answer: str | None = None
    gold_sources: tuple[str, ...] = ()
    gold_section: str | None = None
    should_refuse: bool = False
    tags: tuple[str, ...] = ()
    synthetic: bool = False
    meta: dict[str, Any] = field(default_factory=dict)
    line: int = 0

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "question": self.question}
        if self.answer is not None:
            d["answer"] = self.answer
        if self.gold_sources:
            d["gold_sources"] = list(self.gold_sources)
        if self.gold_section is not None:
            d["gold_section"] = self.gold_section
        d["should_refuse"] = self.should_refuse
        d["tags"] = list(self.tags)
        if self.synthetic:
            d["synthetic"] = True
        if self.meta:
            d["meta"] = self.meta
        return d


def case_id(question: str) -> str:
    return "q" + hashlib.sha1(question.strip().encode("utf-8")).hexdigest()[:10]


def parse_case(obj: Any, where: str, line: int = 0) -> EvalCase:
    """One case from a decoded JSON value; ``where`` (e.g. 'data.jsonl line 3') prefixes every error."""

    def bad(msg: str, hint: str) -> UserError:
        return UserError(f"{where}: {msg}", hint=hint)

    if not isinstance(obj, dict):
        raise bad(f"expected a JSON object, got {type(obj).__name__}", 'write {"question": "..."}')
    unknown = sorted(set(obj) - set(FIELDS))
    if unknown:
        close = difflib.get_close_matches(unknown[0], FIELDS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise bad(
            f"unknown key {unknown[0]!r}", hint + f"known keys: {', '.join(FIELDS)}; put extras in 'meta'"
        )
    q = obj.get("question")
    if not isinstance(q, str) or not q.strip():
        raise bad("'question' must be a non-empty string", 'every line needs {"question": "..."}')

    def opt_str(key: str) -> str | None:
        v = obj.get(key)
        if v is not None and not isinstance(v, str):
            raise bad(f"{key!r} must be a string, got {type(v).__name__}", f"write {key!r} as a JSON string")
        return v

    def str_list(key: str) -> tuple[str, ...]:
        v = obj.get(key, [])
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list) or not all(isinstance(x, str) and x.strip() for x in v):
            raise bad(f"{key!r} must be a list of non-empty strings", f'e.g. "{key}": ["a", "b"]')
        return tuple(x.strip() for x in v)

    def flag(key: str) -> bool:
        v = obj.get(key, False)
        if not isinstance(v, bool):
            raise bad(f"{key!r} must be true or false, got {v!r}", f'e.g. "{key}": true')
        return v

    cid = obj.get("id")
    if cid is not None and (not isinstance(cid, str | int) or isinstance(cid, bool) or str(cid) == ""):
        raise bad("'id' must be a non-empty string or an integer", 'e.g. "id": "hold-1"')
    meta = obj.get("meta", {})
    if not isinstance(meta, dict):
        raise bad("'meta' must be a JSON object", 'e.g. "meta": {"author": "me"}')
    should_refuse = flag("should_refuse")
    answer = opt_str("answer")
    if should_refuse and answer:
        raise bad("a case with should_refuse: true cannot have a reference 'answer'", "drop one of them")
    return EvalCase(
        id=str(cid) if cid is not None else case_id(q),
        question=q.strip(),
        answer=answer,
        gold_sources=str_list("gold_sources"),
        gold_section=opt_str("gold_section"),
        should_refuse=should_refuse,
        tags=tuple(sorted(set(str_list("tags")))),
        synthetic=flag("synthetic"),
        meta=meta,
        line=line,
    )


def load_dataset(path: str | Path) -> list[EvalCase]:
    """Read and check a JSONL dataset; the first bad line raises a UserError naming its line number."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise NotFound(f"no dataset file {str(path)!r}", hint="pass a .jsonl file, one JSON case per line")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise UserError(f"{p} is not UTF-8 text ({e.reason})", hint="save the dataset as UTF-8") from None
    cases: list[EvalCase] = []
    seen: dict[str, int] = {}
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
        case = parse_case(obj, where, n)
        if case.id in seen:
            raise UserError(
                f"{where}: duplicate case id {case.id!r} (first on line {seen[case.id]})",
                hint="give each case a unique 'id' (identical questions need explicit ids)",
            )
        seen[case.id] = n
        cases.append(case)
    if not cases:
        raise UserError(f"{p} has no cases", hint='write one JSON object per line: {"question": "..."}')
    return cases
