"""The Celery app: the tasks (``TASKS``: ingest batches, re-embed batches, eval cases) and the worker's
per-process model load.

Settings of the worker process (GENLOOM_STORE = the shared Postgres store, GENLOOM_EMBEDDER, ...) decide where
it writes and which embedder it preloads; each task names its knowledge base, whose recorded embedder wins
(as everywhere: genloom.kb). The task bodies are thin: the work is the same function a single machine runs
(genloom.ingest.sink, genloom.kb_reembed, genloom.eval.runner), so both give the same rows and results.
"""

from __future__ import annotations

import os
from typing import Any

from genloom.errors import MissingDependency, UserError
from genloom.settings import Settings, get_settings

INGEST = "genloom.ingest_batch"
REEMBED = "genloom.reembed_batch"
EVAL_CASE = "genloom.eval_case"


def result_backend(settings: Settings) -> str:
    """Where task results go: ``ingest_results``, else ``redis_url``, else back over the broker (rpc://)."""
    return settings.ingest_results or settings.redis_url or "rpc://"


def make_app(broker: str, settings: Settings | None = None) -> Any:
    """A Celery app on ``broker`` (amqp://... or redis://...) with every task of ``TASKS`` registered."""
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
    for name, body in TASKS.items():
        app.task(name=name)(body)
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

    batch = decode_batch(rows)
    # opened per batch (cheap on Postgres; the embedder is cached per process): a knowledge base replaced
    # meanwhile (genloom.kb_reembed) is written as it is now
    with KnowledgeBase.open(kb_name, get_settings()) as kb:
        for p in batch:  # chunks whose text is unchanged keep their stored vectors
            known = kb.store.chunk_vectors(p.doc.doc_id)
            p.vectors = [known.get(h) for h in p.hashes]
            p.n_new = sum(v is None for v in p.vectors)
        written = write_batch(kb.store, embed_batch(kb.embedder, batch))
    return {**encode_written(written), "worker": _worker()}


def reembed_batch(source: str, staging: str, doc_ids: list[str]) -> dict[str, Any]:
    """Copy documents of ``source`` into the re-embed staging knowledge base with its embedder's vectors
    (genloom.kb_reembed.reembed_batch: one replacing transaction per document, so running it twice is harmless)."""
    from genloom.kb_reembed import reembed_batch as run

    return {**run(source, staging, doc_ids, get_settings()), "worker": _worker()}


def eval_case(case: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """Answer and score one eval case (genloom.eval.runner.run_case; read-only, so a redelivery is harmless)."""
    from genloom.eval.runner import run_case_json

    return {**run_case_json(case, options), "worker": _worker()}


def _worker() -> str:
    return f"{os.uname().nodename}:{os.getpid()}"


TASKS = {INGEST: ingest_batch, REEMBED: reembed_batch, EVAL_CASE: eval_case}
