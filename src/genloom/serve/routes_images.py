"""POST /v1/images/generations in the OpenAI shape, over the image models in genloom's registry.

``model`` is a registered image model (``NAME`` or ``NAME@vN``; ``genloom image list``). The prompt names a
class of a class-conditional model ("a handwritten 7"); an empty prompt samples unconditionally. Every field
is honoured or rejected by name:

* ``n`` 1..16; ``size`` ``auto`` / the model's size / a square whole multiple of it up to 1024 (nearest-
  neighbour enlargement: the model's pixels, bigger); ``response_format`` ``b64_json`` (default) or ``url``
  (the PNG is kept under ``$GENLOOM_HOME/images/generated`` and served from ``GET /v1/images/files/ID.png``,
  an unguessable id, like OpenAI's signed URLs); ``output_format`` png only; ``quality`` auto/standard;
  ``background`` auto/opaque; ``user`` recorded in the audit log.
* ``style``, ``moderation``, ``output_compression``, ``partial_images``, ``stream`` and unknown fields: 400.
* genloom's own (send as ``extra_body``): ``seed`` (image i uses seed + i), ``steps``, ``sampler``
  (ddim | ddpm), ``guidance_scale``.

Each PNG embeds its provenance manifest (a ``genloom:manifest`` text chunk); the response repeats it per image
as ``manifest``. Generation runs in a worker thread, in turn with the other generations (the bounded queue).
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import re
import secrets
import time
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse
from pydantic import Field, ValidationInfo, field_validator

from genloom.errors import GenloomError, MissingDependency
from genloom.serve.audit import AuditRecord
from genloom.serve.auth import Principal
from genloom.serve.body import JSON_INT, SPACE, Body
from genloom.serve.deps import caller
from genloom.serve.errors import APIError, from_genloom
from genloom.serve.manifests import c2pa_bytes, c2pa_file, sign_image
from genloom.serve.queue import QueueFull
from genloom.serve.routes_openai import ERRORS
from genloom.serve.state import State, get_state

router = APIRouter(tags=["openai"])
MAX_N, MAX_SIDE = 16, 1024
_ID = re.compile(r"img-[0-9a-f]{32}")


_ALLOWED = {"quality": ("auto", "standard"), "background": ("auto", "opaque"), "output_format": ("png",)}
_UNSUPPORTED = {"style": "the models have no styles", "moderation": "genloom does not moderate images",
                "output_compression": "the output is PNG (lossless)",
                "partial_images": "images are returned whole"}  # fmt: skip


class ImageGenerationRequest(Body):
    """OpenAI's fields: those genloom's models can honour take only the values they honour, the others only
    null (the validators below say why, by name, in the 400)."""

    model: str = Field(
        ...,
        description="A registered image model: NAME or NAME@vN.",
        pattern=f"^[{SPACE}]*[A-Za-z0-9][A-Za-z0-9_.-]{{0,63}}(@v[0-9]{{1,18}})?[{SPACE}]*$",
    )  # as registry.parse_ref (a version fits SQLite's integer)
    prompt: str = Field(..., max_length=4000, description="Names a class ('a handwritten 7'); '' = any.")
    n: Annotated[int, Field(ge=1, le=MAX_N), JSON_INT] = 1
    size: str | None = Field(None, pattern=r"^(auto|[0-9]{1,5}x[0-9]{1,5})$", description="auto or NxN")
    response_format: Literal["b64_json", "url"] | None = None
    quality: Literal["auto", "standard"] | None = None
    background: Literal["auto", "opaque"] | None = None
    output_format: Literal["png"] | None = None
    user: str | None = None
    style: None = None
    moderation: None = None
    output_compression: None = None
    partial_images: None = None
    stream: Literal[False] | None = None  # images are not streamed
    # genloom's own
    seed: Annotated[int, Field(ge=0, lt=2**31), JSON_INT] | None = None
    steps: Annotated[int, Field(ge=1, le=1000), JSON_INT] | None = None
    sampler: Literal["ddim", "ddpm"] | None = None
    guidance_scale: float | None = Field(None, ge=0, le=20)

    @field_validator(*_ALLOWED, mode="before")
    @classmethod
    def _honoured(cls, v: Any, info: ValidationInfo) -> Any:
        ok = _ALLOWED[info.field_name or ""]
        if v is not None and v not in ok:
            raise ValueError(f"{info.field_name} {v!r} is not supported by genloom's image models; use "
                             f"{' or '.join(ok)}, or omit it")  # fmt: skip
        return v

    @field_validator(*_UNSUPPORTED, mode="before")
    @classmethod
    def _unsupported(cls, v: Any, info: ValidationInfo) -> Any:
        if v is not None:
            raise ValueError(
                f"{info.field_name} is not supported ({_UNSUPPORTED[info.field_name or '']}); omit it"
            )
        return v


def _bad(msg: str, param: str) -> APIError:
    return APIError(400, msg, "invalid_request_error", param=param)


def _scale(size: str | None, native: int) -> int:
    if size is None or size == "auto":
        return 1
    m = re.fullmatch(r"([0-9]+)x([0-9]+)", size)
    side = int(m[1]) if m and m[1] == m[2] else 0
    if not side or side % native or side > MAX_SIDE:
        raise _bad(f"size {size!r} is not available for this model: use 'auto', '{native}x{native}' or a "
                   f"square multiple of it up to {MAX_SIDE}x{MAX_SIDE} (e.g. '{native * 32}x{native * 32}')",
                   "size")  # fmt: skip
    return side // native


def _generated_dir(st: State) -> Path:
    return st.settings.ensure_home() / "images" / "generated"


def _generate(st: State, req: ImageGenerationRequest, factor: int, seed: int) -> dict[str, Any]:
    """In a worker thread: load (cached), sample, encode; the files for url responses."""
    try:
        from genloom.image.artifact import open_model
        from genloom.image.png import encode_png, save_with_sidecar
        from genloom.image.prompt import label_for
    except ImportError as e:
        raise MissingDependency(e.name or "diffusers", "image") from None
    m = open_model(req.model, st.settings)
    label = label_for(req.prompt, m.classes)
    gen = m.generate(req.n, seed, label, steps=req.steps, sampler=req.sampler, guidance=req.guidance_scale)
    pixels, manifests = gen.with_manifests(m.ref, req.prompt, scale=factor)
    manifests = [sign_image(st, man) for man in manifests]  # signed when the setting manifest = 1 (issue 16)
    data: list[dict[str, Any]] = []
    for big, man in zip(pixels, manifests, strict=True):
        item: dict[str, Any] = {"revised_prompt": None, "manifest": man}
        if req.response_format == "url":
            image_id = f"img-{secrets.token_hex(16)}"
            folder = _generated_dir(st)
            folder.mkdir(parents=True, exist_ok=True)
            save_with_sidecar(folder / f"{image_id}.png", big, man)
            c2pa_file(st, folder / f"{image_id}.png", man)
            item["url"] = f"/v1/images/files/{image_id}.png"
        else:
            item["b64_json"] = base64.b64encode(c2pa_bytes(st, encode_png(big, man), man)).decode("ascii")
        data.append(item)
    return {"ref": m.ref, "data": data, "side": m.size * factor}


@router.post("/v1/images/generations", responses=ERRORS)
async def generations(req: ImageGenerationRequest, request: Request, who: Principal = Depends(caller)) -> Any:
    st = get_state(request)
    t0 = time.perf_counter()
    seed = random.randrange(2**31 - MAX_N) if req.seed is None else req.seed
    rec = AuditRecord(f"img-{secrets.token_hex(12)}", who.key_id, "/v1/images/generations", model=req.model,
                      prompt={"prompt": req.prompt, "n": req.n, "seed": seed, "user": req.user})  # fmt: skip
    try:
        ticket = st.queue("images", concurrency=1).admit()
    except QueueFull as e:
        raise APIError(503, str(e), "server_error", code="queue_full", retry_after=e.retry_after) from None
    try:
        await ticket.turn()
        try:
            from genloom.image.artifact import open_model

            native = await asyncio.to_thread(lambda: open_model(req.model, st.settings).size)
            factor = _scale(req.size, native)
            out = await asyncio.to_thread(_generate, st, req, factor, seed)
        except ImportError as e:
            raise from_genloom(MissingDependency(e.name or "diffusers", "image")) from None
        except (GenloomError, APIError) as e:
            err = e if isinstance(e, APIError) else from_genloom(e)
            rec.status, rec.error_type = err.status, err.type
            st.finish(who, rec, t0, computed=(0, 0))
            raise err from None
        st.queue("images", concurrency=1).observe(time.perf_counter() - t0)
    finally:
        ticket.release()
    base = str(request.base_url).rstrip("/")
    for item in out["data"]:
        if "url" in item:
            item["url"] = base + item["url"]
    rec.model = out["ref"]
    rec.output = " ".join(d["manifest"]["sha256"] for d in out["data"])
    if st.settings.manifest:
        rec.manifest = json.dumps([d["manifest"] for d in out["data"]])
    st.finish(who, rec, t0, computed=(0, 0))
    side = out["side"]
    return {"created": int(time.time()), "data": out["data"], "output_format": "png", "size": f"{side}x{side}",
            "quality": req.quality or "standard", "background": "opaque"}  # fmt: skip


@router.get("/v1/images/files/{name}", include_in_schema=False)
async def image_file(name: str, request: Request) -> FileResponse:
    """A generated PNG by its unguessable id (no key needed: the URL is the capability)."""
    stem = name.removesuffix(".png")
    path = _generated_dir(get_state(request)) / f"{stem}.png"
    if not name.endswith(".png") or not _ID.fullmatch(stem) or not path.is_file():
        raise APIError(404, f"no generated image {name!r}", "invalid_request_error", code="not_found")
    return FileResponse(path, media_type="image/png")
