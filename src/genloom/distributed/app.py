"""The Celery app: one task, ``genloom.ingest_batch``, and the worker's per-process model load.

Settings of the worker process (GENLOOM_STORE = the shared Postgres store, GENLOOM_EMBEDDER, ...) decide where
it writes and which embedder it preloads; the task names the knowledge base, whose recorded embedder wins
(as everywhere: genloom.kb).
"""

from __future__ import annotations

import os
from typing import Any

from genloom.errors import MissingDependency, UserError
from genloom.settings import Settings, get_settings

TASK = "genloom.ingest_batch"
_kbs: dict[str, Any] = {}  # per worker process: knowledge bases opened so far


def result_backend(settings: Settings) -> str:
    """Where task results go: ``ingest_results``, else ``redis_url``, else back over the broker (rpc://)."""
    return settings.ingest_results or settings.redis_url or "rpc://"


def make_app(broker: str, settings: Settings | None = None) -> Any:
    """A Celery app on ``broker`` (amqp://... or redis://...) with the ingest task registered."""
    s = settings or get_settings()
    if "://" not in broker:
        raise UserError(f"bad broker URL {broker!r}", hint="use e.g. amqp://guest:guest@127.0.0.1:5672//")
    try:
        from celery import Celery, signals
    except ImportError:
        raise MissingDependency("celery", "distributed") from None
    app = Celery("genloom", broker=broker, backend=result_backend(s), set_as_current=False)
    app.conf.update(
        task_acks_late=True,  # acked once its documents are written: a dead worker's batch is redelivered
        task_reject_on_worker_lost=True,  # ... also when only the pool process dies
        worker_prefetch_multiplier=1,  # one batch per worker process at a time
        task_default_queue=s.worker_queue,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=24 * 3600,
        broker_connection_retry_on_startup=True,
        task_track_started=True,
    )
    app.task(name=TASK)(ingest_batch)
    signals.worker_process_init.connect(_load_model, weak=False)
    return app


def _load_model(**_: Any) -> None:
    """Each worker process loads (and, the first time, exports) the configured embedder before any task."""
    from genloom.backends.embed import resolve_embedder

    resolve_embedder(None, get_settings()).info()


def ingest_batch(kb_name: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Embed and write one batch of prepared documents into ``kb_name`` (genloom.ingest.sink.write_batch:
    each document in one replacing transaction, so running a batch twice is harmless)."""
    from genloom.distributed.codec import decode_batch, encode_written
    from genloom.ingest.sink import embed_batch, write_batch
    from genloom.kb import KnowledgeBase

    kb = _kbs.get(kb_name)
    if kb is None:
        kb = _kbs[kb_name] = KnowledgeBase.open(kb_name, get_settings())
    batch = decode_batch(rows)
    for p in batch:  # chunks whose text is unchanged keep their stored vectors
        known = kb.store.chunk_vectors(p.doc.doc_id)
        p.vectors = [known.get(h) for h in p.hashes]
        p.n_new = sum(v is None for v in p.vectors)
    written = write_batch(kb.store, embed_batch(kb.embedder, batch))
    return {**encode_written(written), "worker": f"{os.uname().nodename}:{os.getpid()}"}
