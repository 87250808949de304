"""Signed provenance manifests on API outputs (issue 16; genloom.provenance.manifest).

With the setting ``manifest = 1`` every generated output the API returns carries its signed manifest in the
response field ``genloom_manifest`` (a chat completion, a text completion, a grounded ``rag:`` answer, a
structured output, an agent run; streams: in the last chunk), and the same manifest is stored in the audit
row's ``manifest`` column. Images: each PNG's own manifest is signed in place and the PNG carries C2PA Content
Credentials too (genloom.provenance.c2pa_png). The output hash is of the text exactly as the client receives it: the message
content (or the completion text; a stream's deltas joined); tool calls are hashed as their JSON in ``extra``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from genloom.provenance import manifest as M
from genloom.provenance.keys import signing_key
from genloom.serve.audit import AuditRecord
from genloom.serve.openai_reply import Reply
from genloom.serve.state import State
from genloom.serve.worker import Generation
from genloom.types import SamplingParams


def sign_output(
    st: State,
    rec: AuditRecord,
    kind: str,
    output: str,
    *,
    spec: str,
    params: SamplingParams | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
) -> dict[str, Any] | None:
    """The signed manifest of one output (kept in ``rec.manifest``), or None when manifests are off."""
    if not st.settings.manifest:
        return None
    info = st.engine(spec).backend.info()
    extra: dict[str, Any] = {}
    if tool_calls:
        raw = json.dumps(tool_calls, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
        extra["tool_calls_sha256"] = hashlib.sha256(raw.encode("utf-8")).hexdigest()
    wm = (info.details or {}).get("watermark")
    m = M.build(kind, output_sha256=M.text_sha256(output), model=M.model_entry(info.id, info.source, st.settings),
                template=rec.template, kb=rec.kb, chunk_ids=rec.chunk_ids,
                params=asdict(params) if params is not None else None,
                watermark_key_id=wm if isinstance(wm, str) else None, request_id=rec.request_id,
                extra=extra)  # fmt: skip
    signed = M.sign(m, signing_key(st.settings))
    rec.manifest = json.dumps(signed, ensure_ascii=False)
    return signed


def sign_image(st: State, manifest: dict[str, Any]) -> dict[str, Any]:
    """An image's manifest (genloom.image.png), signed in place when manifests are on (else as it was)."""
    return M.sign(manifest, signing_key(st.settings)) if st.settings.manifest else manifest


def c2pa_bytes(st: State, png: bytes, manifest: dict[str, Any]) -> bytes:
    """A generated PNG with its C2PA Content Credentials when manifests are on (genloom.provenance.c2pa_png)."""
    if not st.settings.manifest:
        return png
    from genloom.provenance.c2pa_png import embed

    return embed(png, manifest, st.settings)


def c2pa_file(st: State, path: Path, manifest: dict[str, Any]) -> None:
    """:func:`c2pa_bytes` for a saved PNG (its sidecar's file hash follows)."""
    if st.settings.manifest:
        from genloom.provenance.c2pa_png import embed_file

        embed_file(path, manifest, st.settings)


def sign_reply(rep: Reply, gen: Generation, content: str, rag: bool) -> dict[str, Any] | None:
    """:func:`sign_output` for an OpenAI-style reply (chat, completion, rag, structured)."""
    calls = getattr(getattr(gen.source, "completion", None), "tool_calls", None)
    spec = rep.st.models[0] if rag else rep.model
    return sign_output(rep.st, rep.rec, rep.kind, content, spec=spec, params=rep.params,
                       tool_calls=[c.to_dict() for c in calls] if calls else None)  # fmt: skip
