"""The online update's rain-layer prior: KL(real rain || synthetic rain) of position-free histograms.

A rain layer is rainy minus derained: ``rainy - model(rainy)`` for a real patch, ``rainy - clean`` for a
patch of a random pair of the ``--synthetic`` set. For every sample and colour channel the layer's values
(clamped to [-1, 1]) become a distribution over ``BINS`` evenly spaced bins by linear binning (each value
splits its unit mass between the two nearest bin centres, so the histogram is differentiable in the
values); both histograms get ``EPS`` added and are renormalised. The term is ``sum_k P_k log(P_k / Q_k)``
with P the real and Q the synthetic histogram, averaged over samples and channels: non-negative, zero
only for equal histograms, and independent of the patch size.

The reference code (supersupercong/Online-updated-High-order-Collaborative-Networks..., real_train.py)
applies ``nn.KLDivLoss`` element-wise to the raw rain layers (not distributions; pixels matched by
position between unrelated images) and sums over the patch; we use the position-free definition above.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from derain_cli.train.data import PairedPatches, load_pairs

BINS = 101  # histogram bins over rain-layer values in [-1, 1] (width 0.02)
EPS = 1e-6


def soft_histogram(values: Tensor, bins: int = BINS) -> Tensor:
    """Rows of values (N x M) -> N x ``bins`` distributions over [-1, 1] by linear binning (differentiable)."""
    position = (values.clamp(-1, 1) + 1) * ((bins - 1) / 2)
    lower = position.detach().floor().clamp(max=bins - 2)
    upper_share = position - lower
    index = lower.long()
    hist = values.new_zeros(values.shape[0], bins)
    hist = hist.scatter_add(1, index, 1 - upper_share).scatter_add(1, index + 1, upper_share)
    return hist / values.shape[1]


def rain_kl(real_rain: Tensor, synthetic_rain: Tensor) -> Tensor:
    """KL(real || synthetic) of per-sample, per-channel rain-layer histograms (N x 3 x H x W each), averaged."""
    p, q = (soft_histogram(layer.flatten(2).flatten(0, 1)) + EPS for layer in (real_rain, synthetic_rain))
    p, q = p / p.sum(1, keepdim=True), q / q.sum(1, keepdim=True)
    return (p * (p.log() - q.log())).sum(1).mean()


class SyntheticRain:
    """Rain layers (rainy - clean) of random patches of a paired synthetic set."""

    def __init__(self, root: str | Path, patch: int, seed: int = 0) -> None:
        self.root = Path(root)
        self.seed = seed
        self.patches = PairedPatches(load_pairs(self.root, patch), patch, seed)

    def sample(self, count: int, step: int) -> Tensor:
        """``count`` rain layers, N x 3 x patch x patch; a pure function of (seed, step)."""
        rng = np.random.default_rng([self.seed, step, 1])
        layers = [rainy - clean for rainy, clean in (self.patches[(int(i), step)] for i in rng.integers(len(self.patches), size=count))]
        return torch.stack(layers)
