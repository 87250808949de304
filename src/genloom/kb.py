"""The knowledge base facade: one named collection of documents, with ingest, search and management.

    kb = KnowledgeBase.open("default")
    report = kb.ingest(["docs/"], principals=["alice"])
    for hit in kb.search("how do I vacuum a table?", k=5, principals=["alice"]):
        print(hit.source, hit.heading_path, kb.document(hit.doc_id).text[hit.start:hit.end])

A knowledge base remembers the embedder it was created with and never mixes vectors: it uses that embedder,
or the configured / requested one when that makes the same vectors (``same_vectors``: ``minilm:`` and
``onnx:``), so a KB made by the torch embedder is extended and searched by the faster ONNX one.
"""

from __future__ import annotations

import builtins
import contextlib
import secrets
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from genloom.backends.embed import Embedder, resolve_embedder, same_vectors
from genloom.backends.store import SearchFilter, Store, resolve_store
from genloom.backends.store.base import FROZEN, check_kb_name, refuse_if_frozen
from genloom.errors import NotFound, UserError
from genloom.guard.ingest import DocumentScreen
from genloom.ingest.limits import Limits
from genloom.ingest.pipeline import Ingestor, IngestReport, Progress
from genloom.ingest.sink import Sink
from genloom.retrieve import search as _search
from genloom.settings import Settings, get_settings
from genloom.types import PUBLIC, Chunk, Document, Hit


