"""Signed provenance manifests: what made one output, bound to it by its hash and signed with Ed25519.

A manifest is a JSON object (format ``genloom.manifest/1``):

    {"format": "genloom.manifest/1", "kind": "chat" | "completion" | "rag" | "structured" | "agent" | "image",
     "output": {"sha256": "...", "of": "text/utf-8"},          # or "of": "pixels" for images
     "model": {"id": "llamacpp:", "file": "SmolLM2-...gguf", "file_sha256": "..."},
     "template": "grounded@3", "kb": "docs", "chunk_ids": [...], "params": {...sampling...},
     "watermark": {"key_id": "wm-..."} | null, "created": 1764640000.0, "generator": "genloom 0.1.0",
     "request_id": "chatcmpl-...", "extra": {...},
     "signature": {"alg": "Ed25519", "key_id": "ed25519:...", "public_key": "<base64>", "value": "<base64>"}}

An image's own manifest (``genloom.image/1``, embedded in its PNG, bound to the pixels' hash) is signed the
same way, in place. The signature covers the canonical JSON (sorted keys, no spaces, UTF-8) of everything but ``signature``.
:func:`verify` checks the signature, that the text hashes to ``output.sha256``, and whether the signer is
a trusted key (by default: this installation's own). The model file's sha256 is computed once per file
(size + mtime) and cached in ``$GENLOOM_HOME/file-hashes.json``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genloom import __version__
from genloom.errors import UserError
from genloom.provenance.keys import SigningKey, signing_key_id, verify_signature

if TYPE_CHECKING:
    from genloom.settings import Settings

FORMAT = "genloom.manifest/1"
IMAGE_FORMAT = "genloom.image/1"  # an image's manifest (genloom.image.png), signed in place by :func:`sign`
KINDS = ("chat", "completion", "rag", "structured", "agent", "image")
_hash_lock = threading.Lock()
_hashes: dict[tuple[str, int, int], str] = {}


def canonical(manifest: dict[str, Any]) -> bytes:
    body = {k: v for k, v in manifest.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_sha256(path: Path, cache_file: Path | None = None) -> str:
    """sha256 of a (model) file, computed once per (path, size, mtime) and kept in ``cache_file``."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    with _hash_lock:
        if key in _hashes:
            return _hashes[key]
        disk: dict[str, Any] = {}
        if cache_file is not None and cache_file.is_file():
            try:
                disk = json.loads(cache_file.read_text(encoding="utf-8"))
            except ValueError:
                disk = {}
        entry = disk.get(key[0])
        if isinstance(entry, dict) and entry.get("size") == key[1] and entry.get("mtime_ns") == key[2]:
            _hashes[key] = str(entry["sha256"])
            return _hashes[key]
        h = hashlib.sha256()
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        _hashes[key] = digest = h.hexdigest()
        if cache_file is not None:
            disk[key[0]] = {"size": key[1], "mtime_ns": key[2], "sha256": digest}
            tmp = cache_file.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(json.dumps(disk, indent=1), encoding="utf-8")
            tmp.replace(cache_file)
        return digest


def model_entry(model_id: str, source: str | None, settings: Settings) -> dict[str, Any]:
    """The manifest's ``model``: its id, and for a local file its name and sha256."""
    entry: dict[str, Any] = {"id": model_id, "file": None, "file_sha256": None}
    if source and Path(source).is_file():
        path = Path(source)
        entry.update(
            file=path.name, file_sha256=file_sha256(path, settings.ensure_home() / "file-hashes.json")
        )
    return entry


def build(
    kind: str,
    *,
    output_sha256: str,
    model: dict[str, Any] | None,
    of: str = "text/utf-8",
    template: str | None = None,
    kb: str | None = None,
    chunk_ids: Iterable[str] = (),
    params: dict[str, Any] | None = None,
    watermark_key_id: str | None = None,
    request_id: str | None = None,
    created: float | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    if kind not in KINDS:
        raise ValueError(f"unknown manifest kind {kind!r}")
    return {
        "format": FORMAT,
        "kind": kind,
        "output": {"sha256": output_sha256, "of": of},
        "model": model,
        "template": template,
        "kb": kb,
        "chunk_ids": list(chunk_ids),
        "params": params or {},
        "watermark": {"key_id": watermark_key_id} if watermark_key_id else None,
        "created": time.time() if created is None else created,
        "generator": f"genloom {__version__}",
        "request_id": request_id,
        "extra": extra or {},
    }


def sign(manifest: dict[str, Any], key: SigningKey) -> dict[str, Any]:
    """The manifest with its ``signature``."""
    body = {k: v for k, v in manifest.items() if k != "signature"}
    sig = key.sign(canonical(body))
    return {**body, "signature": {"alg": "Ed25519", "key_id": key.key_id,
                                  "public_key": base64.b64encode(key.public_raw).decode(),
                                  "value": base64.b64encode(sig).decode()}}  # fmt: skip


@dataclass(slots=True)
class Verification:
    valid: bool  # signature good, output matches, signer trusted
    signature_valid: bool
    output_matches: bool | None  # None when no output was given to check
    signer: str | None
    trusted: bool
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def verify(manifest: Any, *, text: str | None = None, output_sha256: str | None = None,
           trusted: Iterable[str] = ()) -> Verification:  # fmt: skip
    """Check a manifest: its signature, that ``text`` (or a given output hash) is what it was made for,
    and that the signer's key id is in ``trusted``."""
    if not isinstance(manifest, dict) or manifest.get("format") not in (FORMAT, IMAGE_FORMAT):
        raise UserError("not a genloom manifest",
                        hint=f"pass the JSON object whose format is {FORMAT!r} (or a PNG's {IMAGE_FORMAT!r})")  # fmt: skip
    problems: list[str] = []
    sig = manifest.get("signature")
    ok_sig, signer = False, None
    if not isinstance(sig, dict) or sig.get("alg") != "Ed25519":
        problems.append("the manifest is not signed (no Ed25519 signature)")
    else:
        try:
            public = base64.b64decode(str(sig.get("public_key")), validate=True)
            value = base64.b64decode(str(sig.get("value")), validate=True)
        except ValueError:
            public, value = b"", b""
        signer = signing_key_id(public) if public else None
        if signer is None or signer != sig.get("key_id"):
            problems.append("the signature's key id does not match its public key")
        elif not verify_signature(public, value, canonical(manifest)):
            problems.append("the signature does not match the manifest (it was changed after signing)")
        else:
            ok_sig = True
    if manifest["format"] == IMAGE_FORMAT:  # genloom.image.png's manifest: the hash of the pixels
        expected = manifest.get("sha256")
    else:
        expected = (manifest.get("output") or {}).get("sha256")
    got = text_sha256(text) if text is not None else output_sha256
    matches = None if got is None else got == expected
    if matches is False:
        problems.append("the output does not match the manifest's output hash (it was changed)")
    is_trusted = signer is not None and signer in set(trusted)
    if ok_sig and not is_trusted:
        problems.append(f"the signer {signer} is not a trusted key")
    return Verification(ok_sig and matches is not False and is_trusted, ok_sig, matches, signer, is_trusted,
                        problems)  # fmt: skip


def verify_here(manifest: Any, settings: Settings, *, text: str | None = None, output_sha256: str | None = None,
                trust: Iterable[str] = ()) -> Verification:  # fmt: skip
    """:func:`verify`, trusting this installation's signing key and the key ids in ``trust``."""
    from genloom.provenance.keys import own_signer_id

    own = own_signer_id(settings)
    return verify(manifest, text=text, output_sha256=output_sha256, trusted=[*trust, *([own] if own else [])])
