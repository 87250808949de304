"""PNG files with provenance: each generated image embeds its manifest as a PNG text chunk
(``genloom:manifest``, JSON), and image grids for previews and docs.

The manifest's ``sha256`` is of the image's pixels (``pixels_sha256``: the uint8 H x W x C array, row-major),
which the file can carry about itself; a sidecar ``.json`` next to a saved file adds ``file_sha256`` of the
PNG bytes. :func:`image_manifest` builds the dict that a signing step can wrap; :func:`verify` recomputes the
pixel hash of a PNG and compares it with the embedded manifest.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from genloom import __version__

KEY = "genloom:manifest"


def pixels_sha256(pixels: np.ndarray) -> str:
    """sha256 of a uint8 H x W x C (or H x W) image array."""
    a = np.ascontiguousarray(pixels, dtype=np.uint8)
    return hashlib.sha256(f"{a.shape}".encode() + a.tobytes()).hexdigest()


def image_manifest(
    pixels: np.ndarray,
    *,
    model: str,
    seed: int,
    steps: int | None = None,
    guidance: float | None = None,
    sampler: str | None = None,
    label: int | None = None,
    class_name: str | None = None,
    prompt: str | None = None,
    created: float | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What made this image, with the hash of its pixels: the unit a signature (a later issue) signs."""
    a = np.asarray(pixels)
    return {
        "format": "genloom.image/1",
        "sha256": pixels_sha256(a),
        "sha256_of": "pixels",
        "width": int(a.shape[1]),
        "height": int(a.shape[0]),
        "model": model,
        "seed": seed,
        "steps": steps,
        "guidance": guidance,
        "sampler": sampler,
        "label": label,
        "class": class_name,
        "prompt": prompt,
        "created": created if created is not None else time.time(),
        "generator": f"genloom {__version__}",
        **(extra or {}),
    }


def upscale(pixels: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement (keeps the model's pixels exact, just bigger)."""
    return pixels if factor == 1 else pixels.repeat(factor, axis=0).repeat(factor, axis=1)


def encode_png(pixels: np.ndarray, manifest: dict[str, Any] | None = None) -> bytes:
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    a = np.asarray(pixels, dtype=np.uint8)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    info = PngInfo()
    if manifest is not None:
        info.add_itxt(KEY, json.dumps(manifest, sort_keys=True))
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def decode_png(data: bytes) -> tuple[np.ndarray, dict[str, Any] | None]:
    """(pixels H x W x C, the embedded manifest or None)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        text = getattr(im, "text", {}).get(KEY)
        a = np.asarray(im)
    if a.ndim == 2:
        a = a[:, :, None]
    return a, json.loads(text) if text else None


def verify(data: bytes) -> bool:
    """True when the PNG carries a manifest whose pixel hash matches its pixels."""
    pixels, manifest = decode_png(data)
    return manifest is not None and manifest.get("sha256") == pixels_sha256(pixels)


def save_with_sidecar(path: Path, pixels: np.ndarray, manifest: dict[str, Any]) -> Path:
    """Write the PNG (manifest embedded) and ``<name>.json`` (manifest + the file's sha256)."""
    data = encode_png(pixels, manifest)
    path.write_bytes(data)
    side = {**manifest, "file": path.name, "file_sha256": hashlib.sha256(data).hexdigest()}
    path.with_suffix(".json").write_text(json.dumps(side, indent=2, sort_keys=True) + "\n")
    return path


def grid(images: np.ndarray, cols: int, scale: int = 1, pad: int = 1) -> np.ndarray:
    """uint8 N x H x W x C -> one uint8 image of ``cols`` columns, each cell enlarged ``scale`` times."""
    n, h, w, c = images.shape
    rows = max(1, -(-n // cols))
    hs, ws = h * scale, w * scale
    out = np.full((rows * (hs + pad) + pad, cols * (ws + pad) + pad, c), 255, dtype=np.uint8)
    for i in range(n):
        r, k = divmod(i, cols)
        y, x = pad + r * (hs + pad), pad + k * (ws + pad)
        out[y : y + hs, x : x + ws] = upscale(images[i], scale)
    return out


def save_grid(path: Path, images: np.ndarray, cols: int, scale: int = 4, manifest: dict[str, Any] | None = None
              ) -> Path:  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_png(grid(images, cols, scale), manifest))
    return path
