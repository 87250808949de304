"""Re-embed a knowledge base with another embedder (``genloom kb reembed NAME --embedder SPEC``).

A knowledge base never mixes vectors of two embedders, so nothing is re-embedded in place: the documents and
chunks are copied, with new vectors, into a staging knowledge base ``NAME.reembed`` that records the new
embedder; when every document is there (same documents, same content hashes, same chunk count) the store puts
it in place of ``NAME`` in one step (``StoreProvider.replace``) and the old one is dropped. Searches meanwhile
use the old knowledge base, whole.

Work goes in batches of document ids (about ``ingest_batch_chunks`` chunks each) through a ``BatchRunner``:
``run_here`` embeds in this process; genloom.distributed.reembed sends the batches to ``genloom worker``
processes, which run the same ``reembed_batch`` against the shared Postgres store. Each document is one
replacing transaction in the staging knowledge base, so a batch run twice (a worker killed mid-batch, the batch
redelivered) leaves the same rows, and an interrupted re-embed is simply run again: documents already staged
with their current content are not embedded again.

From its start until the switch ``NAME`` is frozen (meta ``FROZEN``): its store refuses every document write
(ingest, update, delete; CLI, server and workers alike) with an error naming the re-embed, checked inside the
write's own transaction, so a write either lands before the freeze (and is staged) or is refused; none can be
lost in the switch. Refused rather than held: a re-embed takes as long as ingesting the whole knowledge base,
and ingest is idempotent, so the same ingest run afterwards only does what is missing. The copy in place of
``NAME`` was never frozen. A re-embed that was stopped leaves ``NAME`` frozen until it is run again (it
resumes) or cancelled: ``genloom kb reembed NAME --abort`` (``abort_reembed``) drops the staging copy.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from genloom.backends.embed import resolve_embedder, same_vectors
from genloom.backends.store import resolve_store
from genloom.backends.store.base import FROZEN, check_kb_name, frozen_note
from genloom.errors import BackendError, NotFound, UserError
from genloom.ingest.pipeline import embed_text
from genloom.settings import Settings, get_settings

SUFFIX = ".reembed"
MARK = "reembed_of"  # staging meta: the knowledge base it will replace
NOT_COPIED = (
    "embedder",
    "dim",
    "hnsw",
    "generation",
    MARK,
    FROZEN,
)  # the rest of the meta travels (e.g. doc_id_salt)
ROUNDS = 1  # passes after the first, which only find work if NAME changed while frozen (an --abort meanwhile)

BatchRunner = Callable[[str, str, list[list[str]]], Iterator[dict[str, Any]]]
"""``(source, staging, batches of doc ids)`` -> one ``reembed_batch`` result per batch, in any order."""


def staging_name(name: str) -> str:
    check_kb_name(name)
    staged = name + SUFFIX
    if len(staged) > 64:
        raise UserError(f"knowledge base name {name!r} is too long to re-embed (its staging copy is {staged!r})",
                        hint="knowledge base names up to 56 characters can be re-embedded")  # fmt: skip
    return staged


def reembed_batch(source: str, staging: str, doc_ids: list[str], settings: Settings) -> dict[str, Any]:
    """Copy documents ``doc_ids`` of ``source`` into ``staging`` with vectors from the staging knowledge
    base's recorded embedder (one embedder call for the batch; one replacing transaction per document)."""
    from genloom.kb import KnowledgeBase

    src = resolve_store(None, settings).open(source, create=False)
    try:
        with KnowledgeBase.open(staging, settings) as dst:
            if dst.store.meta().get(MARK) != source:
                raise UserError(f"knowledge base {staging!r} is not the re-embed staging copy of {source!r}",
                                hint="start the re-embed again: genloom kb reembed")  # fmt: skip
            docs = [(d, src.chunks(i)) for i in doc_ids if (d := src.document(i)) is not None]
            texts = [[embed_text(d.title, c) for c in chunks] for d, chunks in docs]
            flat = [t for ts in texts for t in ts]
            vectors = dst.embedder.embed_documents(flat) if flat else np.zeros((0, 1), dtype=np.float32)
            at = 0
            for (doc, chunks), ts in zip(docs, texts, strict=True):
                hashes = [hashlib.sha1(t.encode()).hexdigest() for t in ts]
                dst.store.put_document(doc, chunks, vectors[at : at + len(ts)], hashes)
                at += len(ts)
    finally:
        src.close()
    return {"documents": len(docs), "chunks": len(flat), "gone": len(doc_ids) - len(docs)}


