"""POST /v1/images/generations against a live ``genloom serve`` process, driven by the real openai SDK.

The server's home holds a real (two-step) class-conditional DDPM registered as ``tiny``.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest

pytest.importorskip("diffusers")

import genloom
from genloom.image.png import decode_png, verify
from genloom.image.train import TrainOptions, register, train
from genloom.serve.audit import AuditLog
from genloom.settings import Settings
from serve_fakes import free_port

KEY = "sk-images-test"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    run = train(TrainOptions(kind="ddpm", epochs=1, batch_size=32, limit=64, grid=False, model={"width": 16}),
                home / "run", max_steps=2)  # fmt: skip
    register(run, "tiny", Settings(home=home))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENLOOM_")}
    src = str(Path(genloom.__file__).resolve().parents[1])
    env.update(GENLOOM_HOME=str(home), GENLOOM_API_KEYS=f"tester={KEY}", GENLOOM_MODEL="fake:",
               PYTHONPATH=src + os.pathsep + env.get("PYTHONPATH", ""))  # fmt: skip
    cmd = [sys.executable, "-m", "genloom.cli.main", "serve", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(timeout=1) as probe:
            for _ in range(600):
                if proc.poll() is not None:
                    raise RuntimeError(f"genloom serve exited: {proc.stderr.read() if proc.stderr else ''}")
                try:
                    if probe.get(f"{url}/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
        yield url, home
    finally:
        proc.terminate()
        proc.communicate(timeout=10)  # also closes the pipes


def sdk(url: str, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=120)


def test_sdk_images_generate_b64_and_url(server):
    url, home = server
    with sdk(url) as client:
        _generate_and_check(client, url, home)


def _generate_and_check(client: openai.OpenAI, url: str, home: Path) -> None:
    r = client.images.generate(model="tiny", prompt="a handwritten 7", n=2, size="64x64",
                               response_format="b64_json", extra_body={"seed": 5, "steps": 3})  # fmt: skip
    assert len(r.data) == 2 and r.size == "64x64" and r.output_format == "png"
    pngs = [base64.b64decode(d.b64_json) for d in r.data]
    pixels, manifest = decode_png(pngs[1])
    assert pixels.shape == (64, 64, 1) and verify(pngs[1])
    assert manifest["model"] == "tiny@v1" and manifest["seed"] == 6 and manifest["class"] == "7"
    assert (
        manifest["steps"] == 3 and manifest["upscaled"] == 8 and manifest == r.data[1].model_extra["manifest"]
    )
    again = client.images.generate(model="tiny@v1", prompt="a handwritten 7", n=1, size="64x64",
                                   extra_body={"seed": 6, "steps": 3})  # fmt: skip
    assert decode_png(base64.b64decode(again.data[0].b64_json))[0].tobytes() == pixels.tobytes()

    u = client.images.generate(model="tiny", prompt="", response_format="url", extra_body={"steps": 2})
    link = u.data[0].url
    assert link.startswith(url + "/v1/images/files/img-") and u.size == "8x8"
    got = httpx.get(link)  # no key: the unguessable URL is the capability
    assert got.status_code == 200 and got.headers["content-type"] == "image/png" and verify(got.content)
    assert decode_png(got.content)[1]["class"] is None  # empty prompt: unconditional
    assert httpx.get(f"{url}/v1/images/files/img-{'0' * 32}.png").status_code == 404
    assert httpx.get(f"{url}/v1/images/files/..%2Fregistry.db").status_code == 404
    rows = AuditLog(home / "audit.db").rows()
    ok = [r for r in rows if r["endpoint"] == "/v1/images/generations" and r["status"] == 200]
    assert len(ok) == 3 and ok[-1]["model"] == "tiny@v1" and ok[-1]["key_id"] == "tester"


@pytest.mark.parametrize(
    ("kwargs", "status", "needle"),
    [
        ({"quality": "hd"}, 400, "quality 'hd'"),
        ({"style": "vivid"}, 400, "style is not supported"),
        ({"size": "100x100"}, 400, "size '100x100'"),
        ({"extra_body": {"negative_prompt": "x"}}, 400, "negative_prompt"),
        ({"prompt": "a cat"}, 400, "names none of the model's classes"),
        ({"model": "missing"}, 404, "no model version missing"),
        ({"n": 17}, 400, "less than or equal to 16"),
    ],
)
def test_bad_requests_are_rejected_by_name(server, kwargs, status, needle):
    args = {"model": "tiny", "prompt": "a 3", **kwargs}
    with sdk(server[0]) as client, pytest.raises(openai.APIStatusError) as e:
        client.images.generate(**args)
    assert e.value.status_code == status and needle in str(e.value)


def test_images_need_the_api_key(server):
    with sdk(server[0], "sk-wrong") as client, pytest.raises(openai.AuthenticationError):
        client.images.generate(model="tiny", prompt="a 3")
