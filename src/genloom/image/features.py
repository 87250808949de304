"""The feature network for FID / IS / precision-recall: a small CNN classifier trained on the data set's own
training split, because Inception-v3 weights cannot be downloaded here (the MNIST-FID practice: a domain
classifier's penultimate layer as the feature space, its softmax as p(y|x)).

    net, info = feature_net(train, held_out, settings)    # trained once per data set + seed, then cached
    feats, probs = net.embed(images)                      # 128-d features, class probabilities

Scores computed with it compare models on the same data set only; they are not comparable to
Inception-based FIDs in papers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from genloom.errors import UserError
from genloom.image.data import ImageData

FEATURES = 128


class FeatureNet(nn.Module):
    def __init__(self, size: int, channels: int, classes: int) -> None:
        super().__init__()
        self.size, self.channels, self.classes = size, channels, classes
        layers: list[nn.Module] = [nn.Conv2d(channels, 32, 3, padding=1), nn.ReLU(),
                                   nn.Conv2d(32, 64, 3, padding=1), nn.ReLU()]  # fmt: skip
        s = size
        while s > 4:  # pool down to 4x4
            layers.append(nn.MaxPool2d(2))
            s //= 2
        self.body = nn.Sequential(*layers, nn.Flatten(), nn.Dropout(0.25), nn.Linear(64 * s * s, FEATURES),
                                  nn.ReLU())  # fmt: skip
        self.head = nn.Linear(FEATURES, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))

    @torch.no_grad()
    def embed(self, images: torch.Tensor, batch: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
        """(features N x 128, class probabilities N x K) of images in [-1, 1]."""
        self.eval()
        feats, probs = [], []
        for i in range(0, len(images), batch):
            f = self.body(images[i : i + batch].float())
            feats.append(f)
            probs.append(F.softmax(self.head(f), dim=1))
        return torch.cat(feats), torch.cat(probs)


def train_feature_net(train: ImageData, held_out: ImageData, epochs: int = 12, seed: int = 0
                      ) -> tuple[FeatureNet, dict[str, Any]]:  # fmt: skip
    if train.labels is None or held_out.labels is None:
        raise UserError("evaluation needs labelled data: its feature network is a classifier of the classes",
                        hint="use --data digits or a folder with one sub-folder per class")  # fmt: skip
    torch.manual_seed(seed)
    net = FeatureNet(train.size, train.channels, len(train.classes))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(seed)
    x, y = train.images, train.labels
    for _ in range(epochs):
        net.train()
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), 64):
            idx = perm[i : i + 64]
            xb = x[idx]
            shift = torch.randint(-1, 2, (2,), generator=g).tolist()  # small translations: augment
            xb = torch.roll(xb, shifts=(shift[0], shift[1]), dims=(2, 3))
            loss = F.cross_entropy(net(xb), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    _, p = net.embed(held_out.images)
    acc = (p.argmax(1) == held_out.labels).float().mean().item()
    return net, {"held_out_accuracy": round(acc, 4), "epochs": epochs, "seed": seed, "features": FEATURES}


def feature_net(train: ImageData, held_out: ImageData, cache_dir: Path | None, data_hash: str, seed: int = 0
                ) -> tuple[FeatureNet, dict[str, Any]]:  # fmt: skip
    """The cached feature network for this data set and split, trained (seconds on CPU) when missing."""
    from safetensors.torch import load_file, save_file

    key = f"{data_hash[:16]}-s{seed}-n{len(train)}"
    if cache_dir is not None and (cache_dir / f"{key}.json").is_file():
        info = json.loads((cache_dir / f"{key}.json").read_text())
        net = FeatureNet(train.size, train.channels, len(train.classes))
        net.load_state_dict(load_file(str(cache_dir / f"{key}.safetensors")))
        return net, {**info, "cached": True}
    net, info = train_feature_net(train, held_out, seed=seed)
    if cache_dir is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        save_file(
            {k: v.contiguous() for k, v in net.state_dict().items()}, str(cache_dir / f"{key}.safetensors")
        )
        (cache_dir / f"{key}.json").write_text(json.dumps(info))
    return net, {**info, "cached": False}
