"""The store seam: one knowledge base's documents, chunks, vectors, keyword index and ACL.

Only plain Python and numpy cross this boundary, so a Postgres+pgvector store can implement the same
Protocol. Every store passes ``genloom.testing.store_contract.StoreContract``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from genloom.errors import UserError
from genloom.types import PUBLIC, Chunk, Document, Hit

KB_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"  # also the API's path pattern (serve/routes_kb.py)
_KB_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def check_kb_name(name: str) -> str:
    if not _KB_NAME.fullmatch(name or ""):  # fullmatch: "$" would let a trailing newline through
        raise UserError(
            f"invalid knowledge base name {name!r}",
            hint="use 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit",
        )
    return name


FROZEN = "frozen"  # meta key: while set, the store refuses document writes (value: ``frozen_note``)


def frozen_note(why: str, hint: str) -> str:
    """The value of the ``FROZEN`` meta key: why writes are refused, and what to do (the error's hint)."""
    return json.dumps({"why": why, "hint": hint})


def refuse_if_frozen(name: str, note: str | None) -> None:
    """Raise the UserError of a frozen knowledge base (``note``: its ``FROZEN`` meta value, None if unset).
    Stores call it inside each write's transaction, so a write either lands before the freeze or is refused."""
    if note:
        why = json.loads(note)
        raise UserError(
            f"knowledge base {name!r} takes no document changes now: {why['why']}", hint=why["hint"]
        )


@dataclass(frozen=True)
class SearchFilter:
    """Applied inside retrieval, before results are cut to k.

    ``principals``: who is asking; public documents plus those shared with any of them are visible.
    ``where``: document metadata that must match exactly (all pairs).
    """

    principals: tuple[str, ...] = ()
    where: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    @classmethod
    def make(cls, principals: list[str] | tuple[str, ...] | None = None, where: dict[str, Any] | None = None):
        ps = tuple(sorted({p for p in (principals or ()) if p} | {PUBLIC}))
        wh = tuple(sorted((str(k), str(v)) for k, v in (where or {}).items()))
        return cls(ps, wh)


def keyword_terms(query: str) -> list[str]:
    """The words of a keyword query, lower-cased, de-duplicated, in order."""
    seen: dict[str, None] = {}
    for t in re.findall(r"\w+", query.lower()):
        seen.setdefault(t, None)
    return list(seen)


@runtime_checkable
class Store(Protocol):
    """One knowledge base. Writes of a document are atomic: all of it or none of it."""

    name: str

    def meta(self) -> dict[str, str]: ...

    def set_meta(self, key: str, value: str) -> None: ...

    def delete_meta(self, key: str) -> None:
        """Remove ``key`` from the meta (nothing if it is not there)."""
        ...

    def document_hash(self, doc_id: str) -> str | None: ...

    def chunk_vectors(self, doc_id: str) -> dict[str, np.ndarray]:
        """The stored vectors of a document's chunks keyed by the hash of their embedded text."""
        ...

    def put_document(
        self, doc: Document, chunks: list[Chunk], vectors: np.ndarray, text_hashes: list[str]
    ) -> None:
        """Insert or atomically replace ``doc`` (matched by ``doc_id``) with its chunks and vectors.
        Refused (``refuse_if_frozen``, checked in the same transaction) while the meta has ``FROZEN``."""
        ...

    def document(self, doc_id: str) -> Document | None: ...

    def documents(self) -> list[Document]:
        """All documents (``text`` left empty), ordered by source."""
        ...

    def chunks(self, doc_id: str) -> list[Chunk]: ...

    def remove(self, doc_id: str) -> bool:
        """Delete a document; True if it was there. Refused like ``put_document`` while ``FROZEN``."""
        ...

    def search_vector(self, vector: np.ndarray, k: int, flt: SearchFilter) -> list[Hit]:
        """Top ``k`` by cosine similarity among the chunks ``flt`` allows; score = cosine."""
        ...

    def search_keyword(self, query: str, k: int, flt: SearchFilter) -> list[Hit]:
        """Top ``k`` by BM25 (any of the query's words) among allowed chunks; higher score = better."""
        ...

    def stats(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


@runtime_checkable
class StoreProvider(Protocol):
    """Opens, lists and drops knowledge bases of one kind of store."""

    def open(self, name: str, create: bool = True) -> Store: ...

    def names(self) -> list[str]: ...

    def drop(self, name: str) -> bool: ...

    def replace(self, name: str, staged: str) -> None:
        """Make knowledge base ``staged`` the knowledge base ``name`` in one step (readers see the old one or
        the new one, never a mix) and drop the old one; ``staged`` is gone afterwards (genloom.kb_reembed)."""
        ...
