"""A trained image model on disk, and generating from it.

A model folder holds ``genloom-image.json`` (kind, image size and channels, classes, the data it was trained
on, the configuration) and the weights: ``unet/`` and ``scheduler/`` in diffusers' own layout for ``ddpm``,
``vae.safetensors`` or ``generator.safetensors`` otherwise. Folders are written once and never changed (the
registry's versions point at them).

    m = ImageModel.load(folder, ref="digits-ddpm@v1")
    out = m.generate(n=4, seed=0, label=7, steps=50, sampler="ddim", guidance=2.0)
    out.images          # N x C x H x W in [-1, 1];  out.params[i] = what made image i (seed, steps, ...)
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genloom.errors import NotFound, UserError
from genloom.image.data import to_uint8
from genloom.image.gan import Generator
from genloom.image.pipeline import DEFAULT_STEPS, DiffusionPipeline
from genloom.image.png import image_manifest, upscale
from genloom.image.schedulers import SAMPLERS
from genloom.image.vae import ConvVAE

META = "genloom-image.json"
MAX_N = 64


def write_model(folder: Path, meta: dict[str, Any], modules: dict[str, torch.nn.Module]) -> Path:
    """Write a model folder atomically (a temp folder renamed into place)."""
    from safetensors.torch import save_file

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder.parent))
    for name, mod in modules.items():
        save_pretrained = getattr(mod, "save_pretrained", None)
        if callable(save_pretrained):  # diffusers' own layout (config.json + safetensors)
            save_pretrained(tmp / name)
        else:
            save_file({k: v.detach().cpu().contiguous() for k, v in mod.state_dict().items()},
                      str(tmp / f"{name}.safetensors"))  # fmt: skip
    (tmp / META).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, folder)
    return folder


def resolve_device(device: str = "auto") -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("no CUDA device is available", hint="use --device cpu")
    return device


def open_model(ref: str, settings: Any = None, device: str = "auto") -> ImageModel:
    """A registered image model by ``NAME`` or ``NAME@vN`` (loaded once per process: versions never change)."""
    from genloom.registry import Registry

    reg = Registry.open(settings)
    try:
        v = reg.resolve(ref)
    finally:
        reg.close()
    if v.kind != "image":
        raise UserError(f"{v.ref} is a {v.kind} model, not an image model",
                        hint="'genloom image list' shows the image models")  # fmt: skip
    return _load_cached(v.path, v.ref, resolve_device(device))


@functools.lru_cache(maxsize=4)
def _load_cached(path: str, ref: str, device: str) -> ImageModel:
    return ImageModel.load(path, ref, device)


@dataclass
class Generated:
    images: torch.Tensor
    params: list[dict[str, Any]] = field(default_factory=list)

    def with_manifests(self, ref: str, prompt: str | None, created: float | None = None, scale: int = 1
                       ) -> tuple[np.ndarray, list[dict[str, Any]]]:  # fmt: skip
        """(uint8 N x H x W x C pixels, enlarged ``scale`` times, and one provenance manifest per image)."""
        pixels, now = to_uint8(self.images), time.time() if created is None else created
        if scale > 1:
            pixels = np.stack([upscale(px, scale) for px in pixels])
        extra = {"upscaled": scale} if scale > 1 else None
        manifests = [image_manifest(px, model=ref, prompt=prompt, created=now, seed=p["seed"], steps=p["steps"],
                                    guidance=p["guidance"], sampler=p["sampler"], label=p["label"],
                                    class_name=p["class"], extra=extra)
                     for px, p in zip(pixels, self.params, strict=True)]  # fmt: skip
        return pixels, manifests


class ImageModel:
    def __init__(self, folder: Path, meta: dict[str, Any], net: Any, ref: str) -> None:
        self.folder, self.meta, self.net, self.ref = folder, meta, net, ref

    kind = property(lambda self: str(self.meta["kind"]))
    size = property(lambda self: int(self.meta["size"]))
    channels = property(lambda self: int(self.meta["channels"]))
    classes = property(lambda self: list(self.meta.get("classes") or []))  # [] = unconditional

    @classmethod
    def load(cls, folder: str | Path, ref: str | None = None, device: str = "cpu") -> ImageModel:
        from safetensors.torch import load_file

        folder = Path(folder)
        if not (folder / META).is_file():
            raise NotFound(f"no image model in {folder}", hint="train one with 'genloom image train'")
        meta = json.loads((folder / META).read_text())
        kind, cfg = meta["kind"], meta["config"]
        net: Any
        if kind == "ddpm":
            from diffusers import UNet2DModel

            net = UNet2DModel.from_pretrained(str(folder / "unet"))
        elif kind == "vae":
            net = ConvVAE(meta["size"], meta["channels"], **cfg["vae"])
            net.load_state_dict(load_file(str(folder / "vae.safetensors")))
        elif kind == "gan":
            net = Generator(meta["size"], meta["channels"], **cfg["generator"])
            net.load_state_dict(load_file(str(folder / "generator.safetensors")))
        else:
            raise UserError(f"{folder} holds an image model of unknown kind {kind!r}")
        net.to(device).eval()
        return cls(folder, meta, net, ref or folder.name)

    def generate(
        self,
        n: int = 1,
        seed: int = 0,
        label: int | list[int | None] | None = None,
        steps: int | None = None,
        sampler: str | None = None,
        guidance: float | None = None,
    ) -> Generated:
        """``n`` images; image ``i`` uses seed ``seed + i``. ``label``: one class for all, one per image, or
        None (unconditional)."""
        if not 1 <= n <= MAX_N:
            raise UserError(f"n must be in 1..{MAX_N}, got {n}")
        labels = label if isinstance(label, list) else [label] * n
        if len(labels) != n:
            raise UserError(f"{len(labels)} labels for {n} images")
        if any(x is not None for x in labels) and not self.classes:
            raise UserError(f"{self.ref} is unconditional: it cannot draw a given class",
                            hint="omit the prompt/label, or use a class-conditional ddpm model")  # fmt: skip
        seeds = [seed + i for i in range(n)]
        if self.kind != "ddpm":
            for what, v in (("steps", steps), ("sampler", sampler), ("guidance", guidance)):
                if v is not None:
                    raise UserError(f"{what} applies to diffusion models only; {self.ref} is a {self.kind}",
                                    hint=f"drop {what}")  # fmt: skip
            images = self.net.sample(seeds)
            base: dict[str, Any] = {"steps": None, "sampler": None, "guidance": None}
        else:
            if guidance is not None and not self.classes:
                raise UserError(f"guidance applies to class-conditional models; {self.ref} is unconditional",
                                hint="drop guidance")  # fmt: skip
            sampler = sampler or "ddim"
            if sampler not in SAMPLERS:
                raise UserError(f"unknown sampler {sampler!r}", hint=f"use one of {', '.join(SAMPLERS)}")
            steps = steps or DEFAULT_STEPS[sampler]
            g = (2.0 if self.classes else 1.0) if guidance is None else float(guidance)
            if not 0 <= g <= 20:
                raise UserError(f"guidance must be in [0, 20], got {g}")
            pipe = DiffusionPipeline(self.net, self.meta["config"]["scheduler"], len(self.classes) or None)
            images = pipe(seeds, labels, steps=steps, sampler=sampler, guidance=g)
            base = {"steps": steps, "sampler": sampler, "guidance": g if self.classes else None}
        params = [{"seed": s, "label": lab, "class": None if lab is None else self.classes[lab], **base}
                  for s, lab in zip(seeds, labels, strict=True)]  # fmt: skip
        return Generated(images, params)
