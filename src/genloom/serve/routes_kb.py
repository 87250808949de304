"""Knowledge-base endpoints: the CLI's operations over HTTP, with the caller's principals applied.

    GET    /v1/kb                              the knowledge bases
    GET    /v1/kb/{kb}/documents               its documents (those the caller may read)
    POST   /v1/kb/{kb}/documents               upload files (multipart field ``files``), ingest them
    GET    /v1/kb/{kb}/documents/{doc_id}      one, with its extracted text (what citation offsets point into)
    DELETE /v1/kb/{kb}/documents/{doc_id}      remove one
    POST   /v1/kb/{kb}/search                  {"query", "k", "mode"} → hits
    POST   /v1/kb/{kb}/ask                     {"question", "k", "mode"} → the Answer, as ``genloom ask --json``

The KnowledgeBase is imported lazily (through ``State.kb_factory``); blocking work runs in a thread.
Uploaded documents are readable by the uploader's principals (everyone, for the local owner).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, File, Request, UploadFile

from genloom.errors import NotFound, UserError
from genloom.serve import schemas as S
from genloom.serve.audit import AuditRecord
from genloom.serve.auth import Principal
from genloom.serve.deps import caller
from genloom.serve.routes_openai import ERRORS
from genloom.serve.state import get_state
from genloom.types import PUBLIC

router = APIRouter(prefix="/v1/kb", tags=["knowledge bases"], responses=ERRORS)
_SAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def _plain(x: Any) -> Any:
    """Hits, documents and reports as JSON: their to_dict() if they have one."""
    if hasattr(x, "to_dict"):
        return x.to_dict()
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if hasattr(x, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(x)
    return x


def _readable(doc: Any, who: Principal) -> bool:
    """ACL check on a document record that lists its principals (None/empty or PUBLIC = everyone)."""
    if who.principals is None:
        return True
    d = _plain(doc)
    allowed = d.get("principals") if isinstance(d, dict) else None
    return not allowed or PUBLIC in allowed or bool(set(allowed) & set(who.principals))


@router.get("")
async def list_kbs(request: Request, who: Principal = Depends(caller)) -> dict[str, Any]:
    st = get_state(request)
    return {"object": "list", "data": [{"name": n} for n in await asyncio.to_thread(st.kb_lister)]}


@router.get("/{kb}/documents")
async def list_documents(kb: str, request: Request, who: Principal = Depends(caller)) -> dict[str, Any]:
    st = get_state(request)

    def work() -> list[Any]:
        return [_plain(d) for d in st.kb_factory(kb, False).documents() if _readable(d, who)]

    return {"object": "list", "data": await asyncio.to_thread(work)}


@router.post("/{kb}/documents")
async def upload(
    kb: str, request: Request, files: list[UploadFile] = File(...), who: Principal = Depends(caller)
) -> dict[str, Any]:
    st = get_state(request)
    t0 = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="genloom-upload-"))
    try:
        paths: list[Path] = []
        for i, f in enumerate(files):
            name = _SAFE.sub("_", Path(f.filename or f"upload-{i}").name).strip(" .") or f"upload-{i}"
            if any(p.name == name for p in paths):
                name = f"{i}-{name}"
            path = tmp / name
            with path.open("wb") as out:
                shutil.copyfileobj(f.file, out)
            paths.append(path)
        if not paths:
            raise UserError("no files were uploaded", hint="send one or more multipart fields named 'files'")

        def work() -> Any:
            # one namespace per key: re-uploading a name updates that key's document, never another tenant's
            sources = {p: f"upload:{who.key_id}/{p.name}" for p in paths}
            return st.kb_factory(kb, True).ingest(paths, principals=who.acl, sources=sources)

        report = await asyncio.to_thread(work)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rec = AuditRecord(f"upload-{uuid.uuid4().hex[:24]}", who.key_id, "/v1/kb/documents", kb=kb,
                      prompt=[p.name for p in paths])  # fmt: skip
    st.finish(who, rec, t0)
    return {"object": "kb.ingest", "kb": kb, "report": _plain(report)}


@router.get("/{kb}/documents/{doc_id}")
async def get_document(
    kb: str, doc_id: str, request: Request, who: Principal = Depends(caller)
) -> dict[str, Any]:
    st = get_state(request)

    def work() -> dict[str, Any]:
        doc = st.kb_factory(kb, False).document(doc_id)
        if doc is None or not _readable(doc, who):  # unreadable reads as absent, as for delete
            raise NotFound(
                f"document {doc_id!r} is not in knowledge base {kb!r}",
                hint="list them: GET /v1/kb/{kb}/documents",
            )
        d: dict[str, Any] = doc.to_dict(with_text=True) if hasattr(doc, "to_dict") else dict(doc)
        return d

    return await asyncio.to_thread(work)


@router.delete("/{kb}/documents/{doc_id}")
async def delete_document(
    kb: str, doc_id: str, request: Request, who: Principal = Depends(caller)
) -> dict[str, Any]:
    st = get_state(request)

    def work() -> None:
        base = st.kb_factory(kb, False)
        doc = base.document(doc_id)
        if doc is None:
            raise NotFound(
                f"document {doc_id!r} is not in knowledge base {kb!r}",
                hint="list them: GET /v1/kb/{kb}/documents",
            )
        if not _readable(doc, who):  # a key cannot learn that a document it may not read exists
            raise NotFound(
                f"document {doc_id!r} is not in knowledge base {kb!r}",
                hint="list them: GET /v1/kb/{kb}/documents",
            )
        base.remove(doc_id)

    await asyncio.to_thread(work)
    return {"id": doc_id, "object": "kb.document", "deleted": True}


@router.post("/{kb}/search")
async def search(
    kb: str, body: S.SearchRequest, request: Request, who: Principal = Depends(caller)
) -> dict[str, Any]:
    st = get_state(request)
    t0 = time.perf_counter()

    def work() -> list[Any]:
        return list(st.kb_factory(kb, False).search(body.query, k=body.k, principals=who.acl, mode=body.mode))

    hits = await asyncio.to_thread(work)
    rec = AuditRecord(f"search-{uuid.uuid4().hex[:24]}", who.key_id, "/v1/kb/search", kb=kb, prompt=body.query,
                      chunk_ids=[str(getattr(h, "chunk_id", "")) for h in hits])  # fmt: skip
    st.finish(who, rec, t0)
    return {"object": "list", "data": [_plain(h) for h in hits]}


@router.post("/{kb}/ask")
async def ask(
    kb: str, body: S.AskRequest, request: Request, who: Principal = Depends(caller)
) -> dict[str, Any]:
    """A grounded answer as JSON (the same object as ``genloom ask --json``); it waits in the generation queue."""
    st = get_state(request)
    t0 = time.perf_counter()
    model = body.model or st.models[0]
    if model not in st.models:
        st.engine(model)  # raises the 404 that names the models on offer
    gen = st.start(lambda: st.answer_factory(body.question, kb=kb, principals=who.acl, k=body.k, model=model,
                                             history=None, mode=body.mode))  # fmt: skip
    text = await gen.collect(request)
    answer = gen.source.answer
    rec = AuditRecord(f"ask-{uuid.uuid4().hex[:24]}", who.key_id, "/v1/kb/ask", model=model, kb=kb,
                      prompt=body.question, output=text, template=answer.template,
                      chunk_ids=[c.chunk_id for c in answer.citations],
                      prompt_tokens=answer.usage.prompt_tokens, completion_tokens=answer.usage.completion_tokens)  # fmt: skip
    st.finish(who, rec, t0)
    result: dict[str, Any] = answer.to_dict()
    return result
