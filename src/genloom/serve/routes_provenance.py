"""Provenance endpoints (issue 16): watermark detection and manifest verification.

    POST /v1/detect {"text": "...", "model"?: "llamacpp:", "logprob"?: false}
      → {"object": "watermark.detection", "verdict", "z", "p_value", "tokens_scored", "green", "key_id", ...,
         "logprob"?: {...}}  (the log-probability score: a weaker signal, loads the model)
    POST /v1/verify {"text": "...", "manifest": {...}, "trust"?: ["ed25519:..."]}
      → {"object": "manifest.verification", "valid", "signature_valid", "output_matches", "signer", ...}

Detection needs only the model's tokenizer; verdicts are "watermarked", "no watermark found" or "too short
to tell" (genloom.provenance.detect). Verification trusts this server's signing key and the ``trust`` ids.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import ConfigDict, Field

from genloom.serve.auth import Principal
from genloom.serve.body import NOT_BLANK, Body
from genloom.serve.deps import caller
from genloom.serve.routes_openai import ERRORS
from genloom.serve.state import get_state

router = APIRouter(tags=["provenance"], responses=ERRORS)


class DetectRequest(Body):
    text: str = Field(min_length=1, max_length=200_000, pattern=NOT_BLANK)
    model: str | None = None  # the llamacpp: model whose tokenizer reads the text (default: the first served)
    logprob: bool = False  # also the log-probability score (loads the model; slower, weaker)


class Manifest(Body):
    """A genloom manifest: a reply's (``genloom_manifest``) or a PNG's; every other field is signed as sent."""

    model_config = ConfigDict(extra="allow")
    format: Literal["genloom.manifest/1", "genloom.image/1"]  # provenance.manifest FORMAT, IMAGE_FORMAT
    output: dict[str, Any] | None = None  # a reply's: {"sha256": ...} of the text it was made for
    signature: dict[str, Any] | None = None  # {"alg": "Ed25519", "key_id", "public_key", "value"}


class VerifyRequest(Body):
    text: str | None = Field(default=None, max_length=20_000_000)
    manifest: Manifest
    trust: list[str] = Field(default_factory=list, max_length=64)


@router.post("/v1/detect")
async def detect(body: DetectRequest, request: Request, who: Principal = Depends(caller)) -> dict[str, Any]:
    from genloom.provenance.detect import detect as run

    st = get_state(request)
    model = body.model or st.models[0]
    st.check_model(model)
    d = await asyncio.to_thread(run, body.text, st.settings, model)
    out: dict[str, Any] = {"object": "watermark.detection", "model": model, **d.to_dict()}
    if body.logprob:
        from genloom.provenance.logprob import score_text

        out["logprob"] = (await asyncio.to_thread(score_text, body.text, st.settings, model)).to_dict()
    return out


@router.post("/v1/verify")
async def verify(body: VerifyRequest, request: Request, who: Principal = Depends(caller)) -> dict[str, Any]:
    from genloom.provenance.manifest import verify_here

    st = get_state(request)
    v = verify_here(
        body.manifest.model_dump(exclude_unset=True), st.settings, text=body.text, trust=body.trust
    )
    return {"object": "manifest.verification", **v.to_dict()}
