"""Perceptual contrastive loss (SAPNet): pull VGG features of the output toward the clean image, away from the rainy one."""

from __future__ import annotations

from torch import Tensor, nn

from derain_cli.losses.base import LossBatch
from derain_cli.losses.vgg import VGG16Features

PCL_WEIGHTS = {"relu1_2": 1 / 32, "relu2_2": 1 / 16, "relu3_3": 1 / 8, "relu4_3": 1 / 4}


class PerceptualContrastiveLoss(nn.Module):
    """``sum_i w_i * L1(f_i(output), f_i(clean)) / (L1(f_i(output), f_i(rainy)) + eps)``.

    ``f_i`` are the frozen VGG-16 activations (ImageNet-normalised inputs) at relu1_2, relu2_2,
    relu3_3, relu4_3 with weights 1/32, 1/16, 1/8, 1/4. Both L1 distances carry gradient to the output.
    """

    def __init__(self, vgg: VGG16Features, eps: float = 1e-7) -> None:
        super().__init__()
        vgg.require(PCL_WEIGHTS, "the contrastive loss")
        self.vgg = vgg
        self.eps = eps

    def forward(self, batch: LossBatch) -> Tensor:
        anchor, positive, negative = (self.vgg.of(batch, which) for which in ("output", "clean", "rainy"))
        terms = []
        for name, weight in PCL_WEIGHTS.items():
            a = anchor[name].float()
            d_ap = (a - positive[name].float()).abs().mean()
            d_an = (a - negative[name].float()).abs().mean()
            terms.append(weight * d_ap / (d_an + self.eps))
        return sum(terms[1:], terms[0])
