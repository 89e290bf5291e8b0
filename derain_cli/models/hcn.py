"""The high-order collaborative network (HCN) of Wang, Pan and Wu, AAAI 2022.

"Online-Updated High-Order Collaborative Networks for Single Image Deraining". Three
collaborating sub-networks exchange intermediate features: the top one runs three
encoder-decoder units, the middle one two, the bottom one a single unit; each one predicts a rain
layer subtracted from the input. Every unit carries a bidirectional scale-content similarity
mining module at its bottleneck (patch attention across four feature scales, bottom-up then
top-down). The multi-scale compact constraints re-use the first units on the 1/2 and 1/4 levels of
the input's Gaussian pyramid (``pyr_down``, as OpenCV's ``cv2.pyrDown``) and supervise their outputs
against the same levels of the clean image (see ``derain_cli.losses.hcn``).

Layer sizes follow the authors' ``model.py`` (20 channels; dense residual chains of 12, 2 and 1
units). Where their forward pass re-uses a module that their constructor also builds separately
(the third top unit, the second and third attention of each direction, the second decoder fusion),
each built module is used once here, so every parameter is trained.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from derain_cli.models.registry import register_model

CHANNELS = 20
# Allowed widths: the attention keys take a quarter of the channels (at least one).
CHANNEL_RANGE = (4, 64)
# One encoder-decoder unit halves its input twice, its similarity module three more times.
UNIT_FACTOR = 32
_PYRAMID_TAPS = (1.0, 4.0, 6.0, 4.0, 1.0)


def _pad(x: Tensor, pads: tuple[int, int, int, int]) -> Tensor:
    """Reflect-pad ``(left, right, top, bottom)``; replicate where an image is too small to reflect."""
    height, width = x.shape[-2:]
    fits = max(pads[:2]) < width and max(pads[2:]) < height
    return F.pad(x, pads, mode="reflect" if fits else "replicate")


def pyr_down(x: Tensor) -> Tensor:
    """One Gaussian pyramid level: 5x5 binomial blur, keep even rows and columns (``cv2.pyrDown``)."""
    taps = x.new_tensor(_PYRAMID_TAPS)
    kernel = torch.outer(taps, taps) / taps.sum() ** 2
    channels = x.shape[1]
    weight = kernel.expand(channels, 1, 5, 5)
    return F.conv2d(_pad(x, (2, 2, 2, 2)), weight, stride=2, groups=channels)


def positional_encoding(x: Tensor) -> Tensor:
    """Sinusoidal 2-D encoding shaped like ``x``: rows in the first half of the channels, columns in the rest."""
    n, channels, height, width = x.shape
    half = math.ceil(channels / 2)
    freqs = 10000.0 ** (-torch.arange(0, half, 2, device=x.device, dtype=torch.float32) / half)

    def axis(length: int) -> Tensor:
        angles = torch.arange(length, device=x.device, dtype=torch.float32)[:, None] * freqs
        return torch.cat((angles.sin(), angles.cos()), 1)[:, :half].T  # half x length

    rows = axis(height)[:, :, None].expand(half, height, width)
    cols = axis(width)[:, None, :].expand(half, height, width)
    return torch.cat((rows, cols))[:channels].to(x.dtype).expand(n, channels, height, width)


def _conv(cin: int, cout: int, kernel: int = 3) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel, padding=kernel // 2)


def _conv_act(cin: int, cout: int, kernel: int = 3) -> nn.Sequential:
    return nn.Sequential(_conv(cin, cout, kernel), nn.LeakyReLU(0.2))


class ResidualUnit(nn.Module):
    """``x + conv(lrelu(conv(x)))``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv(channels, channels), nn.LeakyReLU(0.2), _conv(channels, channels))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class DenseResidualChain(nn.Module):
    """Residual units whose inputs are 1x1 fusions of every earlier output (dense connections).

    ``forward(x, skips)`` returns the chain's output and each unit's output; ``skips`` (a decoder
    receives its encoder's unit outputs) are added to the unit inputs in reverse order.
    """

    def __init__(self, units: int, channels: int) -> None:
        super().__init__()
        self.units = nn.ModuleList(ResidualUnit(channels) for _ in range(units))
        self.fusions = nn.ModuleList(_conv_act((i + 2) * channels, channels, 1) for i in range(units))

    def forward(self, x: Tensor, skips: list[Tensor] | None = None) -> tuple[Tensor, list[Tensor]]:
        seen, features = [x], []
        out = x
        for i, (unit, fusion) in enumerate(zip(self.units, self.fusions)):
            feature = unit(out if skips is None else out + skips[-1 - i])
            features.append(feature)
            seen.append(feature)
            out = fusion(torch.cat(seen, 1))
        return out, features


