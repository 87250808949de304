"""Continuous batching: one scheduler thread decodes every running sequence of a model together.

Each model (Runtime) and slot count gets one :class:`Scheduler`, which owns a :class:`~.model.BatchContext`
(llama.cpp contexts are not thread-safe: only the scheduler's thread touches it). A request is a
:class:`Decoding` (one sequence's token loop, :mod:`.loop`); :meth:`Scheduler.run` hands it over and yields its
tokens in the caller's thread. Per step the scheduler:

1. frees the slots of cancelled sequences (the consumer closed its iterator) and admits waiting requests
   (FIFO) into free slots: the free slot whose cached tokens share the longest prefix
   with the prompt, so a conversation's next turn re-evaluates only what is new (prefix reuse per slot);
2. builds one batch: every generating sequence's next token(s) first, then prompt chunks of joining requests
   in the room left (``n_batch`` tokens a step), and decodes it;
3. gives each sequence whose input is all evaluated its logits: its hooks and sampler pick the next tokens,
   which go to its consumer and into the next step's batch.

A free slot keeps its KV cells as a prefix cache until a request takes the slot; then the cells past the
shared prefix are dropped.
"""

from __future__ import annotations

import atexit
import queue
import threading
from collections import deque
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from genloom.backends.llm.llamacpp.model import BatchContext, Runtime


class Decoding(Protocol):
    prompt: list[int]
    ended: bool

    def begin(self) -> None: ...

    def step(self, logits: Callable[[], np.ndarray]) -> tuple[list[int], bool]: ...


@dataclass(slots=True, eq=False)
class _Request:
    d: Decoding
    out: queue.SimpleQueue[list[int] | BaseException | None] = field(default_factory=queue.SimpleQueue)
    cancelled: bool = False


@dataclass(slots=True, eq=False)
class _Slot:
    seq: int
    cached: list[int] = field(default_factory=list)  # the tokens whose KV cells this sequence holds
    req: _Request | None = None
    pending: list[int] = field(default_factory=list)  # tokens to evaluate next
    used: int = 0  # when it was last taken (least recently used breaks prefix ties)


@dataclass(slots=True)
class Stats:
    steps: int = 0  # llama_decode calls
    evaluated: int = 0  # tokens evaluated (prompts and outputs)
    most_running: int = 0  # the most sequences in one step


_END = None  # on a request's out queue: the sequence is over


