"""Images: signed genloom manifests and C2PA Content Credentials in generated PNGs (issue 16)."""

from __future__ import annotations

import base64
import hashlib
import io
import json

import numpy as np
import pytest

pytest.importorskip("c2pa")

from genloom.cli.main import main
from genloom.image.png import decode_png, encode_png, image_manifest, pixels_sha256, verify
from genloom.provenance import c2pa_png
from genloom.provenance.keys import signing_key
from genloom.provenance.manifest import sign, verify_here
from genloom.settings import Settings, set_settings


def _png(s: Settings) -> tuple[bytes, dict]:
    px = np.random.default_rng(0).integers(0, 255, (8, 8, 3), dtype=np.uint8)
    m = sign(image_manifest(px, model="tiny@v1", seed=3), signing_key(s))
    return c2pa_png.embed(encode_png(px, m), m, s), m


def test_c2pa_embed_read_and_tamper(tmp_path):
    s = Settings(home=tmp_path / "h")
    data, m = _png(s)
    assert verify(data)  # the genloom text chunk survives the C2PA embedding
    r = c2pa_png.read(data, s)
    assert r is not None and r["state"] == "Trusted" and r["genloom"] == m
    assert c2pa_png.read(data)["state"] == "Valid"  # without the local CA as anchor: valid, not trusted
    pixels, embedded = decode_png(data)
    assert verify_here(embedded, s, output_sha256=pixels_sha256(pixels)).valid
    # change the image's bytes inside its PNG data chunk: the C2PA hash no longer matches
    i = data.index(b"IDAT") + 8
    bad = data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1 :]
    assert c2pa_png.read(bad, s)["state"] == "Invalid"
    assert (tmp_path / "h" / "c2pa" / "ca.key").stat().st_mode & 0o077 == 0


def test_cli_verify_reads_a_png(tmp_path, capsys):
    s = Settings(home=tmp_path / "h")
    set_settings(s)
    data, _ = _png(s)
    (tmp_path / "img.png").write_bytes(data)
    assert main(["verify", str(tmp_path / "img.png"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["valid"] and out["c2pa"]["state"] == "Trusted"


@pytest.mark.slow
def test_image_api_signs_and_embeds_c2pa(tmp_path):
    pytest.importorskip("diffusers")
    from fastapi.testclient import TestClient

    from genloom.image.train import TrainOptions, register, train
    from genloom.serve import create_app

    home = tmp_path / "home"
    s = Settings(home=home, model="fake:", manifest=1)
    run = train(TrainOptions(kind="ddpm", epochs=1, batch_size=32, limit=64, grid=False, model={"width": 16}),
                home / "run", max_steps=2)  # fmt: skip
    register(run, "tiny", s)
    c = TestClient(create_app(s), base_url="http://localhost")
    body = {"model": "tiny", "prompt": "a seven", "n": 1, "seed": 1, "steps": 2}
    r = c.post("/v1/images/generations", json=body)
    assert r.status_code == 200, r.text
    item = r.json()["data"][0]
    data = base64.b64decode(item["b64_json"])
    pixels, m = decode_png(data)
    assert m == item["manifest"] and m["signature"]["alg"] == "Ed25519"
    assert verify_here(m, s, output_sha256=pixels_sha256(pixels)).valid
    assert c2pa_png.read(data, s)["state"] == "Trusted"
    u = c.post("/v1/images/generations", json={**body, "response_format": "url"}).json()["data"][0]
    name = u["url"].rsplit("/", 1)[1]
    saved = home / "images" / "generated" / name
    side = json.loads(saved.with_suffix(".json").read_text())
    assert side["file_sha256"] == hashlib.sha256(saved.read_bytes()).hexdigest()
    assert c2pa_png.read(saved.read_bytes(), s)["state"] == "Trusted"
    assert io.BytesIO(saved.read_bytes()).read(4) == b"\x89PNG"
