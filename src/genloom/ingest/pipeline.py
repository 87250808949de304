"""Ingest: files → load → split → (reuse or compute) vectors → one store transaction per document.

A document is identified by its resolved path; a hash of its bytes plus everything that shapes its chunks
(splitter settings, principals, metadata) decides added / updated / unchanged. Unchanged documents are not
read past hashing and never re-embedded; chunks of an updated document whose text did not change keep their
stored vectors. Vectors are computed for several documents at once (large batches are what make the
embedder fast) but each document is written in its own transaction, so ``kill -9`` at any moment leaves
whole documents only, and re-running the same command finishes the rest.

The stages overlap: this thread reads, parses and splits files and writes finished documents, while the
embedder computes the previous batch on a background thread (genloom.ingest.stage; ONNX Runtime and torch
release the GIL). At most ``queue_batches`` batches of ``batch_chunks`` chunks wait for the embedder, so memory
stays bounded whatever the corpus size; the store is only touched from the calling thread.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import resource
import threading
import time
from pathlib import Path
from typing import Any

from genloom.backends.embed import Embedder
from genloom.backends.store import Store
from genloom.errors import GenloomError
from genloom.guard.ingest import DocumentScreen
from genloom.ingest.errors import LoadError
from genloom.ingest.files import expand
from genloom.ingest.limits import IngestCancelled, Limits
from genloom.ingest.loaders import loader_for
from genloom.ingest.records import FileResult, IngestReport, Prepared, Progress, Status, Written
from genloom.ingest.sink import LocalSink, Sink
from genloom.ingest.splitter import split
from genloom.types import PUBLIC, Chunk, Document

SPLITTER_VERSION = "1"


class Quarantined(LoadError):
    """The document guards blocked a document: it is not indexed (the flagged spans say why)."""

    def __init__(self, flagged: list[dict[str, Any]]) -> None:
        reasons = "; ".join(dict.fromkeys(str(f["reason"]) for f in flagged))
        super().__init__(f"quarantined by the guards: {reasons}")
        self.flagged = flagged


def doc_id_for(path: Path | str, salt: str = "") -> str:
    """A document's id: derived from its source (a resolved path, or a logical name such as 'upload:x.pdf').
    With ``salt`` (a knowledge base's secret, for uploads) the id cannot be computed from the name."""
    source = str(path.resolve()) if isinstance(path, Path) else path
    if salt:
        return hmac.new(salt.encode(), source.encode(), hashlib.sha256).hexdigest()[:16]
    return hashlib.sha256(source.encode()).hexdigest()[:16]


class Ingestor:
    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        *,
        chunk_tokens: int = 200,
        chunk_overlap: int = 30,
        max_bytes: int = 50 * 2**20,
        batch_chunks: int = 32,
        queue_batches: int = 2,
        limits: Limits | None = None,
        screen: DocumentScreen | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.chunk_tokens = chunk_tokens
        self.chunk_overlap = chunk_overlap
        self.max_bytes = max_bytes
        self._sources: dict[Path, str] = {}
        self._named: set[Path] = set()
        self.batch_chunks = batch_chunks  # chunks per embedder call (one batch through the stage)
        self.queue_batches = queue_batches  # batches parsed ahead of the embedder (bounds memory)
        self.limits = limits or Limits()
        self.screen = screen  # the document guards (genloom.guard.ingest); None = unguarded
        self._writers: list[str] = []
        self._salt = ""
        self._cancel: threading.Event | None = None

    def run(
        self,
        paths: list[str | Path],
        principals: list[str] | None = None,
        metadata: dict[str, str] | None = None,
        progress: Progress | None = None,
        sources: dict[Path, str] | None = None,
        writers: list[str] | None = None,
        id_salt: str = "",
        cancel: threading.Event | None = None,
        sink: Sink | None = None,
    ) -> IngestReport:
        """Ingest ``paths``. ``sources`` names files by a logical source instead of their path (uploads
        arrive in temp files: naming them 'upload:<name>' makes re-uploads update the same document).

        ``writers``: who may change the documents (stamped on them; an existing document whose writers do
        not include one of them is not touched: that file fails). ``id_salt``: document ids are keyed with
        it (uploads: not computable from a name). ``cancel``: once set, the run stops at the next check
        (``IngestCancelled``); documents already written stay whole. ``sink``: where batches are embedded
        and written (default: ``LocalSink``, a thread and this store)."""
        t0 = time.perf_counter()
        self._sources = {Path(k).resolve(): v for k, v in (sources or {}).items()}
        self._writers, self._salt, self._cancel = sorted(set(writers or [])), id_salt, cancel
        report = IngestReport(self.store.name)
        emit = progress or (lambda kind, value: None)
        readers = sorted({p.strip() for p in (principals or []) if p.strip()}) or [PUBLIC]
        files, problems = expand(paths)
        # a file named explicitly that no loader reads has failed; one found in a folder is skipped
        self._named = {Path(p).expanduser().resolve() for p in paths if Path(p).expanduser().is_file()}
        emit("total", len(files) + len(problems))
        emit("bytes", sum(_size(p) for p in files))
        for source, reason in problems:
            self._done(report, emit, FileResult(source, "failed", reason))
        pending: list[Prepared] = []
        n_new = 0
        # reading, parsing, splitting (here) overlap embedding and writing (the sink)
        with sink or LocalSink(self.store, self.embedder, self.queue_batches) as out:
            for path in files:
                if cancel is not None and cancel.is_set():
                    raise IngestCancelled("the ingest was cancelled", hint="run it again to finish")
                n_new += self._prepare_one(path, readers, metadata, pending, report, emit)
                if n_new >= self.batch_chunks:
                    out.submit(pending)
                    pending, n_new = [], 0
                for written in out.ready():
                    self._record(written, report, emit)
            if pending:
                out.submit(pending)
            for written in out.drain():
                self._record(written, report, emit)
        report.seconds = time.perf_counter() - t0
        report.peak_rss_mb = peak_rss_mb()
        return report

    def _prepare_one(
        self, path: Path, readers: list[str], metadata: dict[str, str] | None, pending: list[Prepared],
        report: IngestReport, emit: Progress,
    ) -> int:  # fmt: skip
        """Read, hash, parse and split one file; returns how many of its chunks need vectors."""
        try:
            item = self._prepare(path, readers, dict(metadata or {}))
        except Quarantined as e:  # the guards' policy holds the whole document back
            source = self._sources.get(path.resolve(), str(path))
            self._done(
                report,
                emit,
                FileResult(source, "quarantined", e.message, flagged=e.flagged, bytes=_size(path)),
            )
            return 0
        except LoadError as e:  # named by its logical source (an upload's, not the temp file's)
            source = self._sources.get(path.resolve(), str(path))
            self._done(report, emit, FileResult(source, "failed", e.message, bytes=_size(path)))
            return 0
        if isinstance(item, FileResult):
            item.bytes = _size(path)
            self._done(report, emit, item)
            return 0
        item.result.bytes = _size(path)
        pending.append(item)
        return item.n_new

    def _record(self, written: Written, report: IngestReport, emit: Progress) -> None:
        report.embedded += written.embedded
        report.reused += written.reused
        for r in written.results:
            self._done(report, emit, r)

    def _done(self, report: IngestReport, emit: Progress, r: FileResult) -> None:
        report.results.append(r)
        emit("file", r)

    def _prepare(self, path: Path, readers: list[str], metadata: dict[str, str]) -> Prepared | FileResult:
        source = self._sources.get(path.resolve(), str(path.resolve()))
        loader = loader_for(path)
        if loader is None:
            status: Status = "failed" if path.resolve() in self._named else "skipped"
            return FileResult(source, status, f"unsupported file type {path.suffix or '(none)'!r}")
        try:
            size = path.stat().st_size
            if size > self.max_bytes:
                return FileResult(
                    source,
                    "failed",
                    f"file is {size / 2**20:.1f} MiB, over the {self.max_bytes / 2**20:.0f} MiB limit",
                )
            data = path.read_bytes()
        except OSError as e:
            return FileResult(source, "failed", f"cannot read: {e.strerror or e}")
        doc_id = self._doc_id(source)
        meta = {"format": path.suffix.lower().lstrip("."), "name": path.name, **metadata}
        fingerprint = json.dumps([SPLITTER_VERSION, self.chunk_tokens, self.chunk_overlap, readers, meta])
        if self._writers:  # who may change it is part of what was written
            fingerprint += json.dumps(self._writers)
        if self.screen is not None:  # so is the guard policy that screened it
            fingerprint += self.screen.fingerprint
        content_hash = hashlib.sha256(data + fingerprint.encode()).hexdigest()
        old_hash = self.store.document_hash(doc_id)
        if old_hash is not None and self._writers:
            old = self.store.document(doc_id)
            if old is not None and not set(old.writers) & set(self._writers):
                return FileResult(source, "failed", "a document with this name exists and this caller may "
                                  "not change it", doc_id="")  # fmt: skip
        if old_hash == content_hash:
            return FileResult(source, "unchanged", doc_id=doc_id)
        with self.limits.budget(self._cancel) as budget:
            return self._extract(path, source, data, loader, doc_id, content_hash, old_hash, readers, meta,
                                 budget)  # fmt: skip

    def _doc_id(self, source: str) -> str:
        doc_id = doc_id_for(source, self._salt)
        if self._salt and self.store.document_hash(doc_id) is None:
            legacy = doc_id_for(source)  # uploaded before ids were keyed: keep updating that document
            if self.store.document_hash(legacy) is not None:
                old = self.store.document(legacy)
                if old is not None and old.source == source:
                    return legacy
        return doc_id

    def _extract(
        self, path: Path, source: str, data: bytes, loader: Any, doc_id: str, content_hash: str,
        old_hash: str | None, readers: list[str], meta: dict[str, Any], budget: Any,
    ) -> Prepared:  # fmt: skip
        try:
            extracted = loader(data, path)
        except (LoadError, IngestCancelled):
            raise
        except GenloomError as e:
            raise LoadError(f"could not extract text: {e}") from None
        except Exception as e:  # a parser bug on one odd file must not end the run
            raise LoadError(f"could not extract text ({type(e).__name__}: {e})") from None
        hidden = extracted.metadata.pop("hidden", [])
        meta.update({k: v for k, v in extracted.metadata.items() if k not in meta})
        screened = self.screen.screen(extracted.text, hidden) if self.screen is not None else None
        if screened is not None and (
            screened.quarantined or (screened.flagged and not screened.text.strip())
        ):
            raise Quarantined(screened.flagged)
        if screened is not None:
            extracted.text = screened.text
        budget.chars(len(extracted.text))
        budget.tick()
        spans = split(extracted, self.chunk_tokens, self.chunk_overlap)
        budget.chunks(len(spans))
        budget.tick()
        if not spans:
            raise LoadError("no text to index")
        text = extracted.text
        chunks = [
            Chunk(f"{doc_id}:{i}", doc_id, i, text[s.start : s.end], s.start, s.end, s.heading_path)
            for i, s in enumerate(spans)
        ]
        embed_texts = [embed_text(extracted.title, c) for c in chunks]
        hashes = [hashlib.sha1(t.encode()).hexdigest() for t in embed_texts]
        known = self.store.chunk_vectors(doc_id) if old_hash else {}
        doc = Document(doc_id, source, extracted.title, content_hash, text, readers, meta, len(chunks),
                       writers=list(self._writers))  # fmt: skip
        status: Status = "updated" if old_hash else "added"
        flagged = screened.flagged if screened is not None else []
        vectors = [known.get(h) for h in hashes]
        return Prepared(
            FileResult(source, status, chunks=len(chunks), doc_id=doc_id, flagged=flagged), doc, chunks,
            embed_texts, hashes,
            vectors, sum(v is None for v in vectors),
        )  # fmt: skip


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MiB (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def embed_text(title: str, chunk: Chunk) -> str:
    """What the embedder sees: the heading path (or title) as context, then the chunk."""
    context = " > ".join(chunk.heading_path) if chunk.heading_path else title
    return f"{context}\n{chunk.text}" if context and not chunk.text.startswith(context) else chunk.text
