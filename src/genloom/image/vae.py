"""A convolutional variational autoencoder (Kingma & Welling): reconstruct, sample, interpolate.

The encoder halves the resolution with strided convolutions down to 4x4 and outputs a Gaussian posterior
(mean, log-variance) over a ``latent``-dimensional code; the decoder mirrors it with transposed convolutions
and outputs per-pixel Bernoulli logits (the pixel intensities in [0, 1] are the targets, as for MNIST).
Loss: the negative ELBO per image = reconstruction cross-entropy + beta * KL(q(z|x) || N(0, I)).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def _levels(size: int) -> int:
    return int(math.log2(size)) - 2  # halvings down to 4x4


class ConvVAE(nn.Module):
    def __init__(self, size: int, channels: int, latent: int = 16, width: int = 32) -> None:
        super().__init__()
        self.size, self.channels, self.latent = size, channels, latent
        n = _levels(size)
        enc: list[nn.Module] = [nn.Conv2d(channels, width, 3, padding=1), nn.SiLU()]
        c = width
        for _ in range(n):
            enc += [nn.Conv2d(c, c * 2, 4, stride=2, padding=1), nn.GroupNorm(8, c * 2), nn.SiLU()]
            c *= 2
        self.encoder = nn.Sequential(*enc, nn.Flatten())
        self.to_stats = nn.Linear(c * 16, 2 * latent)
        self.from_z = nn.Linear(latent, c * 16)
        self._c = c
        dec: list[nn.Module] = []
        for _ in range(n):
            dec += [nn.ConvTranspose2d(c, c // 2, 4, stride=2, padding=1), nn.GroupNorm(8, c // 2), nn.SiLU()]
            c //= 2
        self.decoder = nn.Sequential(*dec, nn.Conv2d(c, channels, 3, padding=1))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.to_stats(self.encoder(x)).chunk(2, dim=1)
        return mu, logvar.clamp(-10, 10)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        h = F.silu(self.from_z(z)).view(-1, self._c, 4, 4)
        return self.decoder(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latent codes -> images in [-1, 1] (the Bernoulli means)."""
        return torch.sigmoid(self.decode_logits(z)) * 2 - 1

    def loss(self, x: torch.Tensor, beta: float = 1.0) -> tuple[torch.Tensor, dict[str, float]]:
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        target = (x + 1) / 2
        rec = F.binary_cross_entropy_with_logits(self.decode_logits(z), target, reduction="none")
        rec = rec.flatten(1).sum(1).mean()
        kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)).mean()
        total = rec + beta * kl
        return total, {"loss": total.item(), "recon": rec.item(), "kl": kl.item()}

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x)[0])

    @torch.no_grad()
    def sample(self, seeds: list[int]) -> torch.Tensor:
        dev = next(self.parameters()).device
        z = torch.stack([torch.randn(self.latent, generator=torch.Generator().manual_seed(s)) for s in seeds])
        return self.decode(z.to(dev)).cpu()

    @torch.no_grad()
    def interpolate(self, a: torch.Tensor, b: torch.Tensor, steps: int = 8) -> torch.Tensor:
        """Images along the straight line between the posterior means of images ``a`` and ``b`` (C x H x W)."""
        mu = self.encode(torch.stack([a, b]))[0]
        w = torch.linspace(0, 1, steps, device=mu.device)[:, None]
        return self.decode((1 - w) * mu[0] + w * mu[1]).cpu()