class CrossScaleAttention(nn.Module):
    """Non-local 3x3-patch attention of a feature map over its own patches and another scale's.

    Queries are patches of ``x``; keys (L2-normalised) and values are patches of ``x`` and of
    ``other``; the attended patches are pasted back (overlaps summed) and a quarter of the result
    is added to ``x``. Channel embeddings: 1x1 convolutions with PReLU, keys at a quarter width.
    """

    SOFTMAX_SCALE = 10.0

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        self.query = nn.Sequential(_conv(channels, channels // reduction, 1), nn.PReLU())
        self.key = nn.Sequential(_conv(channels, channels // reduction, 1), nn.PReLU())
        self.value = nn.Sequential(_conv(channels, channels, 1), nn.PReLU())

    @staticmethod
    def _patches(x: Tensor) -> Tensor:
        """N x C x H x W -> N x 1 x HW x 9C: zero-padded 3x3 neighbourhoods, one attention head."""
        return F.unfold(x, 3, padding=1).transpose(1, 2)[:, None]

    def forward(self, x: Tensor, other: Tensor) -> Tensor:
        sources = (x, other)
        q = self._patches(self.query(x))
        k = torch.cat([self._patches(self.key(s)) for s in sources], 2)
        k = k / k.norm(dim=3, keepdim=True).clamp_min(1e-4)
        v = torch.cat([self._patches(self.value(s)) for s in sources], 2)
        if not torch.is_grad_enabled():
            # Equal head sizes let PyTorch use its fused (flash) kernel, which never holds the
            # HW x L score matrix: quadratic memory would make whole photos infeasible.
            extra = v.shape[3] - q.shape[3]
            q, k = F.pad(q, (0, extra)), F.pad(k, (0, extra))
        attended = F.scaled_dot_product_attention(q, k, v, scale=self.SOFTMAX_SCALE)
        pasted = F.fold(attended[:, 0].transpose(1, 2), x.shape[-2:], 3, padding=1)
        return x + pasted / 4


class _EncodedConv(nn.Module):
    """Concatenate the positional encoding, then 1x1 -> 3x3 convolution -> LeakyReLU."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv(2 * channels, channels, 1), _conv(channels, channels), nn.LeakyReLU(0.2))

    def forward(self, x: Tensor) -> Tensor:
        return self.body(torch.cat((x, positional_encoding(x)), 1))


class ScaleSimilarityMining(nn.Module):
    """Bidirectional scale-content similarity mining over a four-level max-pooling pyramid.

    Bottom-up: from the 1/8 level, each step attends from the next larger level over its own
    patches and the smaller result. Top-down: from full size back down to 1/4, each step attends
    from a bottom-up result over its patches and the larger top-down one. A 1x1 convolution fuses
    the input, both directions' ends and the coarsest level at full size.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.up_convs = nn.ModuleList(_EncodedConv(channels) for _ in range(4))
        self.up_attention = nn.ModuleList(CrossScaleAttention(channels) for _ in range(3))
        self.down_convs = nn.ModuleList(_EncodedConv(channels) for _ in range(4))
        self.down_attention = nn.ModuleList(CrossScaleAttention(channels) for _ in range(3))
        self.fusion = _conv_act(6 * channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        levels = [x]
        for _ in range(3):
            levels.append(F.max_pool2d(levels[-1], 2))
        up = [self.up_convs[0](levels[3])]
        for step, level in enumerate((levels[2], levels[1], levels[0]), start=1):
            up.append(self.up_convs[step](self.up_attention[step - 1](level, up[-1])))
        # up: results at 1/8, 1/4, 1/2, 1; the top-down pass anchors on 1/2, 1/4, 1/4 (as the authors).
        first_down = down = self.down_convs[0](up[3])
        for step, anchor in enumerate((up[2], up[1], up[1]), start=1):
            down = self.down_convs[step](self.down_attention[step - 1](anchor, down))
        coarse = [F.interpolate(t, x.shape[-2:]) for t in (levels[3], up[0], down)]
        return self.fusion(torch.cat([x, up[3], first_down, *coarse], 1))


class CollaborativeUnit(nn.Module):
    """Encoder-decoder unit: dense residual chains at 1, 1/2, 1/4 size, similarity mining at the bottom.

    Decoder chains receive their encoder's unit outputs; sizes are reflect-padded to a multiple of
    :data:`UNIT_FACTOR` (bottom and right, so positions keep their encoding) and cropped back.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.encoders = nn.ModuleList(DenseResidualChain(n, channels) for n in (12, 2, 1))
        self.similarity = ScaleSimilarityMining(channels)
        self.decoders = nn.ModuleList(DenseResidualChain(n, channels) for n in (1, 2, 12))
        self.fusions = nn.ModuleList(_conv(2 * channels, channels, 1) for _ in range(2))

    def forward(self, x: Tensor) -> Tensor:
        height, width = x.shape[-2:]
        x = _pad(x, (0, -width % UNIT_FACTOR, 0, -height % UNIT_FACTOR))
        encoded, skips = [], []
        for i, encoder in enumerate(self.encoders):
            out, features = encoder(F.max_pool2d(encoded[-1], 2) if i else x)
            encoded.append(out)
            skips.append(features)
        out, _ = self.decoders[0](self.similarity(encoded[2]), skips[2])
        for decoder, fusion, enc, features in zip(self.decoders[1:], self.fusions, encoded[1::-1], skips[1::-1]):
            out, _ = decoder(fusion(torch.cat((enc, F.interpolate(out, enc.shape[-2:])), 1)), features)
        return out[..., :height, :width]


class HighOrderCollaborativeNet(nn.Module):
    """HCN: top (3 units), middle (2) and bottom (1) sub-networks exchanging features.

    ``forward(y)`` takes an N x 3 x H x W RGB batch in [0, 1] (any size) and returns
    ``(final, [middle, bottom, half, quarter])``: the top sub-network's estimate, the middle and
    bottom ones' (full size), and the estimates for ``pyr_down(y)`` (1/2) and ``pyr_down`` twice
    (1/4) made by the first units, which the multi-scale compact constraints supervise. Each is the
    input minus a predicted rain layer; nothing is clamped.
    """

    def __init__(self, channels: int = CHANNELS) -> None:
        super().__init__()
        self.enter_top = _conv_act(3, channels)
        self.enter_middle = _conv_act(3, channels)
        self.enter_bottom = _conv_act(3, channels)
        self.top = nn.ModuleList(CollaborativeUnit(channels) for _ in range(3))
        self.middle = nn.ModuleList(CollaborativeUnit(channels) for _ in range(2))
        self.bottom = CollaborativeUnit(channels)
        self.to_middle = _conv_act(2 * channels, channels)
        self.to_bottom = _conv_act(2 * channels, channels)
        self.top_fusion2 = _conv_act(2 * channels, channels)
        self.top_fusion3 = _conv_act(2 * channels, channels)
        self.middle_fusion2 = _conv_act(2 * channels, channels, 1)
        self.exit_top = _conv(channels, 3)
        self.exit_middle = _conv(channels, 3)
        self.exit_bottom = _conv(channels, 3)
        self.enter_half_top = _conv_act(3, channels)
        self.enter_half_middle = _conv_act(3, channels)
        self.exit_half = _conv(channels, 3)
        self.enter_quarter = _conv_act(3, channels)
        self.exit_quarter = _conv(channels, 3)

    def _middle_first(self, top1: Tensor, entered: Tensor) -> Tensor:
        return self.middle[0](self.to_middle(torch.cat((top1, entered), 1)))

    def forward(self, y: Tensor) -> tuple[Tensor, list[Tensor]]:
        top1 = self.top[0](self.enter_top(y))
        middle1 = self._middle_first(top1, self.enter_middle(y))
        bottom = self.bottom(self.to_bottom(torch.cat((middle1, self.enter_bottom(y)), 1)))
        top2 = self.top[1](self.top_fusion2(torch.cat((middle1, top1), 1)))
        middle2 = self.middle[1](self.middle_fusion2(torch.cat((bottom, middle1), 1)))
        top3 = self.top[2](self.top_fusion3(torch.cat((middle2, top2), 1)))

        y_half = pyr_down(y)
        y_quarter = pyr_down(y_half)
        half_middle = self._middle_first(self.top[0](self.enter_half_top(y_half)), self.enter_half_middle(y_half))
        half = y_half - self.exit_half(self.top[1](half_middle))
        quarter = y_quarter - self.exit_quarter(self.top[0](self.enter_quarter(y_quarter)))
        estimates = [y - self.exit_top(top3), y - self.exit_middle(middle2), y - self.exit_bottom(bottom)]
        return estimates[0], estimates[1:] + [half, quarter]


@register_model("hcn", ranges={"channels": CHANNEL_RANGE})
def hcn(channels: int = CHANNELS) -> HighOrderCollaborativeNet:
    """HCN (AAAI 2022): three collaborating sub-networks with multi-scale compact constraints."""
    return HighOrderCollaborativeNet(channels=channels)
