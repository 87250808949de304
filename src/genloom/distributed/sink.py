"""The dispatcher's end: prepared batches go to the workers as ``genloom.ingest_batch`` tasks.

At most ``max_outstanding`` batches are in flight (submit waits for the oldest beyond that), so the dispatcher's
memory stays bounded however large the corpus. A batch whose task fails for good (after the broker's
redeliveries) reports each of its documents as failed, with the worker's error, and nothing of it is claimed
written: re-running the same command ingests them (their hashes are not stored until they are written).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from genloom.distributed.app import TASK, make_app
from genloom.distributed.codec import decode_written, encode_batch
from genloom.errors import BackendError
from genloom.ingest.records import FileResult, Prepared, Written
from genloom.settings import Settings


class CelerySink:
    def __init__(
        self, broker: str, kb_name: str, settings: Settings, max_outstanding: int = 8, timeout: float = 3600.0
    ) -> None:
        self.app = make_app(broker, settings)
        self.kb_name = kb_name
        self.max_outstanding = max(1, max_outstanding)
        self.timeout = timeout
        self._flight: list[tuple[Any, list[FileResult]]] = []  # sent, in order
        self._done: list[Written] = []  # collected while submit waited, not yet handed out
        self.workers: list[str] = []  # which worker wrote each batch ("host:pid"), in completion order

    def __enter__(self) -> CelerySink:
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
        self.app.close()  # the broker and result connections this sink opened

    def submit(self, batch: list[Prepared]) -> None:
        while len(self._flight) >= self.max_outstanding:  # bounded: wait for the oldest first
            self._done.append(self._wait(self._flight.pop(0)))
        result = self.app.send_task(TASK, args=[self.kb_name, encode_batch(batch)])
        self._flight.append((result, [p.result for p in batch]))

    def ready(self) -> Iterator[Written]:
        while self._done:
            yield self._done.pop(0)
        for item in [f for f in self._flight if f[0].ready()]:
            self._flight.remove(item)
            yield self._collect(*item)

    def drain(self) -> Iterator[Written]:
        yield from self.ready()
        while self._flight:
            yield self._wait(self._flight.pop(0))

    def _wait(self, item: tuple[Any, list[FileResult]]) -> Written:
        from celery.exceptions import TimeoutError as CeleryTimeout

        with contextlib.suppress(CeleryTimeout):  # not finished in time: reported so
            item[0].wait(timeout=self.timeout, propagate=False)
        return self._collect(*item)

    def _collect(self, result: Any, sent: list[FileResult]) -> Written:
        if result.successful():
            value = result.result
            self.workers.append(value.get("worker", "?"))
            return decode_written(value)
        reason = f"worker failed: {result.result!r}" if result.ready() else "no worker finished it in time"
        for r in sent:
            r.status, r.reason = "failed", reason
        return Written(sent)
