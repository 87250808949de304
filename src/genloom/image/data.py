"""Image data sets: scikit-learn's 8x8 digits (inside the sklearn wheel) or any folder of images.

Every set is a float tensor ``N x C x H x W`` in [-1, 1] plus optional integer labels and their class names:

    data = load_data("digits")                       # 1,797 grayscale 8x8 digits, classes "0".."9"
    data = load_data("~/pics", size=32, channels=3)  # labels from sub-folder names, if there are sub-folders
    train, held_out = data.split(0.2, seed=0)

A folder is either flat (unlabelled) or holds one sub-folder per class with the images inside; images are
centre-cropped to a square and resized. Files that are not images (by extension) are counted in ``skipped``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from genloom.errors import MissingDependency, NotFound, UserError

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
SIZES = (8, 16, 32, 64, 128)


@dataclass
class ImageData:
    images: torch.Tensor  # N x C x H x W, float32 in [-1, 1]
    labels: torch.Tensor | None  # N, int64; None when unlabelled
    classes: list[str]
    source: str  # "digits" or the folder's absolute path
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def channels(self) -> int:
        return int(self.images.shape[1])

    @property
    def size(self) -> int:
        return int(self.images.shape[-1])

    @property
    def labelled(self) -> bool:
        return self.labels is not None

    def data_hash(self) -> str:
        """sha256 of the pixels (as 8-bit) and labels: the same data gives the same hash on any machine."""
        h = hashlib.sha256(f"{tuple(self.images.shape)}|{self.classes}".encode())
        h.update(to_uint8(self.images).tobytes())
        if self.labels is not None:
            h.update(self.labels.numpy().astype("<i8").tobytes())
        return h.hexdigest()

    def split(self, held_out: float = 0.2, seed: int = 0) -> tuple[ImageData, ImageData]:
        """A seeded random (train, held-out) split."""
        if not 0 < held_out < 1:
            raise UserError(f"held_out must be in (0, 1), got {held_out}")
        n = len(self)
        k = max(1, round(n * held_out))
        if n - k < 1:
            raise UserError(f"{n} images are too few to split", hint="add images to the data set")
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        return self.subset(perm[k:]), self.subset(perm[:k])

    def subset(self, index: torch.Tensor) -> ImageData:
        labels = None if self.labels is None else self.labels[index]
        return replace(self, images=self.images[index], labels=labels)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[-1, 1] floats -> uint8 ``N x H x W x C``."""
    x = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()


def _resize(images: torch.Tensor, size: int) -> torch.Tensor:
    if images.shape[-1] == size:
        return images
    out = torch.nn.functional.interpolate(images, size=(size, size), mode="bilinear", antialias=True)
    return out.clamp(-1, 1)


def _check_size(size: int) -> None:
    if size not in SIZES:
        raise UserError(
            f"image size {size} is not supported", hint=f"use one of {', '.join(map(str, SIZES))}"
        )


def load_digits_data(size: int | None = None) -> ImageData:
    """scikit-learn's 1,797 handwritten digits, 8x8, 17 grey levels (UCI optdigits test set)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise MissingDependency("scikit-learn", "image") from None
    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0 * 2 - 1
    if size is not None:
        _check_size(size)
        x = _resize(x, size)
    return ImageData(x, torch.tensor(d.target, dtype=torch.int64), [str(i) for i in range(10)], "digits")


def _read(path: Path, size: int, channels: int) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as f:
            im = f.convert("L" if channels == 1 else "RGB")
            w, h = im.size
            s = min(w, h)
            im = im.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
            im = im.resize((size, size), Image.Resampling.LANCZOS)
            a = np.asarray(im, dtype=np.float32)
    except (UnidentifiedImageError, OSError) as e:
        raise UserError(f"cannot read image {path}: {e}", hint="remove or fix the file") from None
    return a[None] if channels == 1 else a.transpose(2, 0, 1)


def load_folder(path: str | Path, size: int = 32, channels: int = 1) -> ImageData:
    """Images under ``path``: flat (unlabelled) or one sub-folder per class."""
    _check_size(size)
    if channels not in (1, 3):
        raise UserError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels}")
    root = Path(path).expanduser().resolve()
    if not root.is_dir():
        raise NotFound(f"no image folder at {root}", hint="pass 'digits' or a folder of images")
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    top = sorted(p for p in root.iterdir() if p.is_file() and not p.name.startswith("."))
    top_images = [p for p in top if p.suffix.lower() in IMAGE_EXTS]
    if subdirs and top_images:
        raise UserError(
            f"{root} holds images both at the top and in sub-folders",
            hint="put every image in a class sub-folder (labelled) or all at the top (unlabelled)",
        )
    groups = [(d.name, sorted(f for f in d.rglob("*") if f.is_file())) for d in subdirs] if subdirs else [
        ("", top)]  # fmt: skip
    arrays, labels, classes, skipped = [], [], [], []
    for name, files in groups:
        imgs = [f for f in files if f.suffix.lower() in IMAGE_EXTS and not f.name.startswith(".")]
        skipped += [str(f) for f in files if f not in imgs]
        if not imgs:
            continue
        classes.append(name)
        for f in imgs:
            arrays.append(_read(f, size, channels))
            labels.append(len(classes) - 1)
    if not arrays:
        raise UserError(
            f"no images found in {root}", hint=f"image files end in {', '.join(sorted(IMAGE_EXTS))}"
        )
    x = torch.tensor(np.stack(arrays)) / 255.0 * 2 - 1
    if not subdirs:
        return ImageData(x, None, [], str(root), skipped)
    return ImageData(x, torch.tensor(labels, dtype=torch.int64), classes, str(root), skipped)


def load_data(spec: str, size: int | None = None, channels: int | None = None) -> ImageData:
    """``digits`` (optionally resized) or a folder path (default 32x32 grayscale)."""
    if spec == "digits":
        if channels not in (None, 1):
            raise UserError("the digits are grayscale", hint="drop --rgb for --data digits")
        return load_digits_data(size)
    return load_folder(spec, size or 32, channels or 1)
