"""One pipeline stage on a background thread between two bounded queues, results in submission order.

    with Stage(embed_batch, depth=2) as stage:
        for batch in batches:
            stage.submit(batch)          # blocks while ``depth`` batches wait: memory stays bounded
            for out in stage.ready():    # whatever is finished, without waiting
                write(out)
        for out in stage.drain():        # the rest, waiting for it
            write(out)

The ingest pipeline runs the embedder here (ONNX Runtime and torch release the GIL while they compute) while
the calling thread reads, parses, splits and writes: so the store is only ever touched by the caller's
thread. An exception in ``fn`` is raised again in the caller (at its next submit / ready / drain); leaving the
``with`` block early (an error, a cancel) stops the thread after the item it is on and drops the rest.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")
_END = object()


class Stage(Generic[In, Out]):
    def __init__(self, fn: Callable[[In], Out], depth: int = 2, name: str = "genloom-stage") -> None:
        self._fn = fn
        self._in: queue.Queue[object] = queue.Queue(maxsize=max(1, depth))
        self._out: queue.Queue[object] = queue.Queue()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._submitted = self._received = 0
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)

    def __enter__(self) -> Stage[In, Out]:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        while True:  # unblock the worker if it waits to put; drop what was not taken
            try:
                self._in.get_nowait()
            except queue.Empty:
                break
        self._in.put(_END)
        self._thread.join(timeout=60)

    def _work(self) -> None:
        while not self._stop.is_set():
            item = self._in.get()
            if item is _END or self._stop.is_set():
                return
            try:
                self._out.put(self._fn(item))  # type: ignore[arg-type]
            except BaseException as e:  # handed to the caller's thread
                self._error = e
                self._out.put(_END)
                return

    def submit(self, item: In) -> None:
        while True:
            self._raise()
            try:
                self._in.put(item, timeout=0.2)
                self._submitted += 1
                return
            except queue.Full:
                continue

    def ready(self) -> Iterator[Out]:
        """Results finished so far, in order, without waiting."""
        while self._received < self._submitted:
            try:
                out = self._out.get_nowait()
            except queue.Empty:
                return
            yield self._take(out)

    def drain(self) -> Iterator[Out]:
        """Every outstanding result, in order, waiting for each."""
        while self._received < self._submitted:
            yield self._take(self._out.get())

    def _take(self, out: object) -> Out:
        if out is _END:
            self._raise()
            raise RuntimeError("the stage ended without a result")
        self._received += 1
        return out  # type: ignore[return-value]

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error
