"""Pixel losses: mean absolute error, which (unlike SSIM) holds the output's colour and brightness to the target;
its split into detail (image gradients, which flattened texture loses) and tone (the coarse, pooled image, which a
darkened or veiled output shifts), so each can be weighted on its own (issue 25)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from derain_cli.losses.base import LossBatch


class L1Loss(nn.Module):
    """``mean |output - clean|`` over the batch, computed in float32."""

    def forward(self, batch: LossBatch) -> Tensor:
        return (batch.output.float() - batch.clean.float()).abs().mean()


class GradientLoss(nn.Module):
    """``mean |d output - d clean|`` over horizontal and vertical differences: texture kept, not flattened."""

    def forward(self, batch: LossBatch) -> Tensor:
        output, clean = batch.output.float(), batch.clean.float()
        dx = (output.diff(dim=3) - clean.diff(dim=3)).abs().mean()
        dy = (output.diff(dim=2) - clean.diff(dim=2)).abs().mean()
        return dx + dy


class ToneLoss(nn.Module):
    """``mean |pool(output) - pool(clean)|`` over ``cell`` x ``cell`` averages: no global or slow tone shift."""

    def __init__(self, cell: int = 16) -> None:
        super().__init__()
        self.cell = cell

    def forward(self, batch: LossBatch) -> Tensor:
        cell = min(self.cell, *batch.output.shape[2:])
        return (F.avg_pool2d(batch.output.float(), cell) - F.avg_pool2d(batch.clean.float(), cell)).abs().mean()
