"""Where training examples come from: chat/instruction files, feedback exports, eval sets, eval runs.

    from_chat_file("pairs.jsonl")          SFT: {"messages": [..., {"role": "assistant", ...}]} or
                                           {"instruction"|"prompt", "input"?, "system"?, "output"|"response"|"completion"}
    from_feedback("feedback.jsonl")        SFT from thumbs-up answers; preference pairs from an up and a down
                                           answer to the same question (feedback_pairs)
    from_eval_set("dev.jsonl")             SFT from an eval set's gold answers ("I don't know." for should_refuse)
    claim_pairs("run.json", kb)            preference pairs from an eval run: the verified answer (chosen) vs
                                           the model's own text with the claims the verifier dropped (rejected)

Feedback and eval items about a knowledge base (``kb`` set, or ``kb=`` passed) are trained in the grounded
format: the prompt is rebuilt from that KB as ``genloom ask`` builds it now, and the answer is re-cited
sentence by sentence against that evidence (an answer the evidence no longer supports is skipped, and
counted). Every skip is counted in ``Skipped`` so nothing is dropped silently.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from genloom.errors import UserError
from genloom.tune.examples import Example, check_messages, question_key, read_jsonl
from genloom.tune.grounded import IDK_ANSWER, cite, grounded_prompt

FEEDBACK_KEYS = {"request_id", "ts", "key_id", "rating", "comment", "endpoint", "model", "kb", "template",
                 "messages", "question", "answer"}  # fmt: skip
_CHAT_PROMPT = ("instruction", "prompt")
_CHAT_ANSWER = ("output", "response", "completion")


class Skipped(Counter[str]):
    """Reasons -> how many items were not turned into examples."""


def _one(obj: dict[str, Any], keys: tuple[str, ...], where: str) -> str | None:
    present = [k for k in keys if obj.get(k) is not None]
    if len(present) > 1:
        raise UserError(f"{where}: both {present[0]!r} and {present[1]!r}", hint="give one of them")
    if not present:
        return None
    v = obj[present[0]]
    if not isinstance(v, str) or not v.strip():
        raise UserError(f"{where}: {present[0]!r} must be a non-empty string", hint="write the text")
    return v


def from_chat_file(path: str | Path) -> Iterator[Example]:
    """SFT examples from a JSONL of chat conversations or instruction pairs."""
    for _, where, obj in read_jsonl(path):
        if not isinstance(obj, dict):
            raise UserError(
                f"{where}: expected a JSON object", hint='{"messages": [...]} or {"instruction": ...}'
            )
        if "messages" in obj:
            unknown = sorted(set(obj) - {"messages", "meta"})
            if unknown:
                raise UserError(
                    f"{where}: unknown key {unknown[0]!r}", hint="a chat line has 'messages' (and 'meta')"
                )
            msgs = check_messages(obj["messages"], where, prompt=False)
            if msgs[-1]["role"] != "assistant" or len(msgs) < 2:
                raise UserError(
                    f"{where}: a chat line must end with the assistant's answer",
                    hint='the last message is {"role": "assistant", "content": "the answer to learn"}',
                )
            yield Example(msgs[:-1], msgs[-1]["content"], source="chat", meta=obj.get("meta") or {})
            continue
        allowed = {*_CHAT_PROMPT, *_CHAT_ANSWER, "input", "system", "meta"}
        unknown = sorted(set(obj) - allowed)
        if unknown:
            raise UserError(
                f"{where}: unknown key {unknown[0]!r}", hint=f"known keys: {', '.join(sorted(allowed))}"
            )
        prompt, answer = _one(obj, _CHAT_PROMPT, where), _one(obj, _CHAT_ANSWER, where)
        if prompt is None or answer is None:
            raise UserError(
                f"{where}: needs an instruction and an answer",
                hint='e.g. {"instruction": "Name a colour.", "output": "Blue."}',
            )
        extra = _one(obj, ("input",), where)
        user = prompt if extra is None else f"{prompt}\n\n{extra}"
        system = _one(obj, ("system",), where)
        msgs = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": user}
        ]
        yield Example(msgs, answer, source="chat", meta=obj.get("meta") or {})


def read_feedback(path: str | Path) -> list[dict[str, Any]]:
    """The feedback store's JSONL export, checked line by line (exactly the documented keys)."""
    rows = []
    for n, where, obj in read_jsonl(path):
        if not isinstance(obj, dict):
            raise UserError(f"{where}: expected a JSON object", hint="one feedback record per line")
        missing, unknown = sorted(FEEDBACK_KEYS - set(obj)), sorted(set(obj) - FEEDBACK_KEYS)
        if missing or unknown:
            what = f"missing key {missing[0]!r}" if missing else f"unknown key {unknown[0]!r}"
            raise UserError(f"{where}: {what}", hint="pass the feedback store's JSONL export unchanged")
        if obj["rating"] not in ("up", "down"):
            raise UserError(
                f"{where}: rating must be 'up' or 'down', got {obj['rating']!r}", hint="fix the line"
            )
        for k in ("question", "answer"):
            if not isinstance(obj[k], str):
                raise UserError(f"{where}: {k!r} must be a string", hint="fix the line")
        check_messages(obj["messages"], where, prompt=False)
        rows.append({**obj, "_line": n})
    return rows


