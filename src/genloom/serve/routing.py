"""The server's side of model choice (issue 21): the router's pick, and telling the client who answered.

A response that a router rule, a cascade or an online A/B split shaped carries ``route`` (``{"model",
"reason", ...}``) in its body (the last chunk when streamed) and the headers ``x-genloom-model`` (the model
that answered) and ``x-genloom-route`` (why); the audit row keeps the same ``route``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi.responses import JSONResponse

from genloom.route.router import parse_rules, pick
from genloom.serve.audit import AuditRecord
from genloom.serve.auth import Principal
from genloom.serve.state import State
from genloom.types import Message


def check_routes(st: State) -> None:
    """Every rule's target must be a model this server serves (checked once, at start)."""
    from genloom.errors import UserError

    for r in parse_rules(st.settings.routes):
        if r.target not in st.models:
            raise UserError(f"routes: {r.text!r} picks {r.target!r}, which this server does not serve",
                            hint=f"serve it too (genloom serve --model ...), or pick one of {', '.join(st.models)}")  # fmt: skip


def choose(
    st: State, who: Principal, model: str, messages: Sequence[Message], rec: AuditRecord, **facts: Any
) -> str:
    """The model to run: the first matching rule's (recorded in ``rec.route``), else ``model``."""
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
    rec.route = {"model": target, "reason": f"router rule {rule.text!r}", "rule": rule.text}
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


__all__ = ["check_routes", "choose", "extra", "headers", "merge", "respond"]
