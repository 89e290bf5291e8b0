"""SPANet (Wang et al., CVPR 2019): spatial attentive deraining with a four-direction IRNN.

Ported from the authors' graph (stevewongv/SPANet @ 82d2889 : SPANet.py, irnn.py and
IRNN_Forward_cuda.cu). Their IRNN is a cupy CUDA kernel; here it is plain torch that runs on
any device: each direction is one loop over a spatial axis with whole rows or columns at once.

What the published weights expect, kept here so ``create_model("spanet")`` behaves as theirs:
- BGR input in [0, 1] (they read with ``cv2.imread``): ``forward`` takes RGB like every model
  of this package and flips the channels in and out.
- The network predicts the clean image itself (no skip from the input).
- One spatial attentive module (``SAM1``) serves all four attention points.
- Their SAM computes a direction attention (``attention_layer``) whose products are discarded
  (``Tensor.mul`` is not in place), so the weights were trained without it: its tensors are
  kept, for the checkpoint to fit, but it is not run.
- No size requirement: every layer keeps the size (stride 1, "same" padding).

Checkpoint detection: the ``SAM1.irnn1.*_weight`` tensors (per-channel IRNN scales and biases,
32 x 1 x 1 x 1 and 32) identify it. The authors' file holds the state dict under ``net`` (beside
``opt`` and ``clock``); loading unwraps it and strips a ``module.`` prefix where there is one.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from derain_cli.models.registry import register_model

CHANNELS = 32
BLOCKS = 17
PLAIN_HEAD = 3  # res_block1..3 run without attention, then four maps each gate three blocks
ATTENTION_MAPS = 4
BLOCKS_PER_MAP = 3


def _conv3x3(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1, bias=False)


def _directional(channels: int, alpha: float = 0.2) -> nn.Conv2d:
    """A per-channel scale and bias (the authors store them as a depthwise 1x1 convolution)."""
    conv = nn.Conv2d(channels, channels, 1, groups=channels)
    nn.init.constant_(conv.weight, alpha)
    return conv


def irnn_scan(x: Tensor, weight: Tensor, bias: Tensor, dim: int, reverse: bool) -> Tensor:
    """One IRNN direction along ``dim`` (2: rows, 3: columns) of an N x C x H x W tensor.

    ``h[0] = relu(x[0])``, ``h[i] = relu(h[i-1] * w + b + x[i])`` with per-channel ``w``, ``b``,
    starting at the far end when ``reverse``. Runs in float32 whatever the input: the recurrence
    spans the whole image, and half precision would compound its rounding over hundreds of steps.
    """
    dtype = x.dtype
    w = weight.float().reshape(1, -1, 1)
    steps = (x.float() + bias.float().reshape(1, -1, 1, 1)).movedim(dim, 0).contiguous()  # x[i] + b
    order = range(steps.shape[0] - 1, -1, -1) if reverse else range(steps.shape[0])
    out = []
    h = None
    for i in order:
        # h[0] = relu(x[0]) without the bias, exactly as the authors' kernel starts
        h = torch.relu(x.select(dim, i).float()) if h is None else torch.addcmul(steps[i], h, w).relu_()
        out.append(h)
    if reverse:
        out.reverse()
    return torch.stack(out).movedim(0, dim).to(dtype)


class SpatialIRNN(nn.Module):
    """The authors' ``Spacial_IRNN``: four recurrences, returned as (up, right, down, left).

    "up" runs from the bottom row upwards, "down" from the top row, "left" from the right
    column leftwards, "right" from the left column (IRNN_Forward_cuda.cu).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.left_weight = _directional(channels)
        self.right_weight = _directional(channels)
        self.up_weight = _directional(channels)
        self.down_weight = _directional(channels)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        def scan(conv: nn.Conv2d, dim: int, reverse: bool) -> Tensor:
            return irnn_scan(x, conv.weight, conv.bias, dim, reverse)

        return (
            scan(self.up_weight, 2, True),
            scan(self.right_weight, 3, False),
            scan(self.down_weight, 2, False),
            scan(self.left_weight, 3, True),
        )


class DirectionAttention(nn.Module):
    """The authors' SAM ``Attention`` layer: stored (their checkpoints hold it), never applied."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        half = channels // 2
        self.conv1 = nn.Conv2d(channels, half, 3, padding=1)
        self.conv2 = nn.Conv2d(half, half, 3, padding=1)
        self.conv3 = nn.Conv2d(half, 4, 1)


class SpatialAttentiveModule(nn.Module):
    """SAM: two IRNN passes with 3x3 fusions, then a sigmoid attention map (N x 1 x H x W)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.irnn1 = SpatialIRNN(channels)
        self.irnn2 = SpatialIRNN(channels)
        self.conv_in = _conv3x3(channels, channels)
        self.conv2 = _conv3x3(4 * channels, channels)
        self.conv3 = _conv3x3(4 * channels, channels)
        self.attention_layer = DirectionAttention(channels)
        self.conv_out = nn.Conv2d(channels, 1, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv2(torch.cat(self.irnn1(self.conv_in(x)), 1))
        out = torch.relu(self.conv3(torch.cat(self.irnn2(out), 1)))
        return torch.sigmoid(self.conv_out(out))


class Bottleneck(nn.Module):
    """1x1 -> relu -> dilated 3x3 (dilation 2) -> relu -> 1x1, no biases (the residual is added outside)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.group1 = nn.Sequential(
            OrderedDict(
                conv1=nn.Conv2d(channels, channels, 1, bias=False),
                relu1=nn.ReLU(),
                conv2=nn.Conv2d(channels, channels, 3, padding=2, dilation=2, bias=False),
                relu2=nn.ReLU(),
                conv3=nn.Conv2d(channels, channels, 1, bias=False),
            )
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.group1(x)


class SPANet(nn.Module):
    """SPANet. ``forward(rgb)`` -> (derained RGB, first attention map); no clamping inside."""

    def __init__(self, channels: int = CHANNELS) -> None:
        super().__init__()
        self.conv_in = nn.Sequential(_conv3x3(3, channels), nn.ReLU())
        self.SAM1 = SpatialAttentiveModule(channels)
        for k in range(1, BLOCKS + 1):
            self.add_module(f"res_block{k}", Bottleneck(channels))
        self.conv_out = nn.Sequential(_conv3x3(channels, 3))

    def forward(self, rgb: Tensor) -> tuple[Tensor, Tensor]:
        out = self.conv_in(rgb.flip(1))  # the authors' weights see BGR
        blocks = [getattr(self, f"res_block{k}") for k in range(1, BLOCKS + 1)]
        for block in blocks[:PLAIN_HEAD]:
            out = F.relu(block(out) + out)
        maps = []
        for m in range(ATTENTION_MAPS):
            maps.append(self.SAM1(out))
            start = PLAIN_HEAD + m * BLOCKS_PER_MAP
            for block in blocks[start : start + BLOCKS_PER_MAP]:
                out = F.relu(block(out) * maps[-1] + out)
        for block in blocks[PLAIN_HEAD + ATTENTION_MAPS * BLOCKS_PER_MAP :]:
            out = F.relu(block(out) + out)
        return self.conv_out(out).flip(1), maps[0]


@register_model("spanet")
def spanet() -> SPANet:
    """SPANet (CVPR 2019): spatial attentive network; the authors' checkpoint is trained on SPA-Data (real rain)."""
    return SPANet()
