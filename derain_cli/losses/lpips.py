"""Differentiable LPIPS (VGG variant, v0.1): the learned perceptual distance of Zhang et al. 2018."""

from __future__ import annotations

import os
import re

import torch.nn.functional as F
from torch import Tensor, nn

from derain_cli.losses.base import FrozenNet, LossBatch, load_mapped
from derain_cli.losses.vgg import VGG16Features

LPIPS_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")
LPIPS_CHANNELS = (64, 128, 256, 512, 512)
_PUBLISHED_KEY = re.compile(r"lin(\d)\.model\.\d\.weight")


class LPIPSLinear(FrozenNet):
    """The learned non-negative 1 x 1 channel weights (one per VGG layer) of LPIPS."""

    def __init__(self) -> None:
        super().__init__()
        self.lins = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in LPIPS_CHANNELS)
        for lin in self.lins:
            nn.init.ones_(lin.weight)
        self.freeze()

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> LPIPSLinear:
        """The published weights (``lin{k}.model.1.weight``, as in the ``lpips`` package's ``v0.1/vgg.pth``)."""
        return load_mapped(cls.empty(), path, lambda key: _PUBLISHED_KEY.sub(r"lins.\1.weight", key)).freeze()


def _unit(x: Tensor, eps: float = 1e-10) -> Tensor:
    return x / (x.pow(2).sum(dim=1, keepdim=True).sqrt() + eps)


class LPIPSLoss(nn.Module):
    """Mean over the batch of LPIPS(output, clean), with gradient to the output.

    Per layer: unit-normalise the VGG activations over channels, square the difference, weight the
    channels with the learned linear layer, average over pixels; sum over the five layers.
    LPIPS's input scaling ((2x - 1 - shift) / scale) is exactly ImageNet normalisation of x in [0, 1],
    which the shared VGG extractor applies.
    """

    def __init__(self, vgg: VGG16Features, linear: LPIPSLinear) -> None:
        super().__init__()
        vgg.require(LPIPS_LAYERS, "LPIPS")
        self.vgg = vgg
        self.linear = linear

    def distance(self, a: dict[str, Tensor], b: dict[str, Tensor]) -> Tensor:
        """Per-image LPIPS between two sets of VGG activations."""
        terms = []
        for name, lin in zip(LPIPS_LAYERS, self.linear.lins):
            diff = (_unit(a[name].float()) - _unit(b[name].float())).pow(2)
            terms.append(F.conv2d(diff, lin.weight.float()).mean(dim=(1, 2, 3)))
        return sum(terms[1:], terms[0])

    def forward(self, batch: LossBatch) -> Tensor:
        return self.distance(self.vgg.of(batch, "output"), self.vgg.of(batch, "clean")).mean()

