"""The guard policy (from settings) and the one place guards run: ``run(where, text) -> GuardResult``.

    r = run("input", question)                 # every guard the policy names for "input", in order
    r.raise_if_blocked()                       # GuardViolation naming the guard, category and reason
    r.text                                     # the text with redacted spans replaced (== input when allowed)
    r.to_list()                                # the findings as dicts: --json, API ``guard`` fields, audit rows

The policy: ``guard_<where>`` settings name the guards per place (registry names, comma separated);
``guard_actions = "GUARD@WHERE=ACTION ..."`` turns what a guard proposes into another action (``allow`` records
the finding and changes nothing; ``redact`` replaces its spans, or the whole text when it has none; ``block``
stops the request: at ``document`` that quarantines the document). Guards run in the order named, each on the
text the previous one left, so a redaction is never undone. A guard never raises for a finding; the caller
decides what ``blocked`` means where it stands (HTTP 400 ``content_filter``, a dropped claim, a quarantine).

Metrics: serve counts ``genloom_guard_actions_total{guard,where,action}`` from the findings it records
(genloom.serve.metrics.Metrics.count_guard), so a guard name is always a registered one.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from genloom.errors import GuardViolation, UserError
from genloom.guard.base import ACTIONS, WHERES, Action, Finding, Guard, Span, redact
from genloom.guard.registry import guard_names, resolve_guard
from genloom.settings import Settings, get_settings

_RANK = {"allow": 0, "redact": 1, "block": 2}
_RULE = re.compile(r"([A-Za-z0-9_.-]+)@([a-z_]+)=([a-z]+)")


@dataclass(slots=True)
class GuardResult:
    """What the guards of one place did to one text."""

    where: str
    text: str  # after redaction; the original text when nothing was redacted
    action: Action = "allow"  # the strongest action taken
    findings: list[Finding] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        return self.action == "block"

    def to_list(self) -> list[dict[str, Any]]:
        return [f.to_dict() for f in self.findings]

    def raise_if_blocked(self) -> None:
        if not self.blocked:
            return
        f = next(f for f in self.findings if f.action == "block")
        raise GuardViolation(
            f"blocked by the {f.guard} guard ({f.category}): {f.reason}",
            hint="rephrase the request; the guard policy is set by guard_* settings (README 'Guardrails')",
        )


class Policy:
    """Which guards run where and what their outcomes do; built once per Settings (see :func:`policy`)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._guards: dict[str, list[Guard]] = {}
        made: dict[str, Guard] = {}
        for where in WHERES:
            names = settings.names(f"guard_{where}")
            for n in names:
                if n not in made:
                    made[n] = resolve_guard(n, settings)  # UserError listing the known guards
            self._guards[where] = [made[n] for n in names]
        self.overrides: dict[tuple[str, str], Action] = {}
        for rule in settings.names("guard_actions"):
            m = _RULE.fullmatch(rule)
            if m is None or m[2] not in WHERES or m[3] not in ACTIONS or m[1] not in guard_names():
                raise UserError(
                    f"guard_actions: bad rule {rule!r}",
                    hint=f"use GUARD@WHERE=ACTION with GUARD in {', '.join(guard_names())}, WHERE in "
                    f"{', '.join(WHERES)}, ACTION in {', '.join(ACTIONS)}",
                )
            self.overrides[(m[1], m[2])] = m[3]  # type: ignore[assignment]
        for name in ("guard_injection_threshold", "guard_jailbreak_threshold"):
            if not 0 <= getattr(settings, name) <= 100:
                raise UserError(f"{name} must be in [0, 100] (percent)", hint=f"set GENLOOM_{name.upper()}")

    def guards(self, where: str) -> list[Guard]:
        return self._guards[where]

    def action(self, finding: Finding) -> Action:
        return self.overrides.get((finding.guard, finding.where), finding.action)

    def findings(self, where: str, text: str) -> list[Finding]:
        """What each guard of ``where`` finds in the same ``text`` (not chained: every span indexes ``text``),
        with the policy's action applied."""
        out = []
        for guard in self._guards[where]:
            found = guard.check(text, where)  # type: ignore[arg-type]
            if found is not None:
                out.append(self._apply(found))
        return out

    def _apply(self, found: Finding) -> Finding:
        act = self.action(found)
        if act == found.action:
            return found
        return Finding(found.guard, found.where, act, found.category, found.reason, found.spans, found.score)

    def run(self, where: str, text: str) -> GuardResult:
        if where not in WHERES:
            raise ValueError(f"where must be one of {WHERES}, not {where!r}")
        result = GuardResult(where, text)
        for guard in self._guards[where]:
            found = guard.check(result.text, where)  # type: ignore[arg-type]
            if found is None:
                continue
            found = self._apply(found)
            act = found.action
            result.findings.append(found)
            if _RANK[act] > _RANK[result.action]:
                result.action = act
            if act == "block":
                break
            if act == "redact":
                spans = found.spans or (Span(0, len(result.text), found.category),)
                result.text = redact(result.text, spans)
        return result


_policies: dict[int, tuple[Settings, Policy]] = {}


def policy(settings: Settings | None = None) -> Policy:
    """The policy of ``settings`` (default: the process-wide ones), built once per Settings object."""
    s = settings or get_settings()
    cached = _policies.get(id(s))
    if cached is None or cached[0] is not s:
        if len(_policies) > 16:
            _policies.clear()
        cached = _policies[id(s)] = (s, Policy(s))
    return cached[1]


def key_guard_policy(table: Any, where: str) -> tuple[tuple[str, Any], ...]:
    """A key's own guard policy (keys.toml ``guard = { guard_input = "injection", ... }``), checked: only
    ``guard_*`` settings, each valid (the error names the key and the field)."""
    if table is None:
        return ()
    if not isinstance(table, dict):
        raise UserError(f"{where} must be a table of guard_* settings", hint='e.g. { guard_input = "" }')
    names = {f.name for f in fields(Settings) if f.name.startswith("guard_")}
    bad = sorted(set(table) - names)
    if bad:
        raise UserError(
            f"{where}: {', '.join(bad)} is not a guard setting", hint=f"use {', '.join(sorted(names))}"
        )
    items = tuple(sorted(table.items()))
    try:
        Policy(dataclasses.replace(Settings(home=Path("/nonexistent")), **dict(items)))
    except (UserError, TypeError) as e:
        raise UserError(f"{where}: {e}", hint="fix the key's guard table") from None
    return items


_keyed: dict[tuple[int, tuple[tuple[str, Any], ...]], Settings] = {}


def for_key(settings: Settings, overrides: tuple[tuple[str, Any], ...]) -> Settings:
    """``settings`` with a key's guard overrides (the same object for the same key: its policy is cached)."""
    if not overrides:
        return settings
    k = (id(settings), overrides)
    if k not in _keyed:
        if len(_keyed) > 256:
            _keyed.clear()
        _keyed[k] = dataclasses.replace(settings, **dict(overrides))
    return _keyed[k]


def run(where: str, text: str, settings: Settings | None = None) -> GuardResult:
    """Run the guards the policy names for ``where`` on ``text``."""
    return policy(settings).run(where, text)


__all__ = ["GuardResult", "Policy", "for_key", "key_guard_policy", "policy", "run"]
