"""One training step per model kind, behind one small interface the training loop drives.

    t = make_trainer("ddpm", data_meta, options, device)
    logs = t.step(x, y)                    # one optimiser step on a batch; {"loss": ...}
    t.preview(seeds, labels)               # images for the per-epoch grid
    t.modules / t.optimizers               # what a checkpoint saves
    t.model_config()                       # what the exported model folder records

The same code runs on a GPU: the batches and modules live on ``device``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from genloom.errors import UserError
from genloom.image.gan import Discriminator, Generator
from genloom.image.pipeline import DiffusionPipeline
from genloom.image.schedulers import make_scheduler, scheduler_config
from genloom.image.unet import build_unet, unet_config
from genloom.image.vae import ConvVAE

KINDS = ("ddpm", "vae", "gan")
DEFAULT_LR = {"ddpm": 1e-3, "vae": 2e-3, "gan": 2e-4}


class Trainer:
    kind = ""
    conditional = False

    def __init__(self, size: int, channels: int, num_classes: int, opts: dict[str, Any], device: str) -> None:
        self.size, self.channels, self.num_classes = size, channels, num_classes
        self.opts, self.device = opts, torch.device(device)
        self.lr = float(opts.get("lr") or DEFAULT_LR[self.kind])
        self.modules: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}

    def step(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, float]:
        raise NotImplementedError

    def preview(self, seeds: list[int], labels: list[int | None] | None) -> torch.Tensor:
        raise NotImplementedError

    def model_config(self) -> dict[str, Any]:
        raise NotImplementedError


class DDPMTrainer(Trainer):
    """Noise prediction (epsilon) with the MSE loss; labels are dropped to the null class with probability
    ``p_uncond`` so the same network also learns the unconditional model guidance needs."""

    kind = "ddpm"

    def __init__(self, size: int, channels: int, num_classes: int, opts: dict[str, Any], device: str) -> None:
        super().__init__(size, channels, num_classes, opts, device)
        self.conditional = bool(num_classes) and not opts.get("unconditional")
        self.unet_cfg = unet_config(size, channels, num_classes if self.conditional else None,
                                    int(opts.get("width") or 32))  # fmt: skip
        self.sched_cfg = scheduler_config(int(opts.get("timesteps") or 1000))
        self.unet = build_unet(self.unet_cfg).to(self.device)
        self.noise = make_scheduler("ddpm", self.sched_cfg)
        self.p_uncond = float(opts.get("p_uncond", 0.1))
        self.modules = {"unet": self.unet}
        self.optimizers = {"opt": torch.optim.AdamW(self.unet.parameters(), lr=self.lr)}

    def step(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, float]:
        self.unet.train()
        b = x.shape[0]
        noise = torch.randn_like(x)
        t = torch.randint(0, self.noise.config.num_train_timesteps, (b,), device=x.device)
        noisy = self.noise.add_noise(x, noise, t)
        cls = None
        if self.conditional and y is not None:
            drop = torch.rand(b, device=x.device) < self.p_uncond
            cls = torch.where(drop, torch.full_like(y, self.num_classes), y)
        loss = F.mse_loss(self.unet(noisy, t, class_labels=cls).sample, noise)
        opt = self.optimizers["opt"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.unet.parameters(), 1.0)
        opt.step()
        return {"loss": loss.item()}

    def preview(self, seeds: list[int], labels: list[int | None] | None) -> torch.Tensor:
        self.unet.eval()
        pipe = DiffusionPipeline(self.unet, self.sched_cfg, self.num_classes if self.conditional else None)
        return pipe(seeds, labels if self.conditional else None, steps=20, sampler="ddim", guidance=2.0)

    def model_config(self) -> dict[str, Any]:
        return {"unet": self.unet_cfg, "scheduler": self.sched_cfg, "p_uncond": self.p_uncond}


class VAETrainer(Trainer):
    kind = "vae"

    def __init__(self, size: int, channels: int, num_classes: int, opts: dict[str, Any], device: str) -> None:
        super().__init__(size, channels, num_classes, opts, device)
        self.cfg = {"latent": int(opts.get("latent") or 16), "width": int(opts.get("width") or 32)}
        self.beta = float(opts.get("beta", 1.0))
        self.vae = ConvVAE(size, channels, **self.cfg).to(self.device)
        self.modules = {"vae": self.vae}
        self.optimizers = {"opt": torch.optim.Adam(self.vae.parameters(), lr=self.lr)}

    def step(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, float]:
        self.vae.train()
        loss, logs = self.vae.loss(x, self.beta)
        opt = self.optimizers["opt"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return logs

    def preview(self, seeds: list[int], labels: list[int | None] | None) -> torch.Tensor:
        self.vae.eval()
        return self.vae.sample(seeds)

    def model_config(self) -> dict[str, Any]:
        return {"vae": self.cfg, "beta": self.beta}


class GANTrainer(Trainer):
    kind = "gan"

    def __init__(self, size: int, channels: int, num_classes: int, opts: dict[str, Any], device: str) -> None:
        super().__init__(size, channels, num_classes, opts, device)
        width = int(opts.get("width") or 32)
        self.cfg = {"z_dim": int(opts.get("z_dim") or 64), "width": width}
        self.smooth = float(opts.get("label_smoothing", 0.9))
        self.g = Generator(size, channels, **self.cfg).to(self.device)
        self.d = Discriminator(size, channels, width).to(self.device)
        self.modules = {"generator": self.g, "discriminator": self.d}
        betas = (0.5, 0.999)
        self.optimizers = {"g": torch.optim.Adam(self.g.parameters(), lr=self.lr, betas=betas),
                           "d": torch.optim.Adam(self.d.parameters(), lr=self.lr, betas=betas)}  # fmt: skip

    def step(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, float]:
        self.g.train()
        self.d.train()
        b = x.shape[0]
        z = torch.randn(b, self.g.z_dim, device=x.device)
        fake = self.g(z)
        real_logits, fake_logits = self.d(x), self.d(fake.detach())
        d_loss = F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, self.smooth)) + \
            F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))  # fmt: skip
        self.optimizers["d"].zero_grad(set_to_none=True)
        d_loss.backward()
        self.optimizers["d"].step()
        gen_logits = self.d(fake)  # non-saturating: G maximises log D(G(z))
        g_loss = F.binary_cross_entropy_with_logits(gen_logits, torch.ones_like(gen_logits))
        self.optimizers["g"].zero_grad(set_to_none=True)
        g_loss.backward()
        self.optimizers["g"].step()
        return {"loss": g_loss.item() + d_loss.item(), "g_loss": g_loss.item(), "d_loss": d_loss.item(),
                "d_real": torch.sigmoid(real_logits).mean().item()}  # fmt: skip

    def preview(self, seeds: list[int], labels: list[int | None] | None) -> torch.Tensor:
        self.g.eval()
        return self.g.sample(seeds)

    def model_config(self) -> dict[str, Any]:
        return {"generator": self.cfg, "label_smoothing": self.smooth}


def make_trainer(kind: str, size: int, channels: int, num_classes: int, opts: dict[str, Any],
                 device: str = "cpu") -> Trainer:  # fmt: skip
    classes: dict[str, type[Trainer]] = {"ddpm": DDPMTrainer, "vae": VAETrainer, "gan": GANTrainer}
    if kind not in classes:
        raise UserError(f"unknown image model kind {kind!r}", hint=f"use one of {', '.join(KINDS)}")
    if size < 8:
        raise UserError(f"images must be at least 8x8, got {size}")
    return classes[kind](size, channels, num_classes, opts, device)
