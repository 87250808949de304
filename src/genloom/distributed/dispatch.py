"""The dispatcher's side of every distributed job: tasks go to the workers over one broker, a bounded number in
flight, and their outcomes come back (ingest batches: genloom.distributed.sink; re-embed batches: .reembed;
eval cases: .eval_tasks).

At most ``max_outstanding`` tasks are in flight (``submit`` waits for the oldest beyond that), so the
dispatcher's memory stays bounded however large the job. A task that fails for good (after the broker's
redeliveries) or does not finish within ``timeout`` seconds comes back as an ``Outcome`` with ``error`` set.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from genloom.distributed.app import make_app
from genloom.errors import BackendError
from genloom.settings import Settings


@dataclass
class Outcome:
    tag: Any  # what the caller gave ``submit`` to recognise the task by
    value: Any = None  # the task's return value when it succeeded
    error: str = ""  # why not, when it did not

    @property
    def ok(self) -> bool:
        return not self.error


class Dispatcher:
    def __init__(
        self, broker: str, settings: Settings, max_outstanding: int = 8, timeout: float = 3600.0
    ) -> None:
        self.app = make_app(broker, settings)
        self.max_outstanding = max(1, max_outstanding)
        self.timeout = timeout
        self._flight: list[tuple[Any, Any]] = []  # (AsyncResult, tag), in the order sent
        self._done: list[Outcome] = []  # collected while submit waited, not yet handed out
        self.workers: list[str] = []  # which worker ran each successful task ("host:pid"), as collected

    def __enter__(self) -> Dispatcher:
        try:
            with self.app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1)
        except Exception as e:
            raise BackendError(
                f"cannot reach the broker for --workers: {e}",
                hint="is RabbitMQ running there? the URL looks like amqp://user:pass@host:5672//",
            ) from None
        return self

    def __exit__(self, *exc: object) -> None:
        for result, _ in self._flight:  # an early exit: nothing waits for these any more
            result.forget()
        self._flight.clear()
        self.app.close()  # the broker and result connections this dispatcher opened

    def submit(self, task: str, args: list[Any], tag: Any) -> None:
        while len(self._flight) >= self.max_outstanding:  # bounded: wait for the oldest first
            self._done.append(self._wait(self._flight.pop(0)))
        self._flight.append((self.app.send_task(task, args=args), tag))

    def ready(self) -> Iterator[Outcome]:
        """Outcomes of the tasks finished so far, without waiting."""
        while self._done:
            yield self._done.pop(0)
        for item in [f for f in self._flight if f[0].ready()]:
            self._flight.remove(item)
            yield self._collect(*item)

    def drain(self) -> Iterator[Outcome]:
        """Every outstanding task's outcome, waiting for each."""
        yield from self.ready()
        while self._flight:
            yield self._wait(self._flight.pop(0))

    def _wait(self, item: tuple[Any, Any]) -> Outcome:
        from celery.exceptions import TimeoutError as CeleryTimeout

        with contextlib.suppress(CeleryTimeout):  # not finished in time: reported so
            item[0].wait(timeout=self.timeout, propagate=False)
        return self._collect(*item)

    def _collect(self, result: Any, tag: Any) -> Outcome:
        if result.successful():
            value = result.result
            if isinstance(value, dict):
                self.workers.append(str(value.get("worker", "?")))
            return Outcome(tag, value)
        reason = f"worker failed: {result.result!r}" if result.ready() else "no worker finished it in time"
        return Outcome(tag, error=reason)
