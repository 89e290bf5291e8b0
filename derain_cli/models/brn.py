"""The bilateral recurrent network (BRN) of Ren, Shang, Zuo, Hu and Meng (IEEE TIP 2020).

"Single Image Deraining Using Bilateral Recurrent Network", the authors' ``BRN`` class
(csdwren/RecDerain @ 5b2ad01, ``generator.py``; their test script ``test_BRN.py`` runs 8 stages).
Two PReNet-like recurrent networks are coupled at every stage: the rain branch estimates the
rain layer from the input and its previous estimate, its ConvLSTM seeing both hidden states;
the image branch then estimates the clean image from the input, its previous estimate and the
new rain layer, its ConvLSTM seeing both hidden states too. The image branch predicts the clean
image itself (no skip from the input). The rain branch runs three of its five residual blocks:
the authors build five, and their checkpoints hold all five, so all five are kept.

Checkpoint detection: ``conv0.0.weight`` 32 x 9 (input, estimate, rain layer), gate
convolutions over 96 channels, and the ``*_r`` rain-branch tensors; saved under ``module.``.
Any input size (stride-1 convolutions only).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from derain_cli.models.recurrent import STAGES, lstm_gates, lstm_step, residual_block
from derain_cli.models.registry import register_model

CHANNELS = 32
BLOCKS = 5
RAIN_BLOCKS_USED = 3


class BilateralRecurrentNet(nn.Module):
    """BRN: coupled rain-layer and image recurrent networks, ``stages`` stages.

    ``forward(y)`` takes an N x 3 x H x W RGB batch in [0, 1] and returns the final image
    estimate and every stage's image estimate. No clamping happens inside.
    Subclasses may apply attention from the rain branch's block outputs to the image branch
    after the image blocks listed in ``attend_after`` (1-based), see :meth:`attend`.
    """

    attend_after: tuple[int, ...] = ()

    def __init__(self, stages: int = 8, channels: int = CHANNELS) -> None:
        super().__init__()
        self.stages = stages
        self.channels = channels
        self.conv0 = nn.Sequential(nn.Conv2d(9, channels, 3, padding=1), nn.ReLU())
        self.conv0_r = nn.Sequential(nn.Conv2d(6, channels, 3, padding=1), nn.ReLU())
        for branch in ("", "_r"):
            for k in range(1, BLOCKS + 1):
                self.add_module(f"res_conv{k}{branch}", residual_block(channels, 1, False))
        self.conv_i, self.conv_f, self.conv_g, self.conv_o = lstm_gates(channels, inputs=3)
        self.conv_i_r, self.conv_f_r, self.conv_g_r, self.conv_o_r = lstm_gates(channels, inputs=3)
        self.conv = nn.Sequential(nn.Conv2d(channels, 3, 3, padding=1))
        self.conv_r = nn.Sequential(nn.Conv2d(channels, 3, 3, padding=1))

    def _blocks(self, branch: str, count: int) -> list[nn.Module]:
        return [getattr(self, f"res_conv{k}{branch}") for k in range(1, count + 1)]

    def forward(self, y: Tensor) -> tuple[Tensor, list[Tensor]]:
        n, _, height, width = y.shape
        h = y.new_zeros(n, self.channels, height, width)
        c, h_r, c_r = torch.zeros_like(h), torch.zeros_like(h), torch.zeros_like(h)
        image_gates = (self.conv_i, self.conv_f, self.conv_g, self.conv_o)
        rain_gates = (self.conv_i_r, self.conv_f_r, self.conv_g_r, self.conv_o_r)
        x = r = y
        estimates = []
        for _ in range(self.stages):
            z_r = self.conv0_r(torch.cat((y, r), 1))
            h_r, c_r = lstm_step(rain_gates, torch.cat((z_r, h_r, h), 1), c_r)
            rain_features = []
            r = h_r
            for block in self._blocks("_r", RAIN_BLOCKS_USED):
                r = torch.relu(block(r) + r)
                rain_features.append(r)
            r = self.conv_r(r)
            z = self.conv0(torch.cat((y, x, r), 1))
            h, c = lstm_step(image_gates, torch.cat((z, h, h_r), 1), c)
            x = self.conv(self._image_blocks(h, rain_features))
            estimates.append(x)
        return x, estimates

    def _image_blocks(self, x: Tensor, rain_features: list[Tensor]) -> Tensor:
        """The image branch's residual blocks, with the rain branch's attention where ``attend_after`` says."""
        used = iter(rain_features)
        for k, block in enumerate(self._blocks("", BLOCKS), start=1):
            x = torch.relu(block(x) + x)
            if k in self.attend_after:
                x = self.attend(next(used), x)
        return x

    def attend(self, rain: Tensor, x: Tensor) -> Tensor:
        """Image features ``x`` modulated by rain-branch features ``rain`` (none in BRN)."""
        return x


@register_model("brn", ranges={"stages": STAGES})
def brn(stages: int = 8) -> BilateralRecurrentNet:
    """BRN (TIP 2020): bilateral recurrent network, coupled rain and image ConvLSTM branches."""
    return BilateralRecurrentNet(stages=stages)
