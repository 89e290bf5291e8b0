"""LiteNet: this project's light deraining network for CPUs (issue 26), trained by distillation.

Why this shape (timings in docs/lite.md): the recurrent SAPNet/PReNet family runs six
full-resolution stages of 32 channels, about 2 MFLOP per pixel. LiteNet works at a quarter of
the pixels instead: ``pixel_unshuffle(2)`` folds each 2 x 2 block into 12 channels, a head
convolution widens them, ``blocks`` plain residual blocks (two 3x3 convolutions each) do the work,
a tail convolution predicts the rain residual of every folded pixel and ``pixel_shuffle`` unfolds
it; the residual is added to the input. One pass, no recurrence, no attention: only convolutions
and ReLUs, which oneDNN runs well in fp32 and bf16 (channels_last) and cuDNN in fp16.

Any input size: odd heights or widths are padded by reflection to the fold and cropped back.

Checkpoint detection: the ``lite_head.weight`` tensor (channels x 3 * scale^2 x 3 x 3) is ours alone.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from derain_cli.models.registry import register_model


class LiteBlock(nn.Module):
    """``x + conv(relu(conv(x)))`` followed by a ReLU."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x + self.conv2(F.relu(self.conv1(x))))


class LiteNet(nn.Module):
    """``forward(y)`` takes an N x 3 x H x W RGB batch in [0, 1] and returns (estimate, []) like every
    model of the package (no per-stage estimates: a single pass). No clamping happens inside."""

    def __init__(self, scale: int = 2, channels: int = 32, blocks: int = 4) -> None:
        super().__init__()
        self.scale = scale
        folded = 3 * scale * scale
        self.lite_head = nn.Conv2d(folded, channels, 3, padding=1)
        self.lite_blocks = nn.Sequential(*(LiteBlock(channels) for _ in range(blocks)))
        self.lite_tail = nn.Conv2d(channels, folded, 3, padding=1)
        nn.init.zeros_(self.lite_tail.weight)  # starts as the identity: the input unchanged
        nn.init.zeros_(self.lite_tail.bias)

    def forward(self, y: Tensor) -> tuple[Tensor, list[Tensor]]:
        height, width = y.shape[-2:]
        pad_h, pad_w = -height % self.scale, -width % self.scale
        x = F.pad(y, (0, pad_w, 0, pad_h), mode="reflect") if pad_h or pad_w else y
        z = F.relu(self.lite_head(F.pixel_unshuffle(x, self.scale)))
        residual = F.pixel_shuffle(self.lite_tail(self.lite_blocks(z)), self.scale)
        return y + residual[..., :height, :width].to(y.dtype), []


@register_model("litenet", ranges={"scale": (1, 4), "channels": (8, 64), "blocks": (1, 8)})
def litenet(scale: int = 2, channels: int = 32, blocks: int = 4) -> LiteNet:
    """LiteNet (ours): pixel-unshuffled residual convolutions, one pass."""
    return LiteNet(scale=scale, channels=channels, blocks=blocks)
