"""What flows through an ingest: per-file results, the run's report, and documents between the stages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from genloom.types import Chunk, Document

Status = Literal["added", "updated", "unchanged", "failed", "skipped", "quarantined"]


@dataclass(slots=True)
class FileResult:
    source: str
    status: Status
    reason: str = ""
    chunks: int = 0
    doc_id: str = ""
    bytes: int = 0  # the file's size (progress and ETA go by bytes)
    flagged: list[dict[str, Any]] = field(default_factory=list)  # spans the guards kept out (issue 14)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "status": self.status, "reason": self.reason, "chunks": self.chunks,
                "doc_id": self.doc_id, "bytes": self.bytes, "flagged": self.flagged}  # fmt: skip


@dataclass(slots=True)
class IngestReport:
    kb: str
    results: list[FileResult] = field(default_factory=list)
    embedded: int = 0  # chunk vectors computed in this run
    reused: int = 0  # chunk vectors taken from the store (text unchanged)
    seconds: float = 0.0
    peak_rss_mb: float = 0.0  # this process's peak resident memory when the run ended

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def chunks(self) -> int:
        return sum(r.chunks for r in self.results if r.status in ("added", "updated"))

    def to_dict(self) -> dict[str, Any]:
        statuses: tuple[Status, ...] = ("added", "updated", "unchanged", "failed", "skipped", "quarantined")
        return {
            "kb": self.kb,
            **{s: self.count(s) for s in statuses},
            "flagged": sum(1 for r in self.results if r.flagged),
            "chunks": self.chunks,
            "embedded": self.embedded,
            "reused": self.reused,
            "seconds": round(self.seconds, 3),
            "chunks_per_second": round(self.chunks / self.seconds, 1) if self.seconds > 0 else None,
            "peak_rss_mb": self.peak_rss_mb,
            "files": [r.to_dict() for r in self.results],
        }


Progress = Callable[[str, Any], None]  # ("total", n_files) | ("bytes", n_bytes) | ("file", FileResult)


@dataclass(slots=True)
class Prepared:
    """A parsed, split document on its way to the embedder and the store."""

    result: FileResult
    doc: Document
    chunks: list[Chunk]
    embed_texts: list[str]
    hashes: list[str]
    vectors: list[np.ndarray | None]
    n_new: int = 0  # how many of ``vectors`` the embedder must compute (the rest are reused)


@dataclass(slots=True)
class Written:
    """What a sink reports for one batch: each document's result and the vectors computed / reused."""

    results: list[FileResult]
    embedded: int = 0
    reused: int = 0
