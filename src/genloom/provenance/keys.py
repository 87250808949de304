"""The two provenance secrets in the home folder, each created (mode 0600) on first use:

- the watermark key (``watermark.key``: 32 random bytes as hex) seeds the green lists; its public *key id*
  (``wm-`` + 12 hex digits of a hash of it) names which key marked a text without revealing it;
- the signing key (``signing.key``: an Ed25519 private key, PKCS#8 PEM) signs manifests; its key id is
  ``ed25519:`` + 16 hex digits of the sha256 of the raw public key.

Settings ``watermark_key_file`` / ``signing_key_file`` point elsewhere (e.g. a key shared by every server).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genloom.errors import MissingDependency, UserError

if TYPE_CHECKING:
    from genloom.provenance.watermark import Scheme
    from genloom.settings import Settings


def private_file(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file only its owner may read (never over an existing one)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return  # another process created it first: read theirs
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _key_path(settings: Settings, configured: str, default: str) -> Path:
    return Path(configured).expanduser() if configured else settings.ensure_home() / default


def watermark_key_id(key: bytes) -> str:
    return "wm-" + hashlib.sha256(b"genloom watermark key id\0" + key).hexdigest()[:12]


def watermark_key(settings: Settings) -> tuple[bytes, str]:
    """(the watermark key, its key id), created on first use."""
    path = _key_path(settings, settings.watermark_key_file, "watermark.key")
    if not path.exists():
        private_file(path, secrets.token_hex(32).encode() + b"\n")
    text = path.read_text(encoding="utf-8").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < 16:
        raise UserError(
            f"{path} is not a watermark key (expected at least 32 hex digits)",
            hint="restore the key file, or move it away to create a new key (old texts then no longer detect)",
        )
    return key, watermark_key_id(key)


@dataclass(frozen=True, slots=True)
class SigningKey:
    private: Any  # cryptography's Ed25519PrivateKey
    public_raw: bytes
    key_id: str

    def sign(self, data: bytes) -> bytes:
        return bytes(self.private.sign(data))


def signing_key_id(public_raw: bytes) -> str:
    return "ed25519:" + hashlib.sha256(public_raw).hexdigest()[:16]


def _crypto() -> Any:
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError:
        raise MissingDependency("cryptography", "provenance") from None
    return serialization, ed25519


def signing_key(settings: Settings) -> SigningKey:
    """This installation's Ed25519 signing key, created on first use."""
    serialization, ed25519 = _crypto()
    path = _key_path(settings, settings.signing_key_file, "signing.key")
    if not path.exists():
        pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        private_file(path, pem)
    try:
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except ValueError:
        private = None
    if not isinstance(private, ed25519.Ed25519PrivateKey):
        raise UserError(f"{path} is not an Ed25519 private key (PEM)", hint="restore it or move it away")
    raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return SigningKey(private, raw, signing_key_id(raw))


def verify_signature(public_raw: bytes, signature: bytes, data: bytes) -> bool:
    _, ed25519 = _crypto()
    from cryptography.exceptions import InvalidSignature

    try:
        ed25519.Ed25519PublicKey.from_public_bytes(public_raw).verify(signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True


def watermark_scheme(settings: Settings) -> Scheme:
    """The watermark these settings describe, with this installation's key."""
    from genloom.provenance.watermark import Scheme

    key, key_id = watermark_key(settings)
    return Scheme(key, key_id, gamma=settings.watermark_gamma, delta=settings.watermark_delta,
                  context_width=settings.watermark_context)  # fmt: skip


def own_signer_id(settings: Settings) -> str | None:
    """This installation's signing key id, when it has a key (never creates one)."""
    path = _key_path(settings, settings.signing_key_file, "signing.key")
    return signing_key(settings).key_id if path.is_file() else None
