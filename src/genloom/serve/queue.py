"""A bounded, first-come-first-served generation queue.

A backend runs ``concurrency`` generations at once (a llama.cpp model: its slots, decoded together; an
``openai:`` one: openai_concurrency), so further requests wait their turn here — in FIFO order, so no
client is starved. At most ``capacity`` generations are admitted (running + waiting); the next one gets 503
with Retry-After at once.

    ticket = queue.admit()          # raises QueueFull when full
    await ticket.turn()             # FIFO; ``concurrency`` tickets run at a time
    ...                             # generate (in a worker thread)
    ticket.release()                # idempotent; from any thread via loop.call_soon_threadsafe
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class QueueFull(Exception):
    def __init__(self, capacity: int, retry_after: float) -> None:
        super().__init__(f"the generation queue is full ({capacity} requests); try again shortly")
        self.capacity, self.retry_after = capacity, retry_after


class GenerationQueue:
    def __init__(
        self, capacity: int, concurrency: int = 1, on_change: Callable[[int], None] | None = None
    ) -> None:
        self.capacity, self.concurrency = capacity, concurrency
        self._sem: asyncio.Semaphore | None = None  # created inside the running loop
        self._depth = 0
        self._on_change = on_change
        self.avg_seconds = 2.0  # running mean of a generation's duration, for Retry-After

    @property
    def depth(self) -> int:
        """Admitted generations: running plus waiting."""
        return self._depth

    def _changed(self) -> None:
        if self._on_change:
            self._on_change(self._depth)

    def admit(self) -> Ticket:
        if self._depth >= self.capacity:
            waves = self._depth / max(1, self.concurrency)
            raise QueueFull(self.capacity, max(1.0, min(60.0, waves * self.avg_seconds)))
        self._depth += 1
        self._changed()
        return Ticket(self)

    def _semaphore(self) -> asyncio.Semaphore:
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.concurrency)
        return self._sem

    def observe(self, seconds: float) -> None:
        self.avg_seconds = 0.8 * self.avg_seconds + 0.2 * seconds


class Ticket:
    def __init__(self, queue: GenerationQueue) -> None:
        self._q = queue
        self._running = False
        self._done = False

    async def turn(self) -> None:
        await self._q._semaphore().acquire()  # asyncio.Semaphore wakes waiters in FIFO order
        if self._done:  # released while waiting (the client went away)
            self._q._semaphore().release()
            return
        self._running = True

    def release(self) -> None:
        if self._done:
            return
        self._done = True
        if self._running:
            self._q._semaphore().release()
        self._q._depth -= 1
        self._q._changed()
