"""Distribution metrics over feature vectors (numpy / torch, no network weights).

* FID (Heusel et al. 2017): the Fréchet distance between Gaussians fitted to two feature sets,
  ``|mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))``, with ``scipy.linalg.sqrtm``. Biased upwards for small
  sets: compare numbers computed with the same n.
* IS (Salimans et al. 2016): ``exp(E_x KL(p(y|x) || p(y)))``; 1 = no class information, K = K confident,
  balanced classes.
* Precision / recall (Kynkäänniemi et al. 2019): each set's manifold is the union of balls around its points
  with radius the distance to the k-th nearest neighbour; precision = the share of generated points inside
  the real manifold (quality), recall = the share of real points inside the generated manifold (coverage).
* Nearest-neighbour distances in pixel space, for the memorisation check.
"""

from __future__ import annotations

import numpy as np
import torch


def fid(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> float:
    import warnings

    from scipy import linalg

    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    with warnings.catch_warnings():  # a singular product (dead ReLU features) is handled below
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(s1 @ s2)
        if not np.isfinite(covmean).all():  # nudge the diagonals, as the reference implementation does
            eps = np.eye(s1.shape[0]) * 1e-6
            covmean = linalg.sqrtm((s1 + eps) @ (s2 + eps))
    covmean = np.real(covmean)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def inception_score(probs: np.ndarray | torch.Tensor, eps: float = 1e-12) -> float:
    p = np.asarray(probs, dtype=np.float64)
    py = p.mean(0, keepdims=True)
    kl = (p * (np.log(p + eps) - np.log(py + eps))).sum(1)
    return float(np.exp(kl.mean()))


def _kth_radius(x: torch.Tensor, k: int) -> torch.Tensor:
    d = torch.cdist(x, x)
    return d.kthvalue(k + 1, dim=1).values  # +1: the point itself is at distance 0


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3) -> tuple[float, float]:
    real, fake = real.double(), fake.double()
    r_real, r_fake = _kth_radius(real, k), _kth_radius(fake, k)
    d = torch.cdist(fake, real)  # fake x real
    precision = (d <= r_real[None, :]).any(1).double().mean().item()
    recall = (r_fake[None, :] >= d.T).any(1).double().mean().item()
    return precision, recall


def nn_distances(query: torch.Tensor, ref: torch.Tensor, batch: int = 1024) -> torch.Tensor:
    """Each query image's L2 distance (pixels, [-1, 1] scale) to its nearest image in ``ref``."""
    q, r = query.flatten(1).double(), ref.flatten(1).double()
    return torch.cat([torch.cdist(q[i : i + batch], r).min(1).values for i in range(0, len(q), batch)])
