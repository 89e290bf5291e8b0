"""AIDNet, the attentive image deraining network of Cui et al. (IEEE TIP 2022).

"Attentive Image Deraining Network with Better Generalization" (cuiyixin555/AIDNet @ de1a7f0,
``networks/generator_aid135.py``, checkpoints ``logs/*/AID_location135``, 8 stages as in their
test script). It is BRN (:mod:`derain_cli.models.brn`) with residual attention from the rain
branch to the image branch: the output of each of the rain branch's three residual blocks goes
through one shared CBAM-style attention module, and the image features after image blocks 1, 3
and 5 (the "location 135") become ``a * x + x`` with ``a`` that attended rain feature.

The attention (``cbam_module``): a channel gate (average- and max-pooled channel vectors through
one shared MLP 32 -> 2 -> 32, summed, sigmoid) then a spatial gate (channel max and mean ->
7x7 convolution -> batch norm -> sigmoid), each multiplying its input. The channel gate pools the
whole image, so tiles of a large image see slightly different statistics, as with SAPNet.

Checkpoint detection: BRN's tensors plus ``cbam_module.ChannelGate.mlp.{1,3}.*`` and
``cbam_module.SpatialGate.spatial.{conv,bn}.*``; saved under ``module.``. Any input size.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from derain_cli.models.brn import CHANNELS, BilateralRecurrentNet
from derain_cli.models.recurrent import STAGES
from derain_cli.models.registry import register_model

REDUCTION = 16
SPATIAL_KERNEL = 7


class ChannelGate(nn.Module):
    """``x * sigmoid(mlp(avgpool x) + mlp(maxpool x))`` (``mlp.0`` is the authors' flatten)."""

    def __init__(self, channels: int, reduction: int = REDUCTION) -> None:
        super().__init__()
        hidden = channels // reduction
        self.mlp = nn.Sequential(nn.Flatten(), nn.Linear(channels, hidden), nn.ReLU(), nn.Linear(hidden, channels))

    def forward(self, x: Tensor) -> Tensor:
        logits = self.mlp(x.mean((2, 3))) + self.mlp(x.amax((2, 3)))
        return x * torch.sigmoid(logits)[:, :, None, None]


class _SpatialConv(nn.Module):
    """7x7 convolution (2 -> 1, no bias) and batch norm: the authors' ``BasicConv`` without ReLU."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, SPATIAL_KERNEL, padding=SPATIAL_KERNEL // 2, bias=False)
        self.bn = nn.BatchNorm2d(1, eps=1e-5, momentum=0.01)

    def forward(self, x: Tensor) -> Tensor:
        return self.bn(self.conv(x))


class SpatialGate(nn.Module):
    """``x * sigmoid(bn(conv([max_c x, mean_c x])))``."""

    def __init__(self) -> None:
        super().__init__()
        self.spatial = _SpatialConv()

    def forward(self, x: Tensor) -> Tensor:
        pooled = torch.cat((x.amax(1, keepdim=True), x.mean(1, keepdim=True)), 1)
        return x * torch.sigmoid(self.spatial(pooled))


class AttentionModule(nn.Module):
    """The authors' ``AID``: channel gate, then spatial gate."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.ChannelGate = ChannelGate(channels)
        self.SpatialGate = SpatialGate()

    def forward(self, x: Tensor) -> Tensor:
        return self.SpatialGate(self.ChannelGate(x))


class AttentiveDerainNet(BilateralRecurrentNet):
    """AIDNet: BRN with rain-to-image residual attention after image blocks 1, 3 and 5."""

    attend_after = (1, 3, 5)

    def __init__(self, stages: int = 8, channels: int = CHANNELS) -> None:
        super().__init__(stages=stages, channels=channels)
        self.cbam_module = AttentionModule(channels)

    def attend(self, rain: Tensor, x: Tensor) -> Tensor:
        return torch.addcmul(x, self.cbam_module(rain), x)


@register_model("aidnet", ranges={"stages": STAGES})
def aidnet(stages: int = 8) -> AttentiveDerainNet:
    """AIDNet (TIP 2022, the authors' AID_location135): BRN with rain-to-image attention."""
    return AttentiveDerainNet(stages=stages)
