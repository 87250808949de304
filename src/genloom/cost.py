"""What a request costs, and what a key may spend (issue 21).

The price table is the setting ``prices``: ``SPEC=PROMPT/COMPLETION`` in USD per million tokens, entries
separated by spaces or ';'. A SPEC ending in ``*`` matches every model id starting with the rest. Models
not listed cost 0, which is right for local models (the machine is already paid for)::

    prices = "openai:https://api.openai.com/v1#gpt-4o-mini=0.15/0.6 openai:*=1/2"

Budgets (setting ``budgets``): ``KEYNAME=USD`` per ``budget_period`` (day, month or total, UTC), ``*=USD`` for
every key not named. A key whose spend in the period reached its budget gets 429 until the period ends.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from genloom.errors import UserError
from genloom.settings import Settings

PER = 1_000_000  # prices are per million tokens


@dataclass(frozen=True)
class Price:
    prompt: float  # USD per million prompt tokens
    completion: float


def _entries(setting: str, raw: str) -> list[tuple[str, str]]:
    out = []
    for item in (x for x in re.split(r"[\s;]+", raw.strip()) if x):
        key, eq, value = item.rpartition("=")
        if not eq or not key:
            raise UserError(f"{setting}: {item!r} is not NAME=VALUE", hint=f"fix GENLOOM_{setting.upper()}")
        out.append((key, value))
    return out


def _usd(setting: str, value: str) -> float:
    try:
        v = float(value)
    except ValueError:
        raise UserError(
            f"{setting}: {value!r} is not a number of USD", hint=f"fix GENLOOM_{setting.upper()}"
        ) from None
    if not v >= 0 or v == float("inf"):
        raise UserError(
            f"{setting}: {value!r} must be a finite amount >= 0", hint=f"fix GENLOOM_{setting.upper()}"
        )
    return v


def price_table(s: Settings) -> dict[str, Price]:
    table = {}
    for spec, value in _entries("prices", s.prices):
        p, slash, c = value.partition("/")
        if not slash:
            raise UserError(
                f"prices: {spec}={value} needs PROMPT/COMPLETION", hint="e.g. SPEC=0.15/0.6 (USD per 1M)"
            )
        table[spec] = Price(_usd("prices", p), _usd("prices", c))
    return table


def price_of(model: str | None, s: Settings) -> Price:
    """The model's price: an exact entry, else the longest matching ``prefix*`` entry, else 0.

    A grounded answer's audit model reads ``rag:KB (SPEC)``: the SPEC in parentheses is what ran."""
    if not model:
        return Price(0.0, 0.0)
    m = re.fullmatch(r".*\((.+)\)", model)
    ids = [m.group(1), model] if m else [model]
    table = price_table(s)
    for mid in ids:
        if mid in table:
            return table[mid]
    prefixes = sorted((k for k in table if k.endswith("*")), key=len, reverse=True)
    for mid in ids:
        for k in prefixes:
            if mid.startswith(k[:-1]):
                return table[k]
    return Price(0.0, 0.0)


def cost_of(model: str | None, prompt_tokens: int, completion_tokens: int, s: Settings) -> float:
    p = price_of(model, s)
    return round((prompt_tokens * p.prompt + completion_tokens * p.completion) / PER, 8)


def request_cost(
    model: str | None, prompt_tokens: int, completion_tokens: int, route: dict | None, s: Settings
) -> float:
    """A request's cost: the answering model's tokens at its price (``route["model"]`` when a cascade or router
    chose), plus every model a cascade tried first at its own price."""
    answered = (route or {}).get("model") or model
    total = cost_of(answered, prompt_tokens, completion_tokens, s)
    for t in (route or {}).get("cascade", []):
        if not t.get("accepted"):
            total += cost_of(
                t.get("model"), int(t.get("prompt_tokens", 0)), int(t.get("completion_tokens", 0)), s
            )
    return round(total, 8)


def budget_of(key_id: str, s: Settings) -> float | None:
    """The key's budget in USD per period, or None (unlimited)."""
    table = {k: _usd("budgets", v) for k, v in _entries("budgets", s.budgets)}
    return table.get(key_id, table.get("*"))


def period_start(s: Settings, now: float) -> float:
    """When the current budget period began (unix time, UTC)."""
    t = dt.datetime.fromtimestamp(now, dt.UTC)
    if s.budget_period == "total":
        return 0.0
    if s.budget_period == "day":
        start = t.replace(hour=0, minute=0, second=0, microsecond=0)
    else:
        start = t.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return start.timestamp()


def period_end(s: Settings, now: float) -> float | None:
    t = dt.datetime.fromtimestamp(period_start(s, now), dt.UTC)
    if s.budget_period == "total":
        return None
    if s.budget_period == "day":
        return (t + dt.timedelta(days=1)).timestamp()
    return t.replace(year=t.year + t.month // 12, month=t.month % 12 + 1).timestamp()


def check(s: Settings) -> None:
    """Parse the price table and budgets once (at server start): a typo is an error, never ignored."""
    price_table(s)
    for _k, v in _entries("budgets", s.budgets):
        _usd("budgets", v)


__all__ = [
    "Price",
    "budget_of",
    "check",
    "cost_of",
    "period_end",
    "period_start",
    "price_of",
    "price_table",
    "request_cost",
]
