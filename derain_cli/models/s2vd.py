"""S2VD (Yue, Xie, Zhao, Meng, Zhang: "Semi-Supervised Video Deraining with Dynamical Rain Generator", CVPR 2021).

A **video model**: it takes a clip, N x 3 x T x H x W RGB in [0, 1], and returns the derained clip
of the same shape; every convolution is 3 x 3 x 3 over (time, rows, columns). Written from the
authors' graph (zsyOAOA/S2VD @ e6c09e0 : networks/derain_net.py ``DerainNet(n_features=32,
n_resblocks=8)`` and networks/sub_blocks.py), with their parameter names, so their checkpoint
``model_states/derainer_rho05.pt`` loads as published:

- ``unshuffle``: 3D pixel-unshuffle by 2 in space (3 -> 12 channels at half resolution; channel
  ``c * 4 + 2 * i + j`` holds pixel (2y + i, 2x + j) of channel c), so H and W must be even.
- ``head``: conv 12 -> 32, ReLU, conv 32 -> 32.
- ``body``: 8 residual blocks ``x + conv(relu(bn(conv(relu(bn(x))))))`` with BatchNorm3d, then
  BN, ReLU, conv 32 -> 12 and the 3D pixel-shuffle back to full resolution: the rain layer.
- ``tail`` on full resolution, on (input - rain layer): conv 3 -> 32, ReLU, conv 32 -> 32, ReLU,
  conv 32 -> 3, all without bias; its output is the derained clip (no clamping inside).
- Every convolution pads time by replicating the first and last frame and space with zeros (the
  authors' ``MyConv3d``): a clip's first and last frames see only one side, which is why the
  authors' test script runs clips overlapping by 2 frames (``derain_cli.video.clip``).

Checkpoint detection: ``head.0.conv.weight`` of shape 32 x 12 x 3 x 3 x 3 (five dimensions: no
other architecture here has 3D convolutions) and ``body.10.conv.weight`` 12 x 32 x 3 x 3 x 3; a
plain state dict (126 tensors, BatchNorm running statistics included).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from derain_cli.models.registry import register_model

SCALE = 2  # the pixel-unshuffle factor: frame height and width must be multiples of it
# Rows beyond a band that the band's result depends on (``S2VD.rain_halo`` for the rain estimate).
TAIL_HALO = 4  # the tail's 3 convolutions at full resolution, rounded up to even
# Peak activation bytes per voxel (one pixel of one frame of a band, halo included) of the rain
# estimate and of the tail, by bytes per value of the compute type (4: fp32, 2: bf16/fp16); CPU,
# oneDNN channels-last, measured 346 / 439 in fp32 and 163 / 368 in bf16 (docs/video.md).
STAGE_BYTES = {4: (352, 448), 2: (168, 376)}
MIN_BAND = 16


def pixel_unshuffle_3d(x: Tensor, factor: int) -> Tensor:
    """N x C x T x (H f) x (W f) -> N x (C f f) x T x H x W, in the authors' channel order."""
    n, c, t, h, w = x.shape
    x = x.reshape(n, c, t, h // factor, factor, w // factor, factor)
    return x.permute(0, 1, 4, 6, 2, 3, 5).reshape(n, c * factor * factor, t, h // factor, w // factor)


def pixel_shuffle_3d(x: Tensor, factor: int) -> Tensor:
    """The inverse of :func:`pixel_unshuffle_3d`."""
    n, c, t, h, w = x.shape
    x = x.reshape(n, c // (factor * factor), factor, factor, t, h, w)
    return x.permute(0, 1, 4, 5, 2, 6, 3).reshape(n, c // (factor * factor), t, h * factor, w * factor)


@dataclass(frozen=True)
class BandPlan:
    """Rows per band of the rain estimate and of the tail (0: the whole frame height at once)."""

    rain: int = 0
    tail: int = 0


class PixelUnshuffle3d(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return pixel_unshuffle_3d(x, SCALE)


class PixelShuffle3d(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return pixel_shuffle_3d(x, SCALE)


class ClipConv3d(nn.Module):
    """3 x 3 x 3 convolution padding time by replication (edge frames repeated) and space by zeros."""

    def __init__(self, cin: int, cout: int, bias: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv3d(cin, cout, 3, padding=(0, 1, 1), bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.pad(x, (0, 0, 0, 0, 1, 1), mode="replicate"))


class ResBlock3d(nn.Module):
    """``x + conv(relu(bn(conv(relu(bn(x))))))`` (pre-activation, BatchNorm3d)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.res = nn.Sequential(
            nn.BatchNorm3d(channels),
            nn.ReLU(inplace=True),
            ClipConv3d(channels, channels),
            nn.BatchNorm3d(channels),
            nn.ReLU(inplace=True),
            ClipConv3d(channels, channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.res(x)


class S2VD(nn.Module):
    """S2VD's derainer. ``forward(clip)``: N x 3 x T x H x W (H, W even) -> the derained clip, same shape."""

    # The marker the rest of the package tests (``is_video_network``): input is a clip, not an image.
    video_model: ClassVar[bool] = True

    def __init__(self, features: int = 32, blocks: int = 8) -> None:
        super().__init__()
        packed = 3 * SCALE * SCALE
        self.unshuffle = PixelUnshuffle3d()
        self.head = nn.Sequential(ClipConv3d(packed, features), nn.ReLU(inplace=True), ClipConv3d(features, features))
        self.body = nn.ModuleList(ResBlock3d(features) for _ in range(blocks))
        self.body.extend([nn.BatchNorm3d(features), nn.ReLU(inplace=True), ClipConv3d(features, packed), PixelShuffle3d()])
        self.tail = nn.Sequential(
            ClipConv3d(3, features, bias=False),
            nn.ReLU(inplace=True),
            ClipConv3d(features, features, bias=False),
            nn.ReLU(inplace=True),
            ClipConv3d(features, 3, bias=False),
        )

    @property
    def rain_halo(self) -> int:
        """Rows the rain estimate of a band depends on beyond it: its 3 + 2 x blocks convolutions at half
        resolution each see one half-resolution row further (8 blocks: 38 full rows), plus 2 to keep
        band edges even (the unshuffle pairs rows 2y and 2y + 1)."""
        convs = 3 + 2 * sum(isinstance(layer, ResBlock3d) for layer in self.body)
        return SCALE * convs + SCALE

    def rain(self, clip: Tensor) -> Tensor:
        """The rain layer the body estimates (N x 3 x T x H x W), at half resolution inside."""
        x = self.head(self.unshuffle(clip))
        for layer in self.body:
            x = layer(x)
        return x

    def forward(self, clip: Tensor) -> Tensor:
        return self.tail(clip - self.rain(clip))

    def forward_in_bands(self, clip: Tensor, bands: BandPlan) -> Tensor:
        """``forward(clip)`` computed in row bands (``bands``: from :func:`plan_bands`).

        Exact: each band runs with the rows it depends on (``rain_halo``, then ``TAIL_HALO``) and
        only its own rows are kept, so only memory changes: full-resolution 32-channel activations
        of a 28-frame 640x480 clip would take about 1 GB each.
        """
        residual = in_bands(self.rain, clip, bands.rain, self.rain_halo)
        residual = torch.sub(clip, residual, out=residual)  # clip - rain, in the rain layer's memory
        return in_bands(self.tail, residual, bands.tail, TAIL_HALO)

    def plan_bands(self, frames: int, height: int, width: int, budget: int, itemsize: int = 4) -> BandPlan:
        """The tallest even bands that keep each stage's activations of a ``frames``-frame clip under
        ``budget`` bytes (never below ``MIN_BAND`` rows); ``itemsize``: 4 for fp32, 2 for bf16."""

        def rows(halo: int, per_voxel: int) -> int:
            def fits(band: int) -> bool:
                return frames * width * min(height, band + 2 * halo) * per_voxel <= budget

            if fits(height):
                return 0
            band = height - SCALE
            while band > MIN_BAND and not fits(band):
                band -= SCALE
            return band

        rain_bytes, tail_bytes = STAGE_BYTES[itemsize]
        return BandPlan(rows(self.rain_halo, rain_bytes), rows(TAIL_HALO, tail_bytes))


def in_bands(stage: Callable[[Tensor], Tensor], x: Tensor, rows: int, halo: int) -> Tensor:
    """``stage(x)`` for a stage that keeps the row count, run on bands of ``rows`` rows, each with
    ``halo`` more rows on both sides (where the frame has them), its halo rows dropped."""
    height = x.shape[3]
    if not rows or rows >= height:
        return stage(x)
    out: Tensor | None = None
    for top in range(0, height, rows):
        bottom = min(height, top + rows)
        low, high = max(0, top - halo), min(height, bottom + halo)
        band = stage(x[:, :, :, low:high])
        if out is None:
            out = band.new_empty(*band.shape[:3], height, band.shape[4])
        out[:, :, :, top:bottom] = band[:, :, :, top - low : bottom - low]
    assert out is not None
    return out


@register_model("s2vd", ranges={"features": (8, 128), "blocks": (1, 32)}, video=True)
def s2vd(features: int = 32, blocks: int = 8) -> S2VD:
    """S2VD (CVPR 2021): 3D-convolution video derainer; the authors' checkpoint is trained on NTURain."""
    return S2VD(features, blocks)
