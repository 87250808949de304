"""Run a task template: check its variables, pin its version, stream from its model.

run = prepare("content_generator@v1", {"keyword": "tea"}, as_text=False)
for piece in (s := run.stream()):
    print(piece, end="")
s.value          # the validated JSON value when the template has an output schema
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from genloom.errors import UserError
from genloom.generate import Engine
from genloom.generate.engine import Stream
from genloom.prompts.catalog import Pins, load
from genloom.prompts.task import TaskTemplate
from genloom.settings import Settings, get_settings
from genloom.structured import Constraint
from genloom.types import Message, SamplingParams


@dataclass
class TemplateRun:
    template: TaskTemplate
    messages: list[Message]
    params: SamplingParams
    model: str  # the spec it runs on: the caller's, else the template's, else the configured default
    constraint: Constraint | None

    def stream(self, engine: Engine | None = None, settings: Settings | None = None) -> Stream:
        engine = engine or Engine(self.model, settings)
        return engine.stream(self.messages, self.params, constraint=self.constraint)


def prepare(
    ref: str | TaskTemplate,
    variables: dict[str, Any],
    *,
    as_text: bool = False,
    model: str | None = None,
    settings: Settings | None = None,
    pins: Pins | None = None,
    **sampling: Any,
) -> TemplateRun:
    """Everything a run needs, checked, with the version pinned (a changed used version is refused).

    ``sampling``: SamplingParams fields over the template's defaults (None = the template's)."""
    s = settings or get_settings()
    t = ref if isinstance(ref, TaskTemplate) else load(ref, s)
    messages = t.render(variables, as_text=as_text)
    params = t.params(**sampling)
    constraint = Constraint.json_schema(t.schema, name=t.name) if t.schema is not None else None
    own = pins is None
    p = pins or Pins(s)
    try:
        p.pin(t)
    finally:
        if own:
            p.close()
    return TemplateRun(t, messages, params, model or t.model or s.model, constraint)


def parse_vars(pairs: list[str]) -> dict[str, str]:
    """``["k=v", ...]`` (the CLI's ``--var``) -> a dict; a pair without '=' or a repeated key is an error."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key.strip():
            raise UserError(f"--var {pair!r} is not KEY=VALUE", hint="write e.g. --var keyword=tea")
        if key.strip() in out:
            raise UserError(f"--var {key.strip()!r} is given twice", hint="pass each variable once")
        out[key.strip()] = value
    return out


__all__ = ["TemplateRun", "parse_vars", "prepare"]
