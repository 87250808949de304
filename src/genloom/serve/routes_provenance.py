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
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from genloom.serve.auth import Principal
from genloom.serve.deps import caller
from genloom.serve.routes_openai import ERRORS
from genloom.serve.state import get_state

router = APIRouter(tags=["provenance"], responses=ERRORS)


class DetectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=200_000)
    model: str | None = None  # the llamacpp: model whose tokenizer reads the text (default: the first served)
    logprob: bool = False  # also the log-probability score (loads the model; slower, weaker)


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str | None = Field(default=None, max_length=20_000_000)
    manifest: dict[str, Any]
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
    v = verify_here(body.manifest, st.settings, text=body.text, trust=body.trust)
    return {"object": "manifest.verification", **v.to_dict()}
