"""The dispatcher's end of ingest: prepared batches go to the workers as ``genloom.ingest_batch`` tasks
(genloom.distributed.dispatch: a bounded number in flight, so memory stays bounded however large the corpus).

A batch whose task fails for good (after the broker's redeliveries) reports each of its documents as failed,
with the worker's error, and nothing of it is claimed written: re-running the same command ingests them
(their hashes are not stored until they are written).
"""

from __future__ import annotations

from collections.abc import Iterator

from genloom.distributed.app import INGEST
from genloom.distributed.codec import decode_written, encode_batch
from genloom.distributed.dispatch import Dispatcher, Outcome
from genloom.ingest.records import Prepared, Written
from genloom.settings import Settings


class CelerySink:
    def __init__(
        self, broker: str, kb_name: str, settings: Settings, max_outstanding: int = 8, timeout: float = 3600.0
    ) -> None:
        self.dispatcher = Dispatcher(broker, settings, max_outstanding, timeout)
        self.kb_name = kb_name

    @property
    def workers(self) -> list[str]:
        """Which worker wrote each batch ("host:pid"), in completion order."""
        return self.dispatcher.workers

    def __enter__(self) -> CelerySink:
        self.dispatcher.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.dispatcher.__exit__(*exc)

    def submit(self, batch: list[Prepared]) -> None:
        self.dispatcher.submit(INGEST, [self.kb_name, encode_batch(batch)], [p.result for p in batch])

    def ready(self) -> Iterator[Written]:
        for outcome in self.dispatcher.ready():
            yield self._written(outcome)

    def drain(self) -> Iterator[Written]:
        for outcome in self.dispatcher.drain():
            yield self._written(outcome)

    @staticmethod
    def _written(outcome: Outcome) -> Written:
        if outcome.ok:
            return decode_written(outcome.value)
        for r in outcome.tag:
            r.status, r.reason = "failed", outcome.error
        return Written(outcome.tag)
