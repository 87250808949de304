"""Online A/B: a traffic split per template or model, sticky per API key (setting ``ab_splits``).

    ab_splits = "content_generator = v1 | v2 @ 0.5 ; llamacpp: = llamacpp: | registry:grounded@v2 @ 0.2"

``TARGET = A | B [@ SHARE_B]`` (SHARE_B of the keys get B, default 0.5). A target is a task template's name
(its arms are versions: a run that names no version gets its key's arm) or a model id clients ask for (its
arms are model specs the server serves). A key always gets the same arm of a target (a hash of both), so one
user's experience is consistent and per-arm feedback is per-user. The arm is recorded in the audit row's
``route`` (``{"ab": {"target", "arm", "variant"}}``) and so joins each rating (``genloom usage --by arm``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from genloom.errors import UserError


@dataclass(frozen=True)
class Split:
    target: str
    a: str
    b: str
    share_b: float

    def arm(self, key_id: str) -> tuple[str, str]:
        """("a" | "b", the arm's variant) for this key: the same key gets the same arm every time."""
        h = hashlib.sha256(f"{self.target}\0{key_id}".encode()).digest()
        u = int.from_bytes(h[:8], "big") / 2**64
        return ("b", self.b) if u < self.share_b else ("a", self.a)


def parse_splits(raw: str) -> dict[str, Split]:
    out: dict[str, Split] = {}
    for text in (t.strip() for t in raw.split(";")):
        if not text:
            continue
        target, eq, arms = text.partition("=")
        target = target.strip()
        arms, at, share = arms.rpartition(" @ ") if " @ " in arms else (arms, "", "")
        parts = [p.strip() for p in arms.split("|")]
        if not eq or not target or len(parts) != 2 or not all(parts):
            raise UserError(f"ab_splits: {text!r} is not 'TARGET = A | B [@ SHARE_B]'",
                            hint='e.g. ab_splits = "content_generator = v1 | v2 @ 0.5"')  # fmt: skip
        try:
            share_b = float(share) if at else 0.5
        except ValueError:
            share_b = -1.0
        if not 0 <= share_b <= 1:
            raise UserError(
                f"ab_splits: the share of B in {text!r} must be a number in [0, 1]", hint="e.g. @ 0.5"
            )
        if target in out:
            raise UserError(f"ab_splits: {target!r} is split twice", hint="one split per template or model")
        out[target] = Split(target, parts[0], parts[1], share_b)
    return out


__all__ = ["Split", "parse_splits"]
