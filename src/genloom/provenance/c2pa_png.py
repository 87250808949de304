"""C2PA Content Credentials in generated PNGs, signed offline with this installation's keys (c2pa-python).

The C2PA manifest says the image was created by a trained algorithm (``c2pa.actions``: ``c2pa.created``,
digital source type ``trainedAlgorithmicMedia``) and carries genloom's own image manifest (the assertion
``org.genloom.manifest``). It is signed with the Ed25519 signing key of the home folder (the same key that
signs genloom manifests), whose X.509 certificate is issued by a local CA made on first use in
``$GENLOOM_HOME/c2pa/`` (keys 0600). No timestamp authority and no network are involved. C2PA readers report
such an image ``Valid`` (the signature and hashes check out) and, given ``ca.pem`` as a trust anchor,
``Trusted``; anyone else's reader says the signer is not on its trust list, which is the truth.
"""

from __future__ import annotations

import datetime
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genloom import __version__
from genloom.errors import MissingDependency
from genloom.provenance.keys import private_file, signing_key

if TYPE_CHECKING:
    from genloom.settings import Settings

ASSERTION = "org.genloom.manifest"
SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


def _c2pa() -> Any:
    try:
        import c2pa
    except ImportError:
        raise MissingDependency("c2pa-python", "provenance") from None
    return c2pa


@dataclass(frozen=True, slots=True)
class Credentials:
    chain_pem: bytes  # the signer's certificate, then the CA's
    key_pem: bytes  # the signer's private key (the home folder's signing key)
    ca_pem: bytes


def credentials(settings: Settings) -> Credentials:
    """The local CA and the signer certificate for the signing key, made on first use."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder = settings.ensure_home() / "c2pa"
    sk = signing_key(settings)
    pem = serialization.Encoding.PEM
    key_pem = sk.private.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    chain_path, ca_path = folder / f"signer-{sk.key_id.split(':')[1]}.pem", folder / "ca.pem"
    if chain_path.is_file() and ca_path.is_file():
        return Credentials(chain_path.read_bytes(), key_pem, ca_path.read_bytes())
    now = datetime.datetime.now(datetime.UTC)
    ca_key_path = folder / "ca.key"
    if not ca_key_path.is_file():
        private_file(ca_key_path, ed25519.Ed25519PrivateKey.generate().private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))  # fmt: skip
    ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
    assert isinstance(ca_key, ed25519.Ed25519PrivateKey)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "genloom (local)")])  # fmt: skip

    def usage(sign: bool) -> x509.KeyUsage:
        return x509.KeyUsage(digital_signature=sign, content_commitment=False, key_encipherment=False,
                             data_encipherment=False, key_agreement=False, key_cert_sign=not sign,
                             crl_sign=not sign, encipher_only=False, decipher_only=False)  # fmt: skip

    if not ca_path.is_file():
        ca = (x509.CertificateBuilder().subject_name(name("genloom local CA")).issuer_name(name("genloom local CA"))
              .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=3650))
              .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
              .add_extension(usage(False), critical=True)
              .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
              .sign(ca_key, None))  # fmt: skip
        ca_path.write_bytes(ca.public_bytes(pem))
    ca = x509.load_pem_x509_certificate(ca_path.read_bytes())
    leaf = (x509.CertificateBuilder().subject_name(name(f"genloom signer {sk.key_id}")).issuer_name(ca.subject)
            .public_key(sk.private.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage(True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(sk.private.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, None))  # fmt: skip
    chain = leaf.public_bytes(pem) + ca_path.read_bytes()
    chain_path.write_bytes(chain)
    return Credentials(chain, key_pem, ca_path.read_bytes())


def embed(png: bytes, manifest: dict[str, Any], settings: Settings) -> bytes:
    """The PNG with a signed C2PA manifest store that carries ``manifest`` (genloom's image manifest)."""
    c2pa = _c2pa()
    cred = credentials(settings)
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ED25519, cred.chain_pem,
                                                       cred.key_pem, None))  # fmt: skip
    definition = {
        "claim_generator_info": [{"name": "genloom", "version": __version__}],
        "title": "genloom image",
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": SOURCE_TYPE}]}},
            {"label": ASSERTION, "data": manifest},
        ],
    }  # fmt: skip
    out = io.BytesIO()
    c2pa.Builder(json.dumps(definition)).sign(signer, "image/png", io.BytesIO(png), out)
    return out.getvalue()


def read(png: bytes, settings: Settings | None = None) -> dict[str, Any] | None:
    """The C2PA validation of a PNG: ``{"state": "Trusted"|"Valid"|"Invalid", "status": [...], "genloom":
    the embedded genloom manifest}``, trusting this installation's local CA; None when it carries no C2PA."""
    c2pa = _c2pa()
    ctx = None
    if settings is not None and (ca := settings.home / "c2pa" / "ca.pem").is_file():
        trust = {"trust": {"user_anchors": ca.read_text()}, "verify": {"verify_trust": True}}
        ctx = c2pa.Context(c2pa.Settings.from_json(json.dumps(trust)))
    try:
        reader = c2pa.Reader("image/png", io.BytesIO(png), context=ctx)
    except c2pa.C2paError:
        return None
    data = json.loads(reader.json())
    active = (data.get("manifests") or {}).get(data.get("active_manifest") or "", {})
    ours = next((a["data"] for a in active.get("assertions", []) if a.get("label") == ASSERTION), None)
    return {
        "state": data.get("validation_state"),
        "status": data.get("validation_status") or [],
        "genloom": ours,
    }


def embed_file(path: Path, manifest: dict[str, Any], settings: Settings) -> None:
    """Rewrite a saved PNG with its C2PA manifest, and its ``.json`` sidecar's ``file_sha256`` to match."""
    import hashlib

    data = embed(path.read_bytes(), manifest, settings)
    path.write_bytes(data)
    side = path.with_suffix(".json")
    if side.is_file():
        obj = json.loads(side.read_text())
        obj["file_sha256"] = hashlib.sha256(data).hexdigest()
        side.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
