"""JORDER-E (Yang et al., TPAMI 2019): joint rain detection and removal, two cascaded stages.

Ported from the authors' practical model (flyywh/JORDER-E-Deep-Image-Deraining-TPAMI-2019-Journal
@ ccb4a46 : testing_practical/src/model/jorder_e.py). Each stage encodes the rainy image with
the previous estimate, runs three dilated residual blocks, estimates a rain mask (2 channels) and a
rain level (3 channels), lets both modulate the features (``F * w_mask * w_level + b_mask + b_level
+ F``), and decodes a residual added to the rainy image. The second stage adds its blocks'
features, mask and level to the first stage's.

What the published weights expect, kept here so ``create_model("jorder-e")`` behaves as theirs:
- RGB in [0, 255] (their EDSR-style loader, ``rgb_range = 255``): ``forward`` takes [0, 1] and
  scales in and out (the biases make the network not scale-invariant).
- No size requirement: every layer keeps the size (stride 1, "same" padding).

Checkpoint detection: ``jorder1.*`` and ``jorder2.*`` tensors, e.g. ``jorder1.mask_F_w_encoder1.weight``
(16 x 2 x 3 x 3); a ``module.`` prefix is stripped on loading.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.functional import relu

from derain_cli.models.registry import register_model

CHANNELS = 32
RGB_RANGE = 255.0
RES_BLOCKS = 3


def _conv(cin: int, cout: int, dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=dilation, dilation=dilation)


class ResBlock(nn.Module):
    """Three parallel two-conv branches (dilation 1, 2 and 2 -> 4), the dilated ones scaled by 0.1."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1, self.conv2 = _conv(channels, channels), _conv(channels, channels)
        self.conv3, self.conv4 = _conv(channels, channels, 2), _conv(channels, channels, 2)
        self.conv5, self.conv6 = _conv(channels, channels, 2), _conv(channels, channels, 4)

    def forward(self, x: Tensor, previous: Tensor | None) -> Tensor:
        out = (
            x
            + relu(self.conv2(relu(self.conv1(x))))
            + 0.1 * relu(self.conv4(relu(self.conv3(x))))
            + 0.1 * relu(self.conv6(relu(self.conv5(x))))
        )
        return out if previous is None else out + previous


class Updater(nn.Module):
    """The stage's residual blocks; returns the features after each (the next stage adds them)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        for k in range(1, RES_BLOCKS + 1):
            self.add_module(f"res{k}", ResBlock(channels))

    def forward(self, x: Tensor, previous: list[Tensor] | None) -> list[Tensor]:
        features = []
        for k in range(RES_BLOCKS):
            x = getattr(self, f"res{k + 1}")(x, previous[k] if previous else None)
            features.append(x)
        return features


def _pair(cin: int, mid: int, cout: int) -> tuple[nn.Conv2d, nn.Conv2d]:
    return _conv(cin, mid), _conv(mid, cout)


class JorderStage(nn.Module):
    """One JORDER stage: (rainy, previous estimate and state) -> (estimate, features, mask, level)."""

    def __init__(self, channels: int = CHANNELS) -> None:
        super().__init__()
        self.encoder = _conv(6, channels)
        self.updater = Updater(channels)
        self.mask_estimator1, self.mask_estimator2 = _pair(channels, 8, 2)
        self.level_estimator1, self.level_estimator2 = _pair(channels, 8, 3)
        self.mask_F_w_encoder1, self.mask_F_w_encoder2 = _pair(2, 16, channels)
        self.mask_F_b_encoder1, self.mask_F_b_encoder2 = _pair(2, 16, channels)
        self.level_F_w_encoder1, self.level_F_w_encoder2 = _pair(3, 16, channels)
        self.level_F_b_encoder1, self.level_F_b_encoder2 = _pair(3, 16, channels)
        for conv in (self.mask_F_w_encoder2, self.level_F_w_encoder2):  # the authors' start: weights 1
            nn.init.zeros_(conv.weight)
            nn.init.ones_(conv.bias)
        self.decoder = nn.Sequential(_conv(channels, channels), _conv(channels, 3))

    def forward(
        self, rainy: Tensor, previous: tuple[Tensor, list[Tensor], Tensor, Tensor] | None
    ) -> tuple[Tensor, list[Tensor], Tensor, Tensor]:
        guide = rainy if previous is None else previous[0]
        features = self.updater(self.encoder(torch.cat((rainy, guide), 1)), previous[1] if previous else None)
        f = features[-1]
        mask = self.mask_estimator2(self.mask_estimator1(f))
        level = self.level_estimator2(self.level_estimator1(f))
        if previous is not None:
            mask, level = mask + previous[2], level + previous[3]

        def encode(first: nn.Conv2d, second: nn.Conv2d, x: Tensor) -> Tensor:
            return second(relu(first(x)))

        shift = encode(self.mask_F_b_encoder1, self.mask_F_b_encoder2, mask) + f
        shift = shift + encode(self.level_F_b_encoder1, self.level_F_b_encoder2, level)
        scale = encode(self.mask_F_w_encoder1, self.mask_F_w_encoder2, mask) * f
        scale = scale * encode(self.level_F_w_encoder1, self.level_F_w_encoder2, level)
        return self.decoder(shift + scale) + rainy, features, mask, level


class JorderE(nn.Module):
    """JORDER-E. ``forward(rgb)`` in [0, 1] -> (derained, (first-stage estimate, rain mask, rain level)).

    The estimates are in [0, 1]; mask and level are the authors' raw maps. No clamping inside.
    """

    def __init__(self) -> None:
        super().__init__()
        self.jorder1 = JorderStage()
        self.jorder2 = JorderStage()

    def forward(self, rgb: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor, Tensor]]:
        rainy = rgb * RGB_RANGE
        first = self.jorder1(rainy, None)
        x, _, mask, level = self.jorder2(rainy, first)
        return x / RGB_RANGE, (first[0] / RGB_RANGE, mask, level)


@register_model("jorder-e")
def jorder_e() -> JorderE:
    """JORDER-E (TPAMI 2019): two JORDER stages with rain mask and level; the authors' practical model."""
    return JorderE()
