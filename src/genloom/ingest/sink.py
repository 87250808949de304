"""Where prepared batches go to be embedded and written.

``LocalSink``: the embedder on a background thread (genloom.ingest.stage; ONNX Runtime and torch release the
GIL), writes on the caller's thread, so the store is never shared between threads. genloom.distributed's
``CelerySink``: Celery workers that embed and write to the shared Postgres store themselves.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Protocol

import numpy as np

from genloom.backends.embed import Embedder
from genloom.backends.store import Store
from genloom.ingest.records import Prepared, Written
from genloom.ingest.stage import Stage


class Sink(Protocol):
    """Where prepared batches go to be embedded and written: ``LocalSink`` (a thread, this process's store)
    or genloom.distributed's Celery workers. Results come back in any order, each batch whole."""

    def __enter__(self) -> Sink: ...

    def __exit__(self, *exc: object) -> None: ...

    def submit(self, batch: list[Prepared]) -> None:
        """Hand over a batch; may block while too many are outstanding (memory stays bounded)."""
        ...

    def ready(self) -> Iterator[Written]:
        """Batches finished so far, without waiting."""
        ...

    def drain(self) -> Iterator[Written]:
        """Every outstanding batch, waiting for each."""
        ...


class LocalSink:
    """Embeds on a background thread (genloom.ingest.stage) and writes on the caller's thread, which is the
    only one that touches the store: one transaction per document."""

    def __init__(self, store: Store, embedder: Embedder, depth: int = 2) -> None:
        self.store, self.embedder = store, embedder
        self._stage: Stage[list[Prepared], list[Prepared]] = Stage(
            lambda batch: embed_batch(self.embedder, batch), depth=depth, name="genloom-embed"
        )

    def __enter__(self) -> LocalSink:
        self._stage.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stage.__exit__(*exc)

    def submit(self, batch: list[Prepared]) -> None:
        self._stage.submit(batch)

    def ready(self) -> Iterator[Written]:
        for batch in self._stage.ready():
            yield write_batch(self.store, batch)

    def drain(self) -> Iterator[Written]:
        for batch in self._stage.drain():
            yield write_batch(self.store, batch)


def embed_batch(embedder: Embedder, batch: list[Prepared]) -> list[Prepared]:
    """Fill in the vectors a batch of documents lacks, in one embedder call (large calls are fast ones)."""
    todo = [(p, i) for p in batch for i, v in enumerate(p.vectors) if v is None]
    if todo:
        vecs = embedder.embed_documents([p.embed_texts[i] for p, i in todo])
        for (p, i), v in zip(todo, vecs, strict=True):
            p.vectors[i] = v
    return batch


def write_batch(store: Store, batch: list[Prepared]) -> Written:
    """Write each (embedded) document in its own transaction: replacing any stored one of the same id, so
    writing a batch again gives the same rows (what makes redelivered distributed batches harmless)."""
    for p in batch:
        p.doc.updated_at = time.time()
        store.put_document(p.doc, p.chunks, np.stack(p.vectors), p.hashes)  # type: ignore[arg-type]
    return Written([p.result for p in batch], sum(p.n_new for p in batch),
                   sum(len(p.vectors) - p.n_new for p in batch))  # fmt: skip
