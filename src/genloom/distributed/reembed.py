"""Re-embedding on the workers: the ``BatchRunner`` of genloom.kb_reembed that sends each batch of document
ids as a ``genloom.reembed_batch`` task. Only ids travel: each worker reads the documents from the shared
Postgres store, embeds them with the staging knowledge base's recorded embedder and writes them there.

    genloom kb reembed docs --embedder onnx:int8 --workers amqp://guest:guest@127.0.0.1:5672//

A batch that fails for good ends the re-embed with the worker's error; the knowledge base is left as it was
(and, like any stopped re-embed's, takes no document changes until the re-embed is finished or aborted) and the
staging copy keeps what was written, so running the command again finishes the rest.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from genloom.distributed.app import REEMBED
from genloom.distributed.dispatch import Dispatcher
from genloom.errors import BackendError
from genloom.settings import Settings


class WorkerBatches:
    """Call it as genloom.kb_reembed's ``runner``; ``workers`` lists who ran each batch afterwards."""

    def __init__(self, broker: str, settings: Settings, max_outstanding: int = 8) -> None:
        self.broker, self.settings, self.max_outstanding = broker, settings, max_outstanding
        self.workers: list[str] = []

    def __call__(self, source: str, staging: str, batches: list[list[str]]) -> Iterator[dict[str, Any]]:
        timeout = self.settings.ingest_task_timeout
        with Dispatcher(self.broker, self.settings, self.max_outstanding, timeout) as d:
            for i, batch in enumerate(batches):
                d.submit(REEMBED, [source, staging, batch], i)
                yield from self._check(source, d.ready())
            yield from self._check(source, d.drain())
            self.workers += d.workers

    @staticmethod
    def _check(source: str, outcomes: Iterator[Any]) -> Iterator[dict[str, Any]]:
        for o in outcomes:
            if not o.ok:
                raise BackendError(
                    f"re-embed batch {o.tag} failed on the workers ({o.error}); knowledge base {source!r} was left"
                    " as it was and takes no document changes until the re-embed is finished or aborted",
                    hint="fix the cause (see the worker's log), then run the same command again: it resumes"
                    f" (or cancel it: genloom kb reembed {source} --abort)",
                )
            yield o.value