def run_here(settings: Settings) -> BatchRunner:
    """The batches one after another in this process."""

    def run(source: str, staging: str, batches: list[list[str]]) -> Iterator[dict[str, Any]]:
        for batch in batches:
            yield reembed_batch(source, staging, batch, settings)

    return run


def plan_batches(docs: list[Any], batch_chunks: int) -> list[list[str]]:
    """Document ids in batches of about ``batch_chunks`` chunks (a big document is a batch of its own)."""
    batches: list[list[str]] = [[]]
    size = 0
    for d in docs:
        if batches[-1] and size + d.n_chunks > batch_chunks:
            batches.append([])
            size = 0
        batches[-1].append(d.doc_id)
        size += d.n_chunks
    return [b for b in batches if b]


def reembed_kb(
    name: str,
    embedder: str,
    settings: Settings | None = None,
    runner: BatchRunner | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Re-embed knowledge base ``name`` with ``embedder`` and put the result in its place.

    Returns ``{"name", "from", "to", "dim", "documents", "chunks", "embedded", "batches", "seconds"}``
    (``embedded``: chunks embedded by this run; fewer than ``chunks`` when an interrupted run is resumed)."""
    s = settings or get_settings()
    t0 = time.perf_counter()
    provider = resolve_store(None, s)
    staged = staging_name(name)
    if name not in provider.names():
        raise NotFound(f"no knowledge base named {name!r}", hint="see `genloom kb list`")
    info = resolve_embedder(embedder, s).info()
    new_id, dim = str(info["id"]), int(info["dim"])
    src = provider.open(name, create=False)
    try:
        old_id = src.meta().get("embedder")
        if old_id and same_vectors(new_id, old_id):
            raise UserError(f"knowledge base {name!r} is already embedded with {old_id!r}",
                            hint="pass another --embedder")  # fmt: skip
        dst = _staging(provider, name, staged, new_id)
        try:
            for key, value in src.meta().items():
                if key not in NOT_COPIED:
                    dst.set_meta(key, value)
            dst.set_meta("embedder", new_id)
            dst.set_meta("dim", str(dim))
            dst.set_meta(MARK, name)
            src.set_meta(FROZEN, _freeze_note(name, staged))  # waits for writes in flight; refuses later ones
            embedded, n_batches = _fill(src, dst, name, staged, runner or run_here(s), s, progress)
            want, got = src.stats(), dst.stats()
        finally:
            dst.close()
    finally:
        src.close()
    if (got["documents"], got["chunks"]) != (want["documents"], want["chunks"]):
        raise BackendError(
            f"the staging copy {staged!r} holds {got['documents']} documents / {got['chunks']} chunks,"
            f" {name!r} {want['documents']} / {want['chunks']}; {name!r} was left as it was",
            hint=f"was it aborted meanwhile? run the re-embed again, or cancel it: genloom kb reembed {name} --abort",
        )
    provider.replace(name, staged)
    new = provider.open(name, create=False)
    try:
        new.delete_meta(MARK)  # no longer a staging copy (a crash just before leaves a harmless key)
    finally:
        new.close()
    return {"name": name, "from": old_id, "to": new_id, "dim": dim, "documents": got["documents"],
            "chunks": got["chunks"], "embedded": embedded, "batches": n_batches,
            "seconds": round(time.perf_counter() - t0, 3)}  # fmt: skip


def _freeze_note(name: str, staged: str) -> str:
    """What a refused write says (the message alone must do: a worker's error reaches the dispatcher without
    its hint)."""
    return frozen_note(
        f"it is being re-embedded into {staged!r}, which replaces it when done: try again then",
        f"if that re-embed was stopped, run it again to finish it (genloom kb reembed {name} --embedder SPEC),"
        f" or cancel it: genloom kb reembed {name} --abort",
    )


def abort_reembed(name: str, settings: Settings | None = None) -> dict[str, Any]:
    """Cancel a stopped re-embed of ``name``: drop its staging copy and let ``name`` take writes again.
    (A re-embed still running then fails at its next batch or at the switch, and ``name`` stays as it is.)"""
    provider = resolve_store(None, settings or get_settings())
    staged = staging_name(name)
    names = provider.names()
    if name not in names:
        raise NotFound(f"no knowledge base named {name!r}", hint="see `genloom kb list`")
    dropped = False
    if staged in names:
        dst = provider.open(staged, create=False)
        try:
            mark = dst.meta().get(MARK)
        finally:
            dst.close()
        if mark != name:
            raise UserError(f"{staged!r} is not a re-embed staging copy of {name!r}; nothing was changed",
                            hint=f"it is a knowledge base of its own: keep it, or drop it: genloom kb drop {staged}")  # fmt: skip
        dropped = provider.drop(staged)
    src = provider.open(name, create=False)
    try:
        frozen = FROZEN in src.meta()
        src.delete_meta(FROZEN)
    finally:
        src.close()
    if not (dropped or frozen):
        raise UserError(f"no re-embed of {name!r} to abort", hint="nothing was changed")
    return {"name": name, "aborted": True, "dropped": staged if dropped else None}


def _staging(provider: Any, name: str, staged: str, new_id: str) -> Any:
    """The staging copy: resumed when it is one for ``name`` with the same embedder, made anew otherwise."""
    if staged in provider.names():
        dst = provider.open(staged, create=False)
        meta = dst.meta()
        if meta.get(MARK) != name:
            dst.close()
            raise UserError(f"a knowledge base named {staged!r} exists and is not a re-embed of {name!r}",
                            hint=f"rename or drop it first: genloom kb drop {staged}")  # fmt: skip
        if meta.get("embedder") == new_id:
            return dst
        dst.close()  # an interrupted re-embed to another embedder: start over
        provider.drop(staged)
    return provider.open(staged, create=True)


def _fill(src: Any, dst: Any, name: str, staged: str, runner: BatchRunner, s: Settings,
          progress: Callable[[int, int], None] | None) -> tuple[int, int]:  # fmt: skip
    """Stage every document whose staged copy is missing or stale; returns (chunks embedded, batches)."""
    embedded = n_batches = 0
    for round_ in range(ROUNDS + 1):
        want = {d.doc_id: d for d in src.documents()}
        have = {d.doc_id: d.content_hash for d in dst.documents()}
        for doc_id in have.keys() - want.keys():  # removed from the source meanwhile
            dst.remove(doc_id)
        todo = [d for d in want.values() if have.get(d.doc_id) != d.content_hash]
        if not todo:
            return embedded, n_batches
        if round_ == ROUNDS:
            break
        batches = plan_batches(todo, s.ingest_batch_chunks)
        n_batches += len(batches)
        done = 0
        for result in runner(name, staged, batches):
            embedded += int(result["chunks"])
            done += int(result["documents"]) + int(result["gone"])
            if progress:
                progress(done, len(todo))
    raise BackendError(f"documents of {name!r} changed during the re-embed; {name!r} was left as it was",
                       hint=f"was the re-embed aborted meanwhile? run it again, or cancel it: genloom kb reembed {name} --abort")  # fmt: skip
