"""Move knowledge bases between stores (``genloom kb migrate --from sqlite: --to postgres://...``).

Documents, chunks, vectors, ACLs, metadata and the KB's embedder identity are copied as they are: nothing is
re-embedded. Each document is one transaction in the destination (``put_document`` replaces by doc_id), so an
interrupted migration is simply run again. The source is never modified.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from genloom.backends.store import resolve_store
from genloom.backends.store.base import FROZEN
from genloom.errors import BackendError, UserError
from genloom.ingest.pipeline import embed_text
from genloom.settings import Settings, get_settings


def migrate_kbs(
    source: str,
    target: str,
    names: Sequence[str] | None = None,
    settings: Settings | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Copy the named knowledge bases (default: all) from store ``source`` to store ``target``.

    Returns one report per KB: ``{"name", "documents", "chunks"}`` as counted in the target afterwards.
    """
    s = settings or get_settings()
    if source.strip() == target.strip():
        raise UserError("--from and --to name the same store", hint="pass two different store specs")
    src, dst = resolve_store(source, s), resolve_store(target, s)
    available = src.names()
    todo = list(names) if names else available
    missing = [n for n in todo if n not in available]
    if missing:
        raise UserError(
            f"no knowledge base named {', '.join(map(repr, missing))} in {source}",
            hint=f"existing: {', '.join(available) or 'none'}",
        )
    reports = []
    for name in todo:
        a, b = src.open(name, create=False), dst.open(name, create=True)
        try:
            bulk = getattr(b, "bulk_load", None)  # Postgres: build the vector index once, at the end
            with bulk() if bulk else contextlib.nullcontext():
                reports.append(_copy(a, b, name, progress))
        finally:
            a.close()
            b.close()
    return reports


def _copy(a: Any, b: Any, name: str, progress: Callable[[str, int, int], None] | None) -> dict[str, Any]:
    src_meta, dst_meta = a.meta(), b.meta()
    if dst_meta.get("embedder") and src_meta.get("embedder") and dst_meta["embedder"] != src_meta["embedder"]:
        raise UserError(
            f"knowledge base {name!r} in the target was built with {dst_meta['embedder']!r}, "
            f"the source with {src_meta['embedder']!r}",
            hint=f"drop it in the target first (GENLOOM_STORE=<target> genloom kb drop {name} --yes)",
        )
    for key, value in src_meta.items():
        # not the SQLite store's private change counter, nor a freeze (the source's re-embed, not the copy's)
        if key not in ("generation", FROZEN):
            b.set_meta(key, value)
    docs = a.documents()
    for i, listed in enumerate(docs, 1):
        doc = a.document(listed.doc_id)
        chunks = a.chunks(listed.doc_id)
        vectors = a.chunk_vectors(listed.doc_id)
        hashes = [hashlib.sha1(embed_text(doc.title, c).encode()).hexdigest() for c in chunks]
        absent = [h for h in hashes if h not in vectors]
        if absent and len(vectors) == len(chunks):  # written by another ingest version: keep stored order
            hashes = list(vectors)
        elif absent:
            raise BackendError(f"document {doc.source!r} in {name!r} has chunks without vectors",
                               hint="re-ingest that file into the source, then migrate again")  # fmt: skip
        dim = len(next(iter(vectors.values()))) if vectors else int(src_meta.get("dim") or 1)
        mat = np.stack([vectors[h] for h in hashes]) if hashes else np.zeros((0, dim), dtype=np.float32)
        b.put_document(doc, chunks, mat, hashes)
        if progress:
            progress(name, i, len(docs))
    got = b.stats()
    want = a.stats()
    if (got["documents"], got["chunks"]) != (want["documents"], want["chunks"]):
        raise BackendError(
            f"after migrating {name!r} the target holds {got['documents']} documents / {got['chunks']} chunks,"
            f" the source {want['documents']} / {want['chunks']}",
            hint="the target already held other documents in that KB, or a write failed; check and rerun",
        )
    return {"name": name, "documents": got["documents"], "chunks": got["chunks"]}
