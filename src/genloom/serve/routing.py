"""The server's side of model choice (issue 21): the router's pick, and telling the client who answered.

A response that a router rule, a cascade or an online A/B split shaped carries ``route`` (``{"model",
"reason", ...}``) in its body (the last chunk when streamed) and the headers ``x-genloom-model`` (the model
that answered) and ``x-genloom-route`` (why); the audit row keeps the same ``route``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi.responses import JSONResponse

from genloom.errors import UserError
from genloom.route.ab import parse_splits
from genloom.route.router import parse_rules, pick
from genloom.serve.audit import AuditRecord
from genloom.serve.auth import Principal
from genloom.serve.state import State
from genloom.types import Message


def check_routes(st: State) -> None:
    """Every rule's target and every model arm of an A/B split must be a model this server serves, every
    template arm a version that exists (checked once, at start)."""
    from genloom.prompts.catalog import load, names

    served = ", ".join(st.models)
    for r in parse_rules(st.settings.routes):
        if r.target not in st.models:
            raise UserError(f"routes: {r.text!r} picks {r.target!r}, which this server does not serve",
                            hint=f"serve it too (genloom serve --model ...), or pick one of {served}")  # fmt: skip
    templates = names(st.settings)
    for sp in parse_splits(st.settings.ab_splits).values():
        for arm in (sp.a, sp.b):
            if sp.target in templates:
                load(f"{sp.target}@{arm}", st.settings)  # NotFound names the versions that exist
            elif arm not in st.models:
                raise UserError(f"ab_splits: {sp.target} arm {arm!r} is not a model this server serves",
                                hint=f"serve it too, or split between: {served}")  # fmt: skip


def ab_arm(st: State, who: Principal, target: str) -> tuple[str, dict[str, Any]] | None:
    """The key's arm of ``target``'s split: (variant, the route to record), or None when it is not split."""
    sp = parse_splits(st.settings.ab_splits).get(target)
    if sp is None:
        return None
    arm, variant = sp.arm(who.key_id)
    return variant, {"model": variant, "reason": f"A/B split of {target}: arm {arm.upper()} ({variant})",
                     "ab": {"target": target, "arm": arm, "variant": variant}}  # fmt: skip


def choose(
    st: State, who: Principal, model: str, messages: Sequence[Message], rec: AuditRecord, **facts: Any
) -> str:
    """The model to run: the key's arm when ``model`` is split (A/B), then the first matching rule's (both
    recorded in ``rec.route``), else ``model``."""
    split = ab_arm(st, who, model)
    if split is not None:
        model, rec.route = split
    rules = parse_rules(st.settings.routes)
    if not rules:
        return model
    known = {"key": who.key_id, "tenant": list(who.principals or ()), "model": model, **facts}

    def tokens() -> int:
        return st.engine(model).backend.count_prompt_tokens(list(messages))

    hit = pick(rules, known, tokens)
    if hit is None:
        return model
    target, rule = hit
    rec.route = merge(rec.route, {"model": target, "reason": f"router rule {rule.text!r}", "rule": rule.text})
    return target


def merge(base: dict[str, Any] | None, more: dict[str, Any] | None) -> dict[str, Any] | None:
    """A router's choice and a cascade's decision together (the cascade's model and reason win)."""
    if more is None:
        return base
    if base is None:
        return dict(more)
    return {**base, **more, "reason": f"{base['reason']}; {more['reason']}"}


def headers(route: dict[str, Any] | None) -> dict[str, str]:
    if route is None:
        return {}
    ascii_ = lambda t: str(t).encode("ascii", "replace").decode().replace("\n", " ")[:500]  # noqa: E731
    return {
        "x-genloom-model": ascii_(route.get("model", "")),
        "x-genloom-route": ascii_(route.get("reason", "")),
    }


def respond(body: dict[str, Any], route: dict[str, Any] | None) -> Any:
    """The body as it is (no route), or with ``route`` and the route headers."""
    if route is None:
        return body
    return JSONResponse({**body, "route": route}, headers=headers(route))


def extra(route: dict[str, Any] | None) -> dict[str, Any]:
    return {} if route is None else {"route": route}


__all__ = ["ab_arm", "check_routes", "choose", "extra", "headers", "merge", "respond"]
