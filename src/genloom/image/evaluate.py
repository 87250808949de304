"""Evaluating an image model against its data set, with baselines measured in the same run.

    report = Evaluator.for_model(model, settings).report(model, n=360, seed=0)

Reference set: the training split (what the model saw). Every set scored has ``n`` images, so the finite-n
bias of FID is the same for all:

* ``train``  n training images: the floor (a perfect copy of the training distribution scores this)
* ``held_out`` n held-out images: what new real images score
* ``noise`` n Gaussian-noise images: the ceiling
* the model's n samples (class-conditional models: classes round-robin, so accuracy is per class)

Memorisation: each sample's pixel distance to its nearest training image, against the same for held-out
images; ``copy_rate`` is the share of samples closer to a training image than 95 % of held-out images are
(about 0.05 for a model that does not copy, near 1 for one that replays its training set).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from genloom.image.artifact import ImageModel
from genloom.image.data import ImageData, load_data
from genloom.image.features import FeatureNet, feature_net
from genloom.image.metrics import fid, inception_score, nn_distances, precision_recall


@dataclass
class Evaluator:
    train: ImageData
    held_out: ImageData
    net: FeatureNet
    net_info: dict[str, Any]

    @classmethod
    def for_data(
        cls, data: ImageData, held_out: float = 0.2, seed: int = 0, settings: Any = None
    ) -> Evaluator:
        from genloom.settings import get_settings

        s = settings or get_settings()
        train, held = data.split(held_out, seed)
        net, info = feature_net(train, held, s.ensure_home() / "images" / "featnets", data.data_hash(), seed)
        return cls(train, held, net, info)

    @classmethod
    def for_model(cls, model: ImageModel, settings: Any = None) -> Evaluator:
        d = model.meta["data"]
        data = load_data(d["spec"], d.get("size"), d.get("channels"))
        return cls.for_data(data, d["held_out"], d["split_seed"], settings)

    def _ref(self) -> tuple[torch.Tensor, torch.Tensor]:
        if not hasattr(self, "_ref_cache"):
            self._ref_cache = self.net.embed(self.train.images)
        return self._ref_cache

    def score(self, images: torch.Tensor, labels: list[int] | None = None, k: int = 3) -> dict[str, Any]:
        ref_f, _ = self._ref()
        f, p = self.net.embed(images)
        prec, rec = precision_recall(ref_f, f, k)
        out: dict[str, Any] = {"n": len(images), "fid": round(fid(ref_f.numpy(), f.numpy()), 3),
                               "is": round(inception_score(p.numpy()), 3),
                               "precision": round(prec, 4), "recall": round(rec, 4)}  # fmt: skip
        if labels is not None:
            y = torch.tensor(labels)
            hit = p.argmax(1) == y
            out["accuracy"] = round(hit.float().mean().item(), 4)
            out["per_class_accuracy"] = {
                self.train.classes[c]: round(hit[y == c].float().mean().item(), 3)
                for c in sorted(set(labels))
            }
        return out

    def memorisation(self, images: torch.Tensor) -> dict[str, float]:
        d_gen = nn_distances(images, self.train.images)
        d_held = nn_distances(self.held_out.images, self.train.images)
        threshold = torch.quantile(d_held, 0.05)
        return {"nn_median_samples": round(d_gen.median().item(), 4),
                "nn_median_held_out": round(d_held.median().item(), 4),
                "nn_ratio": round((d_gen.median() / d_held.median()).item(), 4),
                "copy_rate": round((d_gen < threshold).double().mean().item(), 4)}  # fmt: skip

    def baselines(self, n: int, seed: int = 0) -> dict[str, dict[str, Any]]:
        g = torch.Generator().manual_seed(seed)
        n = min(n, len(self.held_out), len(self.train))
        tr = torch.randperm(len(self.train), generator=g)[:n]
        ho = torch.randperm(len(self.held_out), generator=g)[:n]
        noise = torch.randn((n, *self.train.images.shape[1:]), generator=g).clamp(-1, 1)
        assert self.train.labels is not None and self.held_out.labels is not None
        out = {"train": self.score(self.train.images[tr], self.train.labels[tr].tolist()),
               "held_out": self.score(self.held_out.images[ho], self.held_out.labels[ho].tolist()),
               "noise": self.score(noise)}  # fmt: skip
        out["held_out"].update(self.memorisation(self.held_out.images[ho]))
        out["train"].update(self.memorisation(self.train.images[tr]))
        return out

    def labels_for(self, model: ImageModel, n: int) -> list[int] | None:
        return [i % len(model.classes) for i in range(n)] if model.classes else None

    def report(self, model: ImageModel, n: int = 360, seed: int = 0, **gen: Any) -> dict[str, Any]:
        """Sample n images from the model (seeds seed..seed+n-1) and score them."""
        n = min(n, len(self.held_out))
        labels = self.labels_for(model, n)
        images = generate_all(model, n, seed, labels, **gen)
        out = self.score(images, labels)
        out.update(self.memorisation(images))
        return out


def generate_all(model: ImageModel, n: int, seed: int, labels: list[int] | None, batch: int = 64,
                 **gen: Any) -> torch.Tensor:  # fmt: skip
    parts = []
    for i in range(0, n, batch):
        m = min(batch, n - i)
        lab: list[int | None] | None = None if labels is None else list(labels[i : i + m])
        parts.append(model.generate(m, seed + i, lab, **gen).images)
    return torch.cat(parts)
