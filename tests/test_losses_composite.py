"""Weighted loss terms: parsing --losses, stage-2 terms switched on by epoch, logged values."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from derain_cli.errors import UsageError
from derain_cli.losses import CompositeLoss, LossBatch, LossTerm, SSIMLoss, parse_losses
from loss_standins import image_batch


def test_parse_losses_takes_the_paper_weights_by_default() -> None:
    assert parse_losses("ssim,pcl,lpips,ubs") == {"ssim": 1.0, "pcl": 0.1, "lpips": 0.1, "ubs": 0.1}
    assert parse_losses(" SSIM , pcl:0.5 ") == {"ssim": 1.0, "pcl": 0.5}


@pytest.mark.parametrize("spec, message", [("ssim,vgg", "unknown loss 'vgg'"), ("pcl:x", "not a number"),
                                           ("ssim:-1", "finite number >= 0"), ("ssim:nan", "finite number >= 0"),
                                           ("pcl:inf", "finite number >= 0")])  # fmt: skip
def test_parse_losses_refuses_bad_specs(spec: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_losses(spec)


class _Constant(nn.Module):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def forward(self, batch: LossBatch) -> torch.Tensor:
        return batch.output.sum() * 0 + self.value


def test_weighted_sum_and_late_terms() -> None:
    composite = CompositeLoss([LossTerm("a", 1.0, _Constant(2.0)), LossTerm("b", 0.5, _Constant(4.0), start_epoch=3)])
    batch = LossBatch(image_batch(0), image_batch(1), image_batch(2))
    total, logged = composite(batch, epoch=0)
    assert total.item() == pytest.approx(2.0) and set(logged) == {"a"}
    total, logged = composite(batch, epoch=3)
    assert total.item() == pytest.approx(4.0) and logged["b"].item() == pytest.approx(4.0)


def test_terms_with_details_log_them() -> None:
    class Detailed(nn.Module):
        def forward(self, batch: LossBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
            return batch.output.mean(), {"part": batch.output.max()}

    total, logged = CompositeLoss([LossTerm("ssim", 1.0, SSIMLoss()), LossTerm("x", 2.0, Detailed())])(
        LossBatch(image_batch(3), image_batch(4), image_batch(5))
    )
    assert set(logged) == {"ssim", "x", "part"}
    assert total.item() == pytest.approx(logged["ssim"].item() + 2 * logged["x"].item(), rel=1e-6)
