"""Rules that pick the model of a request (setting ``routes``), first match wins.

    routes = "template=classifier -> llamacpp: ; key=alice & prompt_tokens>1500 -> openai:http://h/v1#big ;
              kb=handbook -> cascade:llamacpp:|openai:http://h/v1#big ; * -> llamacpp:"

A rule is conditions joined by ``&`` (all must hold), ``->``, a model spec. Conditions:
``template=NAME`` (a template run), ``kb=NAME`` (a grounded answer from that knowledge base), ``key=NAME``
(the API key's name), ``tenant=PRINCIPAL`` (one of the key's principals), ``model=SPEC`` (the model asked for),
``prompt_tokens>N`` / ``prompt_tokens<N`` (counted by the asked model's tokenizer), and ``*`` (always).
No rule matching leaves the request's own model. The server checks at start that every target is a model it
serves (a rule can only choose among served models).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from genloom.errors import UserError

FIELDS = ("template", "kb", "key", "tenant", "model")
_COND = re.compile(
    r"^(?:(?P<f>template|kb|key|tenant|model)=(?P<v>\S+)|prompt_tokens(?P<op>[<>])(?P<n>\d+)|\*)$"
)


@dataclass(frozen=True)
class Rule:
    conditions: tuple[tuple[str, str, str], ...]  # (field, op, value): op "=" | "<" | ">" | "*"
    target: str
    text: str

    def needs_tokens(self) -> bool:
        return any(f == "prompt_tokens" for f, _, _ in self.conditions)

    def matches(self, facts: dict[str, Any], tokens: Callable[[], int]) -> bool:
        for f, op, v in self.conditions:
            if op == "*":
                continue
            if op == "=":
                have = facts.get(f)
                ok = v in have if isinstance(have, (list, tuple, set)) else have == v
            else:
                n = tokens()
                ok = n > int(v) if op == ">" else n < int(v)
            if not ok:
                return False
        return True


def parse_rules(raw: str) -> list[Rule]:
    rules = []
    for text in (r.strip() for r in raw.split(";")):
        if not text:
            continue
        cond, arrow, target = text.partition("->")
        target = target.strip()
        if not arrow or not target or not cond.strip():
            raise UserError(
                f"routes: {text!r} is not 'CONDITIONS -> MODEL'", hint='e.g. routes = "kb=docs -> llamacpp:"'
            )
        conds = []
        for c in (x.strip() for x in cond.split("&")):
            m = _COND.match(c)
            if m is None:
                raise UserError(
                    f"routes: unknown condition {c!r} in {text!r}",
                    hint="use template=, kb=, key=, tenant=, model=, prompt_tokens>N, prompt_tokens<N or *",
                )
            if c == "*":
                conds.append(("*", "*", ""))
            elif m.group("f"):
                conds.append((m.group("f"), "=", m.group("v")))
            else:
                conds.append(("prompt_tokens", m.group("op"), m.group("n")))
        rules.append(Rule(tuple(conds), target, text))
    return rules


def pick(rules: list[Rule], facts: dict[str, Any], tokens: Callable[[], int]) -> tuple[str, Rule] | None:
    """The first matching rule's target, or None. ``tokens()`` is called only when a rule needs the count."""
    cache: list[int] = []

    def counted() -> int:
        if not cache:
            cache.append(tokens())
        return cache[0]

    for r in rules:
        if r.matches(facts, counted):
            return r.target, r
    return None


__all__ = ["Rule", "parse_rules", "pick"]