class Scheduler:
    def __init__(self, rt: Runtime, slots: int) -> None:
        self.rt, self.n_batch = rt, rt.n_batch
        self._make = lambda: rt.batch_context(slots)
        self.slots = [_Slot(i) for i in range(slots)]
        self._waiting: deque[_Request] = deque()
        self._wake = threading.Event()
        self._stop = False
        self._taken = 0
        self.stats = Stats()
        self._thread: threading.Thread | None = None
        self._started = threading.Lock()
        self._ctx: BatchContext | None = None

    # -- the caller's side ----------------------------------------------------------------------------
    def run(self, d: Decoding) -> Generator[list[int], None, None]:
        """Decode ``d`` with the other running sequences; yields its output tokens as they come (lists: a
        hook's forced tokens come together). Closing the generator cancels the sequence."""
        self._ensure_thread()
        req = _Request(d)
        self._waiting.append(req)
        self._wake.set()
        try:
            while True:
                item = req.out.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            req.cancelled = True
            self._wake.set()

    @property
    def waiting(self) -> int:
        """Requests handed over but not yet in a slot."""
        return len(self._waiting)

    @property
    def running(self) -> int:
        return sum(s.req is not None for s in self.slots)

    def _ensure_thread(self) -> None:
        if self._thread is None:
            with self._started:
                if self._thread is None:
                    ready: queue.SimpleQueue[BaseException | None] = queue.SimpleQueue()
                    t = threading.Thread(target=self._main, args=(ready,), name="llamacpp-batch", daemon=True)
                    t.start()
                    err = ready.get()
                    if err is not None:
                        raise err
                    self._thread = t

    def close(self) -> None:
        self._stop = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    # -- the scheduler thread -------------------------------------------------------------------------
    def _main(self, ready: queue.SimpleQueue[BaseException | None]) -> None:
        try:
            self._ctx = self._make()
        except BaseException as e:
            ready.put(e)
            return
        ready.put(None)
        try:
            while not self._stop:
                self._wake.clear()  # before looking: a request that comes after sets it again
                self._admit()
                if not self._step():
                    self._wake.wait()
        finally:
            for s in self.slots:
                if s.req is not None:
                    s.req.out.put(_END)
            self._ctx.close()

    def _admit(self) -> None:
        for s in self.slots:
            if s.req is not None and s.req.cancelled:  # the consumer closed its iterator: the slot is free
                s.req, s.pending = None, []
        while self._waiting:
            req = self._waiting[0]
            if req.cancelled:
                self._waiting.popleft()
                continue
            free = [s for s in self.slots if s.req is None]
            if not free:
                return
            self._waiting.popleft()
            prompt = req.d.prompt
            slot = max(free, key=lambda s: (_common(s.cached, prompt), -s.used))
            keep = min(_common(slot.cached, prompt), len(prompt) - 1)  # re-evaluate >= 1 token: fresh logits
            assert self._ctx is not None
            self._ctx.forget(slot.seq, keep)
            self._taken += 1
            slot.cached, slot.pending, slot.used = prompt[:keep], prompt[keep:], self._taken
            try:
                req.d.begin()
            except BaseException as e:  # a hook refused the prompt: only this request fails
                req.out.put(e)
                continue
            slot.req = req

    def _step(self) -> bool:
        """Decode one batch; False when no sequence is running."""
        ctx = self._ctx
        assert ctx is not None
        running = [s for s in self.slots if s.req is not None]
        if not running:
            return False
        running.sort(key=lambda s: len(s.pending) > 1)  # generating sequences first, then prompt chunks
        budget = self.n_batch
        parts: list[tuple[_Slot, list[int], bool]] = []
        for s in running:
            if budget <= 0:
                break
            take = s.pending[:budget]
            budget -= len(take)
            parts.append((s, take, len(take) == len(s.pending)))
        try:
            rows = ctx.decode([(s.seq, len(s.cached), take, last) for s, take, last in parts])
        except BaseException as e:  # the step failed as a whole: every sequence in it fails
            for s, _, _ in parts:
                self._finish(s, e)
                ctx.forget(s.seq)
                s.cached = []
            return True
        st = self.stats
        st.steps, st.most_running = st.steps + 1, max(st.most_running, len(parts))
        st.evaluated += sum(len(take) for _, take, _ in parts)
        for (s, take, last), row in zip(parts, rows, strict=True):
            s.cached += take
            del s.pending[: len(take)]
            if not last:
                continue
            req = s.req
            assert req is not None
            try:
                tokens, more = req.d.step(lambda row=row: ctx.logits(row))  # type: ignore[misc]
            except BaseException as e:
                self._finish(s, e)
                continue
            if tokens:
                req.out.put(tokens)
            if more:
                s.pending = list(tokens)
            else:
                self._finish(s, None)
        return True

    def _finish(self, s: _Slot, error: BaseException | None) -> None:
        if s.req is not None:
            s.req.out.put(_END if error is None else error)
        s.req, s.pending = None, []


def _common(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


_schedulers: dict[tuple[int, int], Scheduler] = {}
_lock = threading.Lock()


def scheduler(rt: Runtime, slots: int) -> Scheduler:
    """The scheduler of ``rt`` with ``slots`` sequences of the runtime's ``n_ctx`` tokens (made on first use)."""
    key = (id(rt), slots)
    s = _schedulers.get(key)
    if s is None:
        with _lock:
            s = _schedulers.get(key)
            if s is None:
                s = _schedulers[key] = Scheduler(rt, slots)
    return s


@atexit.register  # registered after model.py's: runs first, so contexts go before their models
def _close_all() -> None:
    for s in _schedulers.values():
        s.close()
    _schedulers.clear()
