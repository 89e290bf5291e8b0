"""HCN's training loss (derain_cli.losses.hcn): SSIM of every estimate, the multi-scale ones weighted as the authors do."""

import pytest
import torch

from derain_cli.errors import UsageError
from derain_cli.losses.hcn import hcn_loss
from derain_cli.models.hcn import pyr_down


def _perfect_outputs(clean):
    half = pyr_down(clean)
    return clean, [clean, clean, half, pyr_down(half)]


def test_loss_is_the_weighted_negative_ssim_of_all_five_estimates():
    clean = torch.rand(2, 3, 48, 44)
    total, terms = hcn_loss(_perfect_outputs(clean), clean)
    assert total.item() == pytest.approx(-(3 + 0.05 + 0.001), abs=1e-5)
    assert sorted(terms) == ["ssim_bottom", "ssim_half", "ssim_middle", "ssim_quarter", "ssim_top"]


@pytest.mark.parametrize("scale,index,weight", [("half", 2, 0.05), ("quarter", 3, 0.001)])
def test_loss_uses_the_multi_scale_outputs(scale, index, weight):
    torch.manual_seed(3)
    clean = torch.rand(1, 3, 48, 44)
    final, extras = _perfect_outputs(clean)
    extras[index] = (extras[index] + 0.3 * torch.rand_like(extras[index])).requires_grad_()
    total, terms = hcn_loss((final, extras), clean)
    assert torch.isfinite(total) and terms[f"ssim_{scale}"] < 0.99
    assert total.item() == pytest.approx(-(3 + 0.05 + 0.001) + weight * (1 - terms[f"ssim_{scale}"].item()), abs=1e-5)
    total.backward()
    assert extras[index].grad.abs().sum() > 0


def test_loss_refuses_patches_too_small_for_the_quarter_scale():
    clean = torch.rand(1, 3, 40, 64)
    with pytest.raises(UsageError, match="at least 41 px"):
        hcn_loss(_perfect_outputs(clean), clean)
