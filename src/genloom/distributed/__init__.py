"""Beyond one machine: ingest, re-embedding and evaluation go through a broker to Celery workers that read
from and write to the shared Postgres store.

    genloom worker --broker amqp://guest:guest@127.0.0.1:5672//         (on each machine; GENLOOM_STORE=postgres://...)
    genloom ingest docs/ --workers amqp://guest:guest@127.0.0.1:5672//  (reads, parses and splits; dispatches)
    genloom kb reembed docs --embedder onnx:int8 --workers amqp://...   (batches of document ids: .reembed)
    genloom eval cases.jsonl --kb docs --workers amqp://...              (one task per case: .eval_tasks)

Modules: app (the Celery app and its tasks), dispatch (the bounded dispatcher every job uses), sink (ingest),
reembed, eval_tasks, codec (ingest batches as JSON).

Why Celery: these machines already run RabbitMQ and Redis, and Celery over them gives exactly the guarantees
this job needs with no cluster to run: late acknowledgement (a batch is acked only after its documents are
written), redelivery when a worker dies (``task_reject_on_worker_lost`` and the broker's requeue on a dropped
connection), one batch per worker at a time (prefetch 1), and a per-process start hook to load the model once.
Measured here (/work/shared/OFFLINE-COMPONENTS.md): 2 Celery workers ran 50 tasks in 1.5 s; Ray took 11.7 s to
start and 27-37 s for a trivial 1,000-row map on 2 cores (and 240 MB); Dask would need its own scheduler and
gives no at-least-once delivery by itself.

Exactly-once effect from at-least-once delivery: chunk ids are derived from the document id and ordinal, and a
worker writes each document in one transaction that replaces any stored document of that id, so a batch run
twice (a worker killed mid-batch, the batch redelivered) leaves the same rows: no duplicate, no missing chunk.
Re-embedding writes into a staging copy the same way (genloom.kb_reembed) and eval cases are read-only.
"""

from genloom.distributed.app import make_app
from genloom.distributed.eval_tasks import WorkerCases
from genloom.distributed.reembed import WorkerBatches
from genloom.distributed.sink import CelerySink

__all__ = ["CelerySink", "WorkerBatches", "WorkerCases", "make_app"]
