"""Pixel losses: mean absolute error, which (unlike SSIM) holds the output's colour and brightness to the target."""

from __future__ import annotations

from torch import Tensor, nn

from derain_cli.losses.base import LossBatch


class L1Loss(nn.Module):
    """``mean |output - clean|`` over the batch, computed in float32."""

    def forward(self, batch: LossBatch) -> Tensor:
        return (batch.output.float() - batch.clean.float()).abs().mean()