class KnowledgeBase:
    def __init__(self, name: str, store: Store, settings: Settings, embedder_spec: str | None) -> None:
        self.name = name
        self.store = store
        self.settings = settings
        self._embedder_spec = embedder_spec
        self._embedder: Embedder | None = None

    @classmethod
    def open(
        cls, name: str = "default", settings: Settings | None = None, create: bool = False,
        embedder: str | None = None,
    ) -> KnowledgeBase:  # fmt: skip
        """Open KB ``name``; with ``create=True`` make it if missing (else NotFound).

        ``embedder`` picks the embedder for a new KB; for an existing KB it must make the same vectors as the
        stored one. Without it an existing KB uses the configured embedder if that makes the same vectors,
        else the one it was made with.
        """
        s = settings or get_settings()
        provider = resolve_store(None, s)
        try:
            store = provider.open(check_kb_name(name), create=create)
        except NotFound:
            existing = provider.names()
            listed = ", ".join(existing) if existing else "none yet"
            raise NotFound(
                f"no knowledge base named {name!r} (existing: {listed})",
                hint=f"pick one of those with --kb, or create it: genloom ingest PATH --kb {name}",
            ) from None
        stored = store.meta().get("embedder")
        if stored and embedder and not same_vectors(resolve_embedder(embedder, s).info()["id"], stored):
            store.close()
            raise UserError(
                f"knowledge base {name!r} was built with embedder {stored!r}, not {embedder!r}",
                hint=f"leave out --embedder, or use another --kb, or drop it: genloom kb drop {name}",
            )
        spec = embedder or s.embedder
        return cls(name, store, s, spec if not stored or same_vectors(spec, stored) else stored)

    @staticmethod
    def list(settings: Settings | None = None) -> builtins.list[str]:
        s = settings or get_settings()
        return resolve_store(None, s).names()

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = resolve_embedder(self._embedder_spec, self.settings)
            meta = self.store.meta()
            if "embedder" not in meta:
                info = self._embedder.info()
                self.store.set_meta("embedder", str(info["id"]))
                self.store.set_meta("dim", str(info["dim"]))
        return self._embedder

    def ingest(
        self,
        paths: Sequence[str | Path] | str | Path,
        principals: builtins.list[str] | None = None,
        progress: Progress | None = None,
        metadata: dict[str, str] | None = None,
        max_file_mb: int | None = None,
        sources: dict[Path, str] | None = None,
        bulk: bool | None = None,
        writers: builtins.list[str] | None = None,
        cancel: threading.Event | None = None,
        sink: Sink | None = None,
    ) -> IngestReport:
        """Ingest files. ``bulk``: on stores that have a bulk mode (Postgres), build the vector index once at
        the end instead of row by row; None = only when the knowledge base is still empty (the first load),
        since searches meanwhile are exact scans.

        ``sources`` (logical names, as the server gives uploads) also keys the documents' ids with this
        knowledge base's secret salt, so nobody can compute an upload's id from its name. ``writers``: who
        may change the documents (the server: the uploading key). ``cancel``: stop at the next check.
        ``sink``: where batches are embedded and written (default: here; genloom.distributed.CelerySink:
        workers, which write themselves, so no bulk mode with it).
        Every file is read under the ingest limits (settings ``ingest_*``). A frozen knowledge base (being
        re-embedded: genloom.kb_reembed) refuses it here, before any file is read, and the store refuses each
        write (a freeze that comes while this runs stops it at its next document)."""
        refuse_if_frozen(self.name, self.store.meta().get(FROZEN))
        if isinstance(paths, str | Path):
            paths = [paths]
        s = self.settings
        ingestor = Ingestor(
            self.store,
            self.embedder,
            chunk_tokens=s.chunk_tokens,
            chunk_overlap=s.chunk_overlap,
            max_bytes=(max_file_mb or s.max_file_mb) * 2**20,
            limits=Limits.from_settings(s),
            screen=DocumentScreen(s),
            batch_chunks=s.ingest_batch_chunks,
            queue_batches=s.ingest_queue_batches,
        )
        salt = self._id_salt() if sources else ""
        bulk_load = getattr(self.store, "bulk_load", None)
        if bulk is None:
            bulk = bulk_load is not None and sink is None and self.store.stats()["chunks"] == 0
        with bulk_load() if bulk and bulk_load is not None else contextlib.nullcontext():
            return ingestor.run(
                list(paths), principals=principals, metadata=metadata, progress=progress, sources=sources,
                writers=writers, id_salt=salt, cancel=cancel, sink=sink,
            )  # fmt: skip

    def _id_salt(self) -> str:
        """This knowledge base's secret for keyed document ids (made on first use, kept in its meta)."""
        salt = self.store.meta().get("doc_id_salt")
        if not salt:
            self.store.set_meta("doc_id_salt", secrets.token_hex(16))
            salt = self.store.meta()["doc_id_salt"]
        return salt

    # --- who may see it (the server) ------------------------------------------------------------------
    @property
    def creator(self) -> str | None:
        """The principal that created this knowledge base over the API (None: the CLI or unknown)."""
        return self.store.meta().get("created_by")

    def claim(self, principal: str) -> None:
        """Record ``principal`` as the creator if nobody is and the knowledge base holds no document."""
        if self.creator is None and self.store.stats()["documents"] == 0:
            self.store.set_meta("created_by", principal)

    def readable_by(self, principals: builtins.list[str]) -> bool:
        """Does any document allow one of ``principals`` (or everyone)?"""
        allowed = {PUBLIC, *principals}
        return any(set(d.principals) & allowed for d in self.store.documents())

    def find(self, doc_id: str) -> Document | None:
        """The document with exactly this id, or None (no prefixes or paths: the server's lookup)."""
        return self.store.document(doc_id)

    def search(
        self,
        query: str,
        k: int = 5,
        principals: builtins.list[str] | None = None,
        mode: str = "hybrid",
        where: dict[str, Any] | None = None,
    ) -> builtins.list[Hit]:
        if not self.store.meta().get("embedder"):
            return []  # nothing was ever ingested
        return _search(self.store, self.embedder, query, k, mode, SearchFilter.make(principals, where))

    def documents(self) -> builtins.list[Document]:
        return self.store.documents()

    def _resolve_id(self, doc_id: str) -> str:
        """Accept a full doc id, a unique prefix of one, or a source path."""
        if self.store.document_hash(doc_id) is not None:
            return doc_id
        docs = self.store.documents()
        matches = [d.doc_id for d in docs if d.doc_id.startswith(doc_id)] if len(doc_id) >= 4 else []
        if not matches:
            try:
                resolved = str(Path(doc_id).expanduser().resolve())
            except OSError:
                resolved = doc_id
            matches = [d.doc_id for d in docs if d.source in (doc_id, resolved)]
        if len(matches) != 1:
            what = "no document" if not matches else f"{len(matches)} documents"
            raise NotFound(f"{what} in {self.name!r} matches {doc_id!r}", hint="see `genloom docs list`")
        return matches[0]

    def document(self, doc_id: str) -> Document:
        doc = self.store.document(self._resolve_id(doc_id))
        if doc is None:
            raise NotFound(f"no document {doc_id!r} in {self.name!r}", hint="see `genloom docs list`")
        return doc

    def chunks(self, doc_id: str) -> builtins.list[Chunk]:
        return self.store.chunks(self._resolve_id(doc_id))

    def remove(self, doc_id: str) -> Document:
        doc = self.document(doc_id)
        self.store.remove(doc.doc_id)
        return doc

    def stats(self) -> dict[str, Any]:
        return self.store.stats()

    def drop(self) -> None:
        self.store.close()
        resolve_store(None, self.settings).drop(self.name)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