def _prompt_for(row: dict[str, Any], kb: Any, skipped: Skipped) -> tuple[list[dict[str, str]], Any] | None:
    """(prompt messages, grounded prompt or None) for a feedback row."""
    if row.get("kb"):
        if kb is None:
            skipped["grounded answer, but no knowledge base given (pass --kb)"] += 1
            return None
        p = grounded_prompt(row["question"] or row["messages"][-1]["content"], kb)
        return p.messages, p
    msgs = list(row["messages"])
    if msgs and msgs[-1]["role"] == "assistant":  # an export may include the answer itself
        msgs = msgs[:-1]
    if not msgs or msgs[-1]["role"] != "user":
        skipped["conversation does not end with a user turn"] += 1
        return None
    return msgs, None


def from_feedback(path: str | Path, kb: Any = None, skipped: Skipped | None = None) -> Iterator[Example]:
    """SFT examples from thumbs-up answers (grounded ones re-cited against ``kb``)."""
    skipped = skipped if skipped is not None else Skipped()
    for row in read_feedback(path):
        if row["rating"] != "up":
            continue
        made = _prompt_for(row, kb, skipped)
        if made is None:
            continue
        msgs, grounded = made
        answer = cite(row["answer"], grounded) if grounded is not None else row["answer"].strip()
        if not answer:
            skipped["thumbs-up answer not supported by the evidence now"] += 1
            continue
        yield Example(msgs, answer, question=row["question"], source="feedback",
                      meta={"request_id": row["request_id"], "line": row["_line"]})  # fmt: skip


def feedback_pairs(path: str | Path, kb: Any = None, skipped: Skipped | None = None) -> Iterator[Example]:
    """Preference pairs: for each question with both ratings, every (up, down) pair of distinct answers."""
    skipped = skipped if skipped is not None else Skipped()
    groups: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: {"up": [], "down": []})
    for row in read_feedback(path):
        groups[question_key(row["question"])][row["rating"]].append(row)
    for g in groups.values():
        if not g["up"] or not g["down"]:
            skipped["question rated only one way (no pair)"] += len(g["up"]) + len(g["down"])
            continue
        made = _prompt_for(g["up"][0], kb, skipped)
        if made is None:
            continue
        msgs, _ = made
        for up in g["up"]:
            for down in g["down"]:
                if up["answer"].strip() == down["answer"].strip():
                    skipped["same answer rated up and down"] += 1
                    continue
                yield Example(msgs, chosen=up["answer"].strip(), rejected=down["answer"].strip(),
                              question=up["question"], source="feedback",
                              meta={"up": up["request_id"], "down": down["request_id"]})  # fmt: skip


def from_eval_set(path: str | Path, kb: Any = None, skipped: Skipped | None = None) -> Iterator[Example]:
    """SFT from an eval set's gold answers; with ``kb`` in the grounded format (refusals: I don't know)."""
    from genloom.eval.dataset import load_dataset

    skipped = skipped if skipped is not None else Skipped()
    for case in load_dataset(path):
        if case.answer is None and not case.should_refuse:
            skipped["eval case without a reference answer"] += 1
            continue
        if kb is None:
            msgs = [{"role": "user", "content": case.question}]
            yield Example(msgs, case.answer or IDK_ANSWER, question=case.question, source="eval",
                          synthetic=case.synthetic, meta={"id": case.id})  # fmt: skip
            continue
        p = grounded_prompt(case.question, kb)
        answer = IDK_ANSWER if case.should_refuse else cite(case.answer or "", p)
        if not answer:
            skipped["gold answer not supported by the retrieved evidence"] += 1
            continue
        yield Example(p.messages, answer, question=case.question, source="eval", synthetic=case.synthetic,
                      meta={"id": case.id})  # fmt: skip


def claim_pairs(run_path: str | Path, kb: Any, skipped: Skipped | None = None) -> Iterator[Example]:
    """Preference pairs from an eval run (``genloom eval --out run.json``): verified vs dropped claims."""
    skipped = skipped if skipped is not None else Skipped()
    try:
        run = json.loads(Path(run_path).expanduser().read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise UserError(
            f"cannot read the eval run {run_path}: {e}", hint="pass a genloom eval --out file"
        ) from None
    for case in run.get("cases", []):
        claims = case.get("claims") or []
        good = [c["text"] for c in claims if c["supported"]]
        bad = [c["text"] for c in claims if not c["supported"]]
        if case.get("refused") or case.get("mode") == "extractive" or not good or not bad:
            skipped["eval case without both verified and dropped claims"] += 1
            continue
        p = grounded_prompt(case["question"], kb)
        chosen = cite(" ".join(good), p)
        if not chosen:
            skipped["verified claims not supported by the rebuilt evidence"] += 1
            continue
        rejected = " ".join(c["text"] for c in claims)
        yield Example(p.messages, chosen=chosen, rejected=rejected, question=case["question"],
                      source="claims", meta={"id": case.get("id")})  # fmt: skip
