"""ESPNet (Mehta et al., ECCV 2018): efficient spatial pyramids of dilated convolutions for street scenes.

Re-implemented from the authors' ``test/Model.py`` and ``train/Model.py`` (sacmehta/ESPNet @ afe71c3,
MIT); module and parameter names follow theirs, so their ``espnet_p_2_q_8*.pth`` state dicts load
unchanged. The two files differ in one place, and each published checkpoint fits one of them: the
last decoder stage joins the 16-channel level-1 output (``test/Model.py``; the Cityscapes file) or its
19-channel concatenation with the half-size image (``train/Model.py``; the CamVid file):
``image_skip``. The
encoder (ESPNet-C) works at 1/8 of the input; the light decoder brings the classes back to full size
with three stride-2 transposed convolutions, so the input's sides must be multiples of 8.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

BN_EPS = 1e-3  # the authors' BatchNorm epsilon
MULTIPLE = 8  # input sides must be multiples of this


class ConvBN(nn.Module):
    """Convolution (no bias) -> BatchNorm -> PReLU; ``act=False`` stops after the BatchNorm."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, act: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding=(kernel - 1) // 2, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.act = nn.PReLU(cout) if act else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.bn(self.conv(x)))


class BNPReLU(nn.Module):
    """BatchNorm -> PReLU (the authors' ``BR``)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, eps=BN_EPS)
        self.act = nn.PReLU(channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.bn(x))


class Conv(nn.Module):
    """A bias-free convolution, padded to keep the size (the authors' ``C`` / ``CDilated``)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        pad = (kernel - 1) // 2 * dilation
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding=pad, dilation=dilation, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class ESPBlock(nn.Module):
    """Reduce (1x1, or a strided 3x3 when down-sampling) -> five dilated 3x3 branches (1, 2, 4, 8, 16) ->
    hierarchical sums (against gridding) -> concatenation; optional identity residual.

    ``down=True`` is the authors' ``DownSamplerB`` (BatchNorm + PReLU as ``bn``/``act``), otherwise
    ``DilatedParllelResidualBlockB`` (the same pair wrapped as ``bn``).
    """

    def __init__(self, cin: int, cout: int, add: bool = True, down: bool = False) -> None:
        super().__init__()
        n = cout // 5
        self.c1 = Conv(cin, n, 3, 2) if down else Conv(cin, n, 1)
        self.d1 = Conv(n, cout - 4 * n, 3)
        self.d2, self.d4, self.d8, self.d16 = (Conv(n, n, 3, dilation=d) for d in (2, 4, 8, 16))
        self.down = down
        self.add = add and not down
        if down:
            self.bn = nn.BatchNorm2d(cout, eps=BN_EPS)
            self.act = nn.PReLU(cout)
        else:
            self.bn = BNPReLU(cout)

    def forward(self, x: Tensor) -> Tensor:
        reduced = self.c1(x)
        sums = [self.d2(reduced)]
        for branch in (self.d4, self.d8, self.d16):
            sums.append(sums[-1] + branch(reduced))
        merged = torch.cat([self.d1(reduced), *sums], 1)
        if self.add:
            merged = merged + x
        return self.act(self.bn(merged)) if self.down else self.bn(merged)


class ImagePyramid(nn.Module):
    """The input image down-sampled ``times`` times by 3x3 average pooling (stride 2), fed to deeper levels."""

    def __init__(self, times: int) -> None:
        super().__init__()
        self.pool = nn.ModuleList(nn.AvgPool2d(3, stride=2, padding=1) for _ in range(times))

    def forward(self, x: Tensor) -> Tensor:
        for pool in self.pool:
            x = pool(x)
        return x


class ESPNetEncoder(nn.Module):
    """ESPNet-C: three levels (1/2, 1/4, 1/8) with ``p`` and ``q`` ESP blocks, and a 1x1 classifier."""

    def __init__(self, classes: int, p: int, q: int) -> None:
        super().__init__()
        self.level1 = ConvBN(3, 16, 3, 2)
        self.sample1 = ImagePyramid(1)
        self.sample2 = ImagePyramid(2)
        self.b1 = BNPReLU(16 + 3)
        self.level2_0 = ESPBlock(16 + 3, 64, down=True)
        self.level2 = nn.ModuleList(ESPBlock(64, 64) for _ in range(p))
        self.b2 = BNPReLU(128 + 3)
        self.level3_0 = ESPBlock(128 + 3, 128, down=True)
        self.level3 = nn.ModuleList(ESPBlock(128, 128) for _ in range(q))
        self.b3 = BNPReLU(256)
        self.classifier = Conv(256, classes, 1)

    def features(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Level-1 output and the concatenated features of the three levels (1/2, 1/4 and 1/8 of the input)."""
        out0 = self.level1(x)
        cat0 = self.b1(torch.cat([out0, self.sample1(x)], 1))
        down1 = self.level2_0(cat0)
        out1 = down1
        for block in self.level2:
            out1 = block(out1)
        cat1 = self.b2(torch.cat([out1, down1, self.sample2(x)], 1))
        down2 = self.level3_0(cat1)
        out2 = down2
        for block in self.level3:
            out2 = block(out2)
        cat2 = self.b3(torch.cat([down2, out2], 1))
        return out0, cat0, cat1, cat2


def _up(channels: int) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(channels, channels, 2, stride=2, bias=False)


class ESPNet(nn.Module):
    """ESPNet with the light decoder; ``forward`` returns (logits at the input size, encoder features)."""

    def __init__(self, classes: int = 20, p: int = 2, q: int = 8, image_skip: bool = False) -> None:
        super().__init__()
        self.image_skip = image_skip
        self.encoder = ESPNetEncoder(classes, p, q)
        self.level3_C = Conv(128 + 3, classes, 1)
        self.br = nn.BatchNorm2d(classes, eps=BN_EPS)
        self.conv = ConvBN((19 if image_skip else 16) + classes, classes, 3)
        self.up_l3 = nn.Sequential(_up(classes))
        self.combine_l2_l3 = nn.Sequential(BNPReLU(2 * classes), ESPBlock(2 * classes, classes, add=False))
        self.up_l2 = nn.Sequential(_up(classes), BNPReLU(classes))
        self.classifier = _up(classes)

    def forward(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
        out0, cat0, cat1, cat2 = self.encoder.features(x)
        deep = self.up_l3(self.br(self.encoder.classifier(cat2)))
        middle = self.up_l2(self.combine_l2_l3(torch.cat([self.level3_C(cat1), deep], 1)))
        logits = self.classifier(self.conv(torch.cat([middle, cat0 if self.image_skip else out0], 1)))
        return logits, (cat0, cat1, cat2)
