"""A DCGAN (Radford et al.) with the usual stabilisers.

Generator: a linear map of ``z`` to 4x4 features, then transposed-convolution upsampling with BatchNorm and
ReLU, tanh output. Discriminator: strided convolutions with LeakyReLU and *spectral normalisation* on every
layer (Miyato et al.), no BatchNorm, no pooling. Training (see trainers.py): the non-saturating loss, one-sided
label smoothing (real = 0.9), Adam with beta1 = 0.5 and lr 2e-4, and a fixed-z sample grid to watch it.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def _levels(size: int) -> int:
    return int(math.log2(size)) - 2


class Generator(nn.Module):
    def __init__(self, size: int, channels: int, z_dim: int = 64, width: int = 64) -> None:
        super().__init__()
        self.size, self.channels, self.z_dim = size, channels, z_dim
        n = _levels(size)
        c = width * 2**n
        self._c = c
        self.project = nn.Sequential(nn.Linear(z_dim, c * 16, bias=False), nn.BatchNorm1d(c * 16), nn.ReLU())
        up: list[nn.Module] = []
        for _ in range(n):
            up += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(c // 2), nn.ReLU()]
            c //= 2
        self.net = nn.Sequential(*up, nn.Conv2d(c, channels, 3, padding=1), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self.project(z).view(-1, self._c, 4, 4))

    def noise(self, seeds: list[int]) -> torch.Tensor:
        return torch.stack(
            [torch.randn(self.z_dim, generator=torch.Generator().manual_seed(s)) for s in seeds]
        )

    @torch.no_grad()
    def sample(self, seeds: list[int]) -> torch.Tensor:
        dev = next(self.parameters()).device
        return self(self.noise(seeds).to(dev)).cpu()


class Discriminator(nn.Module):
    def __init__(self, size: int, channels: int, width: int = 64) -> None:
        super().__init__()
        n = _levels(size)
        layers: list[nn.Module] = [spectral_norm(nn.Conv2d(channels, width, 3, padding=1)), nn.LeakyReLU(0.2)]
        c = width
        for _ in range(n):
            layers += [spectral_norm(nn.Conv2d(c, c * 2, 4, 2, 1)), nn.LeakyReLU(0.2)]
            c *= 2
        self.net = nn.Sequential(*layers, nn.Flatten(), spectral_norm(nn.Linear(c * 16, 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)
