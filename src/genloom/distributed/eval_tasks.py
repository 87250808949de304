"""Evaluation on the workers: the ``CaseRunner`` of genloom.eval.runner that sends each case as a
``genloom.eval_case`` task; each worker answers and scores it (genloom.eval.runner.run_case, against the
knowledge base in the shared Postgres store) and the results are put back in the dataset's order, so the
run is the same as a local one (only ``timings`` differ, as they do between any two runs).

    genloom eval cases.jsonl --kb docs --workers amqp://guest:guest@127.0.0.1:5672//

A case is read-only work, so a redelivered one (its worker died) is simply answered again. A case that fails
for good ends the evaluation with the worker's error, as a failing case does locally.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from genloom.distributed.app import EVAL_CASE
from genloom.distributed.dispatch import Dispatcher, Outcome
from genloom.errors import BackendError
from genloom.eval.dataset import EvalCase
from genloom.settings import Settings


class WorkerCases:
    """Pass it as ``evaluate(..., runner=WorkerCases(broker, settings))``; ``workers`` lists who answered."""

    def __init__(self, broker: str, settings: Settings, max_outstanding: int = 16) -> None:
        self.broker, self.settings, self.max_outstanding = broker, settings, max_outstanding
        self.workers: list[str] = []

    def __call__(
        self, cases: Sequence[EvalCase], options: dict[str, Any], done: Callable[[int], None]
    ) -> list[dict[str, Any]]:
        got: dict[int, dict[str, Any]] = {}

        def keep(outcomes: Any) -> None:
            for o in outcomes:
                got[o.tag] = self._value(o, cases)
                done(len(got))

        timeout = self.settings.ingest_task_timeout
        with Dispatcher(self.broker, self.settings, self.max_outstanding, timeout) as d:
            for i, case in enumerate(cases):
                d.submit(EVAL_CASE, [{**case.to_dict(), "line": case.line}, options], i)
                keep(d.ready())
            keep(d.drain())
            self.workers += d.workers
        return [got[i] for i in range(len(cases))]

    @staticmethod
    def _value(o: Outcome, cases: Sequence[EvalCase]) -> dict[str, Any]:
        if not o.ok:
            raise BackendError(f"eval case {cases[o.tag].id!r} failed on the workers ({o.error})",
                               hint="see the worker's log (genloom worker), fix the cause, then run again")  # fmt: skip
        return {k: v for k, v in o.value.items() if k != "worker"}
