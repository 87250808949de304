"""Regression gates: ``--gate "hit@k>=0.8" --gate "packages:faithfulness>=0.6" --gate "latency_p95<=5"``.

A gate is ``[TAG:]METRIC OP VALUE`` with OP one of >=, <=, >, <, ==. A metric that was not measured in the
run (no case it applies to) fails its gate: a gate that cannot be checked must not pass silently.
"""

from __future__ import annotations

import difflib
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from genloom.errors import GenloomError, UserError
from genloom.eval.metrics import METRICS

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, "<=": operator.le, "==": operator.eq, ">": operator.gt, "<": operator.lt,
}  # fmt: skip
_GATE = re.compile(
    r"^\s*(?:(?P<tag>[^:<>=]+):)?(?P<metric>[\w@.-]+)\s*(?P<op>>=|<=|==|>|<)\s*(?P<value>\S+)\s*$"
)


class GateFailed(GenloomError):
    """At least one gate failed: exit code 1 (2 stays 'your input is wrong', 3 'a backend failed')."""

    exit_code = 1


@dataclass(frozen=True)
class Gate:
    metric: str
    op: str
    threshold: float
    tag: str | None = None
    text: str = ""

    def check(self, run: Any) -> GateResult:
        value = run.value(self.metric, self.tag)
        if self.tag is not None and self.tag not in run.by_tag:
            return GateResult(self, None, False, f"no case has tag {self.tag!r}")
        if value is None:
            return GateResult(self, None, False, "not measured in this run (no case it applies to)")
        ok = _OPS[self.op](float(value), self.threshold)
        return GateResult(
            self, float(value), ok, "" if ok else f"{value:g} is not {self.op} {self.threshold:g}"
        )


@dataclass(frozen=True)
class GateResult:
    gate: Gate
    value: float | None
    passed: bool
    reason: str


def parse_gate(text: str) -> Gate:
    m = _GATE.match(text)
    if not m:
        raise UserError(
            f"cannot read the gate {text!r}",
            hint='write METRIC OP VALUE, e.g. --gate "hit@k>=0.8" or --gate "packages:faithfulness>=0.6"',
        )
    metric = m["metric"]
    if metric not in METRICS:
        close = difflib.get_close_matches(metric, METRICS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise UserError(
            f"unknown metric {metric!r} in gate {text!r}", hint=hint + f"known: {', '.join(METRICS)}"
        )
    try:
        value = float(m["value"])
    except ValueError:
        raise UserError(
            f"the gate {text!r} needs a number after {m['op']}", hint='e.g. "hit@k>=0.8"'
        ) from None
    tag = m["tag"].strip() if m["tag"] else None
    if tag and metric.startswith("latency_"):
        raise UserError(f"{metric} is measured over the whole run, not per tag", hint=f'use "{metric}<=..."')
    return Gate(metric, m["op"], value, tag, text.strip())


def check_gates(run: Any, gates: Sequence[str]) -> list[GateResult]:
    parsed = [parse_gate(g) for g in gates]  # every gate is read before any is checked
    return [g.check(run) for g in parsed]
