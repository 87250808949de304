"""Resource limits for reading one file, so that a small upload cannot keep a core busy for hours.

The pipeline opens a ``Budget`` per file; loaders ask the active one (``current()``) before costly steps and
in their loops. Exceeding a limit raises ``LoadError`` with the limit's name and the setting that raises it,
so that file fails with a clear reason while the rest of the run goes on. A set ``cancel`` event (the client
went away, the server is shutting down) raises ``IngestCancelled`` instead: the whole run stops, leaving
the documents already written whole.

    limits = Limits.from_settings(settings)
    with limits.budget(cancel) as b:      # the wall-time clock starts here
        extracted = loader(data, path)    # loaders call current().elements(n), .chars(n), .tick() ...
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from genloom.errors import GenloomError
from genloom.ingest.errors import LoadError
from genloom.settings import Settings


class IngestCancelled(GenloomError):
    """The run was cancelled (client disconnected, server draining): nothing more is read or written."""


@dataclass(frozen=True, slots=True)
class Limits:
    unpacked_bytes: int = 200 * 2**20
    elements: int = 200_000
    pages: int = 2000
    chars: int = 20_000_000
    chunks: int = 20_000
    seconds: float = 120.0

    @classmethod
    def from_settings(cls, s: Settings) -> Limits:
        return cls(s.ingest_max_unpacked_mb * 2**20, s.ingest_max_elements, s.ingest_max_pages,
                   s.ingest_max_chars, s.ingest_max_chunks, float(s.ingest_file_seconds))  # fmt: skip

    @contextlib.contextmanager
    def budget(self, cancel: threading.Event | None = None) -> Iterator[Budget]:
        b = Budget(self, cancel)
        token = _current.set(b)
        try:
            yield b
        finally:
            _current.reset(token)


class Budget:
    """One file's allowance; every check also looks at the clock and the cancel event."""

    def __init__(self, limits: Limits, cancel: threading.Event | None = None) -> None:
        self.limits, self.cancel = limits, cancel
        self.deadline = time.monotonic() + limits.seconds
        self._elements = 0

    def tick(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise IngestCancelled("the ingest was cancelled", hint="upload the files again")
        if time.monotonic() > self.deadline:
            raise _over(f"reading it took longer than {self.limits.seconds:g} s", "INGEST_FILE_SECONDS")

    def elements(self, n: int = 1) -> None:
        """Count ``n`` more paragraphs / cells / elements / headings read."""
        self._elements += n
        if self._elements > self.limits.elements:
            raise _over(f"it has more than {self.limits.elements} elements (paragraphs, cells, tags)",
                        "INGEST_MAX_ELEMENTS")  # fmt: skip
        if self._elements % 256 == 0:
            self.tick()

    def reset_elements(self) -> None:
        self._elements = 0

    def unpacked(self, nbytes: int) -> None:
        if nbytes > self.limits.unpacked_bytes:
            raise _over(f"it unpacks to {nbytes / 2**20:.1f} MiB, over {self.limits.unpacked_bytes / 2**20:.0f} MiB",
                        "INGEST_MAX_UNPACKED_MB")  # fmt: skip

    def pages(self, n: int) -> None:
        if n > self.limits.pages:
            raise _over(f"it has {n} pages, over {self.limits.pages}", "INGEST_MAX_PAGES")

    def chars(self, n: int) -> None:
        if n > self.limits.chars:
            raise _over(f"its text is {n} characters, over {self.limits.chars}", "INGEST_MAX_CHARS")

    def chunks(self, n: int) -> None:
        if n > self.limits.chunks:
            raise _over(f"it splits into {n} chunks, over {self.limits.chunks}", "INGEST_MAX_CHUNKS")


def _over(what: str, setting: str) -> LoadError:
    return LoadError(f"file refused: {what} (limit GENLOOM_{setting})",
                     hint=f"split the file, or raise GENLOOM_{setting} if it is trusted")  # fmt: skip


_current: ContextVar[Budget | None] = ContextVar("genloom_ingest_budget", default=None)
_UNLIMITED = Limits(2**62, 2**62, 2**62, 2**62, 2**62, float("inf"))


def current() -> Budget:
    """The budget of the file being read (an unlimited one outside the pipeline: direct loader calls)."""
    b = _current.get()
    return b if b is not None else Budget(_UNLIMITED)
