"""``genloom verify MANIFEST [TEXT|-]``: check a signed provenance manifest and the output it names (issue 16).

MANIFEST is a JSON file: the manifest itself, or a whole API response that carries ``genloom_manifest``; or a
PNG made by genloom (its embedded manifest is checked against its pixels).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from genloom.cli._common import console, print_json, read_text_arg
from genloom.errors import UserError
from genloom.settings import get_settings


def _load(path: Path) -> tuple[Any, str | None]:
    """(the manifest, the hash of the output it came with, when the file holds both: a PNG)."""
    if not path.is_file():
        raise UserError(f"no file {path}", hint="pass the manifest's JSON file (or a genloom PNG)")
    data = path.read_bytes()
    if data.startswith(b"\x89PNG"):
        from genloom.image.png import decode_png, pixels_sha256

        pixels, manifest = decode_png(data)
        if manifest is None:
            raise UserError(f"{path} carries no genloom manifest", hint="was it made by genloom image?")
        return manifest, pixels_sha256(pixels)
    try:
        obj = json.loads(data)
    except ValueError:
        raise UserError(f"{path} is not JSON", hint="pass the manifest's JSON file") from None
    return (obj.get("genloom_manifest", obj) if isinstance(obj, dict) else obj), None


def _c2pa_state(path: Path, settings: Any) -> dict[str, Any] | None:
    """The PNG's C2PA validation (this installation's local CA trusted), when c2pa-python is installed."""
    try:
        from genloom.provenance.c2pa_png import read
    except ImportError:
        return None
    try:
        r = read(path.read_bytes(), settings)
    except UserError:  # c2pa-python is not installed: the genloom manifest alone is checked
        return None
    return None if r is None else {"state": r["state"], "status": r["status"]}


def verify(
    manifest: Path = typer.Argument(
        ..., help="The manifest (JSON, or an API response with genloom_manifest) or a PNG."
    ),
    text: str = typer.Argument(None, help="The output text to check, or '-' to read stdin (not for a PNG)."),
    text_file: Path | None = typer.Option(None, "--file", help="Read the output text from this file."),
    trust: list[str] = typer.Option([], "--trust", help="Also trust this signer key id (ed25519:...)."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON object."),
) -> None:
    """Verify a manifest's Ed25519 signature and that the text is the output it was signed for."""
    from genloom.provenance.manifest import verify_here

    m, output_hash = _load(manifest)
    body: str | None = None
    if text_file is not None:
        body = text_file.read_text(encoding="utf-8")
    elif text is not None:
        body = read_text_arg(text)
    if body is None and output_hash is None:
        raise UserError("no output to check", hint="pass the text (or '-' for stdin, or --file PATH)")
    s = get_settings()
    v = verify_here(m, s, text=body, output_sha256=output_hash, trust=trust)
    c2pa = _c2pa_state(manifest, s) if output_hash is not None else None
    if as_json:
        print_json({**v.to_dict(), **({"c2pa": c2pa} if c2pa else {})})
    else:
        console.print(("valid" if v.valid else "NOT valid") + f"  (signer {v.signer or 'none'}"
                      + (", trusted)" if v.trusted else ", not trusted)"))  # fmt: skip
        for p in v.problems:
            console.print(f"  - {p}")
        if c2pa is not None:
            console.print(f"C2PA: {c2pa['state']}" + "".join(f"; {x.get('code')}" for x in c2pa["status"]))
    if not v.valid:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(verify)
