"""Who may see and change what, at the server's edge (README "Security model").

- A document is readable by a caller whose ACL (``Principal.acl``) meets the document's principals, or by
  everyone when they hold ``*``. What a caller may list and manage is its ``Principal.scope``: its ACL, or
  None (everything) for the local owner and admin keys.
- A knowledge base is visible to a caller who can read something in it or who created it over the API;
  to anyone else it does not exist: the same 404, word for word, as a name nobody ever used.
- A document the caller cannot read does not exist for it either (same 404 as an unknown id).

The KB list the OpenAI routes show (``rag:<kb>`` models) comes from ``State.kb_lister``; ``visible_lister``
wraps it so it answers for the caller of the current request (set by ``deps.caller``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import Any

from genloom.errors import NotFound
from genloom.tracing import span
from genloom.types import PUBLIC

Acl = list[str] | None
current_acl: ContextVar[tuple[Acl]] = ContextVar("genloom_caller_acl")  # set per request by deps.caller


def plain(x: Any) -> Any:
    """Hits, documents and reports as JSON: their to_dict() if they have one."""
    if hasattr(x, "to_dict"):
        return x.to_dict()
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [plain(v) for v in x]
    if hasattr(x, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(x)
    return x


def readable(doc: Any, acl: Acl) -> bool:
    """May a caller with ``acl`` read ``doc`` (a Document or its dict)? No principals = nobody but admins."""
    if acl is None:
        return True
    d = plain(doc)
    allowed = set(d.get("principals") or ()) if isinstance(d, dict) else set()
    return PUBLIC in allowed or bool(allowed & set(acl))


def writers_of(doc: Any) -> list[str]:
    d = plain(doc)
    return list(d.get("writers") or ()) if isinstance(d, dict) else []


def no_kb(kb: str) -> NotFound:
    return NotFound(
        f"knowledge base {kb!r} does not exist or this key cannot read it",
        hint="GET /v1/kb lists the knowledge bases this key can use; upload a document to create one",
    )


def no_doc(kb: str, doc_id: str) -> NotFound:
    return NotFound(
        f"document {doc_id!r} does not exist in knowledge base {kb!r} or this key cannot read it",
        hint=f"GET /v1/kb/{kb}/documents lists the documents this key can read",
    )


def kb_visible(base: Any, acl: Acl) -> bool:
    if acl is None:
        return True
    return base.creator in acl or base.readable_by(acl)


def open_visible(kb_factory: Callable[[str, bool], Any], kb: str, acl: Acl) -> Any:
    """The knowledge base ``kb`` if the caller may see it; else the one 404 (missing and hidden alike)."""
    try:
        base = kb_factory(kb, False)
    except NotFound:
        raise no_kb(kb) from None
    if not kb_visible(base, acl):
        raise no_kb(kb)
    return base


def visible_lister(
    names: Callable[[], list[str]], kb_factory: Callable[[str, bool], Any]
) -> Callable[[], list[str]]:
    """``names`` narrowed to the knowledge bases the current request's caller may see (none outside a
    request: fail closed)."""

    def listed() -> list[str]:
        got = current_acl.get(None)
        if got is None:
            return []
        (acl,) = got
        out = []
        for n in names():
            try:
                if kb_visible(kb_factory(n, False), acl):
                    out.append(n)
            except NotFound:  # dropped meanwhile
                continue
        return out

    return listed


def guarded_answers(
    answer: Callable[..., Iterable[str]], kb_factory: Callable[[str, bool], Any], admins: set[str]
) -> Callable[..., Iterable[str]]:
    """An answer factory that first checks the caller may see ``kb`` (the 404 otherwise). It is handed the
    caller's retrieval ACL; ``admins`` (the ``key:<name>`` of admin keys) see every knowledge base."""

    def make(question: str, **options: Any) -> Iterable[str]:
        kb = options.get("kb") or "default"
        acl = options.get("principals")
        with span("guard", **{"genloom.guard": "kb_access", "genloom.kb": kb}):  # issue 21 (tracing)
            open_visible(kb_factory, kb, None if acl is not None and admins & set(acl) else acl)
        return answer(question, **options)

    return make
