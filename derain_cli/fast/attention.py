"""Channel residual attention computed before the convolution it scales.

CRA needs the channel means of a convolution's output. Those means follow exactly from sums
of the convolution's *input* over nine windows (one per kernel tap; zero padding drops a
border strip of ``dilation`` rows / columns), so the attention scale is known before the
convolution runs and can be folded into weights: no pass over the output to scale it.
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import Tensor

from derain_cli.fast.layout import Attention, Conv


@lru_cache(maxsize=64)
def _row_masks(height: int, dilation: int) -> Tensor:
    """3 x H float32: the rows read by the three vertical taps (padding = dilation = d)."""
    d = min(dilation, height)
    rows = torch.ones(3, height)
    rows[0, height - d :] = 0  # tap 0 reads rows [0, H - d)
    rows[2, :d] = 0  # tap 2 reads rows [d, H)
    return rows


def window_sums(x: Tensor, dilation: int) -> Tensor:
    """Sums of a 1 x C x H x W channels_last tensor over the window each 3x3 tap reads: 3 x 3 x C, float32.

    Tap (ky, kx) of a convolution with padding = dilation = d reads input rows [0, H - d) for
    ky = 0, all rows for ky = 1 and [d, H) for ky = 2, and columns likewise. One pass over
    ``x`` sums each row (accumulated in float32, also for bf16: one rounding per row sum, no
    fp32 copy of ``x``), two more over its d-column edge strips; the rest is H x C float32.
    """
    _, _, height, width = x.shape
    d = min(dilation, width)
    image = x[0].permute(1, 2, 0)  # H x W x C, a view of channels_last memory
    full, left, right = (image[:, cols].sum(1).float() for cols in (slice(None), slice(0, d), slice(width - d, None)))
    columns = torch.stack((full - right, full, full - left))  # per row: the columns each horizontal tap reads
    return torch.einsum("yh,xhc->yxc", _row_masks(height, dilation), columns)


def tap_matrix(weight: Tensor) -> Tensor:
    """A 3x3 convolution weight (O x C x 3 x 3) as an O x (3 * 3 * C) matrix matching ``window_sums``."""
    return weight.permute(0, 2, 3, 1).reshape(weight.shape[0], -1)


def output_mean(taps: Tensor, bias: Tensor, sums: Tensor, pixels: int) -> Tensor:
    """Channel means of a convolution (``tap_matrix`` and bias) over an input with ``window_sums`` ``sums``."""
    return bias + taps @ sums.reshape(-1) / pixels


def attention_scale(att: Attention, mean: Tensor) -> Tensor:
    """CRA's per-channel scale for channel means ``mean`` (C, or C x N for a batch)."""
    return torch.sigmoid(att.up @ torch.relu(att.down @ mean) + att.skip @ mean)


class ConvAttention:
    """CRA after a convolution, its scale computed from the convolution's input alone."""

    def __init__(self, conv: Conv, att: Attention) -> None:
        self.att, self.bias = att, conv.bias
        self.taps = tap_matrix(conv.weight)

    def scale(self, sums: Tensor, pixels: int) -> Tensor:
        """The attention scale (length C) for an input with ``window_sums`` ``sums`` and ``pixels`` pixels."""
        return attention_scale(self.att, output_mean(self.taps, self.bias, sums, pixels))
