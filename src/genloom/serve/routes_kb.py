"""Knowledge-base endpoints: the CLI's operations over HTTP, with the caller's principals applied.

    GET    /v1/kb                              the knowledge bases this key can see
    GET    /v1/kb/{kb}/documents               its documents (those the caller may read)
    POST   /v1/kb/{kb}/documents               upload files (multipart field ``files``), ingest them
    GET    /v1/kb/{kb}/documents/{doc_id}      one, with its extracted text (what citation offsets point into)
    DELETE /v1/kb/{kb}/documents/{doc_id}      remove one (its writers or an admin key)
    POST   /v1/kb/{kb}/search                  {"query", "k", "mode"} → hits
    POST   /v1/kb/{kb}/ask                     {"question", "k", "mode"} → the Answer, as ``genloom ask --json``

Who may do what is in serve/access.py and README "Security model". Uploads are readable by the uploader's
principals (a key without principals: itself, unless ``unscoped_uploads_public``; the local owner:
everyone) and writable by the uploading key; every upload and delete, allowed or not, is an audit row.
The KnowledgeBase is imported lazily (through ``State.kb_factory``); blocking work runs in a thread, and an
upload's work is cancelled when the client goes away or the server drains (SIGTERM).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi import Path as FPath
from fastapi.responses import JSONResponse

from genloom.backends.store.base import KB_NAME_PATTERN
from genloom.errors import AccessDenied, NotFound, UserError
from genloom.ingest.limits import IngestCancelled
from genloom.serve import schemas as S
from genloom.serve.access import no_doc, open_visible, plain, readable, writers_of
from genloom.serve.audit import AuditRecord
from genloom.serve.auth import Principal
from genloom.serve.deps import caller
from genloom.serve.errors import APIError, to_api_error
from genloom.serve.routes_openai import ERRORS
from genloom.serve.state import State, get_state
from genloom.serve.upload_result import scrub, status_of, stored_any
from genloom.serve.uploads import save_uploads

KbName = Annotated[
    str, FPath(pattern=KB_NAME_PATTERN)
]  # what the store accepts, said in the OpenAPI document
router = APIRouter(prefix="/v1/kb", tags=["knowledge bases"], responses=ERRORS)


@router.get("")
async def list_kbs(request: Request, who: Principal = Depends(caller)) -> dict[str, Any]:
    st = get_state(request)
    return {"object": "list", "data": [{"name": n} for n in await asyncio.to_thread(st.kb_lister)]}


@router.get("/{kb}/documents")
async def list_documents(kb: KbName, request: Request, who: Principal = Depends(caller)) -> dict[str, Any]:
    st = get_state(request)

    def work() -> list[Any]:
        base = open_visible(st.kb_factory, kb, who.scope)
        return [plain(d) for d in base.documents() if readable(d, who.scope)]

    return {"object": "list", "data": await asyncio.to_thread(work)}


def _audit(st: State, who: Principal, t0: float, endpoint: str, kb: str, prompt: Any, output: Any,
           error: BaseException | None = None, guard: list[dict[str, Any]] | None = None) -> None:  # fmt: skip
    rec = AuditRecord(f"{endpoint.rsplit('/', 1)[-1]}-{uuid.uuid4().hex[:24]}", who.key_id, endpoint, kb=kb,
                      prompt=prompt, output=json.dumps(output, ensure_ascii=False), guard=guard or [])  # fmt: skip
    if error is not None:
        api = to_api_error(error)
        rec.status, rec.error_type = api.status, api.code or api.type
    st.finish(who, rec, t0)


async def _run_cancellable(request: Request, st: State, cancel: threading.Event, work: Any) -> Any:
    """Run ``work`` in a thread; set ``cancel`` when the client disconnects or the server drains."""
    task = asyncio.ensure_future(asyncio.to_thread(work))
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=0.2)
            if done:
                return task.result()
            if not cancel.is_set() and (st.draining.is_set() or await request.is_disconnected()):
                cancel.set()
    except asyncio.CancelledError:  # the server gave up waiting (shutdown): the thread must stop too
        cancel.set()
        raise


@router.post(
    "/{kb}/documents",
    responses={
        200: {"model": S.IngestResult, "description": "every file was stored"},
        207: {"model": S.IngestResult, "description": "some files failed (see report.files)"},
        422: {"model": S.IngestRefused, "description": "no file was stored (see report.files)"},
    },
)
async def upload(
    kb: KbName,
    request: Request,
    files: list[UploadFile] = File(..., min_length=1),
    who: Principal = Depends(caller),
) -> JSONResponse:
    """Ingest the uploaded files: 200 all stored, 207 some failed, 422 none stored (genloom.serve.upload_result)."""
    st = get_state(request)
    t0 = time.perf_counter()
    names: list[str] = []
    try:
        with save_uploads(st.uploads_dir, files) as paths:
            names = [p.name for p in paths]
            if not paths:
                raise UserError(
                    "no files were uploaded", hint="send one or more multipart fields named 'files'"
                )
            cancel = threading.Event()
            readers = who.readers(bool(st.settings.unscoped_uploads_public))

            def work() -> Any:
                try:
                    base, created = st.kb_factory(kb, False), False
                except NotFound:  # made only if something is stored in it (a failed upload leaves nothing)
                    base, created = st.kb_factory(kb, True), True
                base.claim(who.own)  # a new knowledge base is visible to its creator while it is empty
                # one namespace per key: re-uploading a name updates that key's document, never another's
                sources = {p: f"upload:{who.key_id}/{p.name}" for p in paths}
                got = None
                try:
                    got = plain(base.ingest(paths, principals=readers, sources=sources, writers=[who.writer],
                                            cancel=cancel))  # fmt: skip
                    return got
                finally:
                    if created and (got is None or not stored_any(got)) and not base.stats().get("documents"):
                        base.drop()

            try:
                report = scrub(await _run_cancellable(request, st, cancel, work), paths[0].parent)
            except IngestCancelled:
                if st.draining.is_set():
                    raise APIError(503, "the server is shutting down; the upload was not finished",
                                   "server_error", code="shutting_down", retry_after=5) from None  # fmt: skip
                raise APIError(499, "the client closed the request", "cancelled",
                               code="client_closed_request") from None  # fmt: skip
    except BaseException as e:
        _audit(st, who, t0, "/v1/kb/documents/upload", kb, names, {"files": names}, e)
        raise
    results = report.get("files", [])
    flagged = [{"where": "document", **g} for f in results for g in f.get("flagged", [])]  # issue 14
    status = status_of(report)
    _audit(st, who, t0, "/v1/kb/documents/upload", kb, names,
           [{k: f.get(k) for k in ("source", "status", "doc_id", "reason", "flagged")} for f in results],
           None if status == 200 else APIError(status, "some files failed", "invalid_request_error"),
           guard=flagged)  # fmt: skip
    body = {"object": "kb.ingest", "kb": kb, "report": report}
    if status == 422:
        reasons = "; ".join(f"{f['source'].rsplit('/', 1)[-1]}: {f['reason']}" for f in report["files"])
        err = APIError(422, f"no file was stored ({reasons})", "invalid_request_error", param="files")
        return JSONResponse({**err.body(), **body}, status_code=422)
    return JSONResponse(body, status_code=status)


@router.get("/{kb}/documents/{doc_id}")
async def get_document(
    kb: KbName, doc_id: str, request: Request, who: Principal = Depends(caller)
) -> dict[str, Any]:
    st = get_state(request)

    def work() -> dict[str, Any]:
        base = open_visible(st.kb_factory, kb, who.scope)
        doc = base.find(doc_id)
        if doc is None or not readable(doc, who.scope):  # one answer: a key cannot learn what it may not read
            raise no_doc(kb, doc_id)
        doc = base.document(doc_id)
        d: dict[str, Any] = doc.to_dict(with_text=True) if hasattr(doc, "to_dict") else dict(doc)
        return d

    return await asyncio.to_thread(work)


@router.delete("/{kb}/documents/{doc_id}")
async def delete_document(
    kb: KbName, doc_id: str, request: Request, who: Principal = Depends(caller)
) -> dict[str, Any]:
    st = get_state(request)
    t0 = time.perf_counter()

    def work() -> None:
        base = open_visible(st.kb_factory, kb, who.scope)
        doc = base.find(doc_id)
        if doc is None or not readable(doc, who.scope):  # one answer: a key cannot learn what it may not read
            raise no_doc(kb, doc_id)
        if not who.may_write(writers_of(doc)):
            raise AccessDenied(
                f"this key may read document {doc_id!r} but not change or delete it",
                hint="only the key that uploaded it, or an admin key, may (documents ingested by the CLI: an "
                "admin key)",
            )
        base.remove(doc_id)

    try:
        await asyncio.to_thread(work)
    except BaseException as e:
        _audit(st, who, t0, "/v1/kb/documents/delete", kb, doc_id, {"deleted": False}, e)
        request.state.audited = True
        raise
    _audit(st, who, t0, "/v1/kb/documents/delete", kb, doc_id, {"deleted": True})
    return {"id": doc_id, "object": "kb.document", "deleted": True}


@router.post("/{kb}/search")
async def search(
    kb: KbName, body: S.SearchRequest, request: Request, who: Principal = Depends(caller)
) -> dict[str, Any]:
    st = get_state(request)
    t0 = time.perf_counter()

    def work() -> list[Any]:
        base = open_visible(st.kb_factory, kb, who.scope)
        return list(base.search(body.query, k=body.k, principals=who.acl, mode=body.mode))

    hits = await asyncio.to_thread(work)
    rec = AuditRecord(f"search-{uuid.uuid4().hex[:24]}", who.key_id, "/v1/kb/search", kb=kb, prompt=body.query,
                      chunk_ids=[str(getattr(h, "chunk_id", "")) for h in hits])  # fmt: skip
    st.finish(who, rec, t0)
    return {"object": "list", "data": [plain(h) for h in hits]}


@router.post("/{kb}/ask")
async def ask(
    kb: KbName, body: S.AskRequest, request: Request, who: Principal = Depends(caller)
) -> dict[str, Any]:
    """A grounded answer as JSON (the same object as ``genloom ask --json``); it waits in the generation queue."""
    st = get_state(request)
    t0 = time.perf_counter()
    model = body.model or st.models[0]
    if model not in st.models:
        st.engine(model)  # raises the 404 that names the models on offer
    await asyncio.to_thread(open_visible, st.kb_factory, kb, who.scope)
    gen = st.start(lambda: st.answer_factory(body.question, kb=kb, principals=who.acl, k=body.k, model=model,
                                             history=None, mode=body.mode), model)  # fmt: skip
    text = await gen.collect(request)
    answer = gen.source.answer
    rec = AuditRecord(f"ask-{uuid.uuid4().hex[:24]}", who.key_id, "/v1/kb/ask", model=model, kb=kb,
                      prompt=body.question, output=text, template=answer.template,
                      chunk_ids=[c.chunk_id for c in answer.citations],
                      prompt_tokens=answer.usage.prompt_tokens, completion_tokens=answer.usage.completion_tokens)  # fmt: skip
    st.finish(who, rec, t0)
    result: dict[str, Any] = answer.to_dict()
    return result
