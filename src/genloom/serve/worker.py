"""Run a blocking generation in a worker thread and read it from the event loop, cancellably.

    run = Generation(ticket, make, metrics)
    first = await run.first(request)    # waits for its queue turn and the first piece; errors raise here,
                                        # before any response byte, so they get a proper status code
    async for piece in run.rest(): ...  # the remaining pieces
    run.cancel()                        # client gone: the worker stops between two tokens

``make`` is called in the worker thread and returns an engine Stream (read as Deltas: text and tool-call
pieces) or an iterable of text pieces (an AnswerStream); it is iterated there and its iterator closed when done
or cancelled, which stops the model and releases its lock, so the next request does not wait for an abandoned
one. Then the queue ticket is released. Pieces are ``str`` or :class:`~genloom.types.Delta`; :func:`text_of`
gives a piece's text.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from starlette.requests import Request

from genloom.generate import Stream
from genloom.serve.queue import Ticket
from genloom.types import Delta

_END = object()
Piece = str | Delta


def text_of(piece: Piece) -> str:
    return piece if isinstance(piece, str) else piece.text


class Cancelled(Exception):
    """The client went away before the generation started or finished."""


class Generation:
    def __init__(
        self, ticket: Ticket, make: Callable[[], Iterable[Any]], on_cancel: Callable[[], None]
    ) -> None:
        self.ticket, self._make, self._on_cancel = ticket, make, on_cancel
        self.source: Any = None  # what make() returned (Stream / AnswerStream), for .completion / .answer
        self._cancel = threading.Event()
        self._items: asyncio.Queue[Any] = asyncio.Queue()
        self._thread: threading.Thread | None = None
        self._pending: list[Any] = []
        self.t_start = time.perf_counter()
        self.t_first: float | None = None
        self.cancelled = False
        self._checked = time.perf_counter()

    # -- worker thread ---------------------------------------------------------------------------------
    def _work(self, loop: asyncio.AbstractEventLoop) -> None:
        def put(item: Any) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: the server is shutting down
                loop.call_soon_threadsafe(self._items.put_nowait, item)

        it = None
        t0 = time.perf_counter()
        last: Any = _END
        try:
            self.source = self._make()
            it = self.source.deltas() if isinstance(self.source, Stream) else iter(self.source)
            for piece in it:
                if self._cancel.is_set():
                    break
                put(piece)
        except BaseException as e:  # delivered to the reader, which maps it to an HTTP error
            last = e
        finally:
            if it is not None and hasattr(it, "close"):
                with contextlib.suppress(Exception):
                    it.close()  # stops the model between tokens and releases its lock
            self.ticket._q.observe(time.perf_counter() - t0)
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self.ticket.release)
            # the end comes after the release (the loop runs callbacks in order): a reply can never finish,
            # and its event loop close, while its queue ticket is still held
            put(last)

    # -- event loop ------------------------------------------------------------------------------------
    async def _wait(self, aw: Any, request: Request | None) -> Any:
        """Await ``aw``, but give up (and cancel) if the client disconnects meanwhile (checked every 0.2 s)."""
        task = asyncio.ensure_future(aw)
        while True:
            done, _ = await asyncio.wait({task}, timeout=0.2)
            now = time.perf_counter()
            if request is not None and now - self._checked >= 0.2:
                self._checked = now
                if await request.is_disconnected():
                    task.cancel()
                    self.cancel()
                    raise Cancelled()
            if done:
                return task.result()

    async def first(self, request: Request | None) -> Piece | None:
        """Wait for a turn, start the worker, return the first piece (None if there is none)."""
        try:
            await self._wait(self.ticket.turn(), request)
        except BaseException:
            self.ticket.release()
            raise
        # the request's context (its trace span, its caller's scope) goes along into the worker thread
        ctx = contextvars.copy_context()
        self._thread = threading.Thread(
            target=ctx.run, args=(self._work, asyncio.get_running_loop()), daemon=True
        )
        self._thread.start()
        item = await self._wait(self._items.get(), request)
        if isinstance(item, BaseException):
            raise item
        if item is _END:
            self._pending.append(_END)
            return None
        self.t_first = time.perf_counter()
        return item

    async def rest(self) -> AsyncIterator[Piece]:
        ended = False
        try:
            while True:
                item = self._pending.pop() if self._pending else await self._items.get()
                if item is _END:
                    ended = True
                    return
                if isinstance(item, BaseException):
                    ended = True
                    raise item
                if self.t_first is None:
                    self.t_first = time.perf_counter()
                yield item
        finally:
            if not ended:  # the consumer stopped early: the client went away
                self.cancel()

    async def collect(self, request: Request | None) -> str:
        """All the text; a client that goes away meanwhile cancels the generation (Cancelled is raised)."""
        first = await self.first(request)
        parts = [] if first is None else [text_of(first)]
        while not self._pending:
            item = await self._wait(self._items.get(), request)
            if item is _END:
                return "".join(parts)
            if isinstance(item, BaseException):
                raise item
            parts.append(text_of(item))
        return "".join(parts)

    def cancel(self) -> None:
        if not self._cancel.is_set():
            self._cancel.set()
            if self._thread is not None and self._thread.is_alive():
                self.cancelled = True
                self._on_cancel()

    @property
    def ttft(self) -> float | None:
        return None if self.t_first is None else self.t_first - self.t_start
