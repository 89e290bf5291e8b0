"""ESPNetv2 segmentation (Mehta et al., CVPR 2019): EESP blocks (grouped, depth-wise dilated) and an
efficient-pyramid-pooling decoder.

Re-implemented from the authors' EdgeNets (sacmehta/EdgeNets @ 2b232d3, MIT):
``model/segmentation/espnetv2.py``, ``model/classification/espnetv2.py`` (the encoder, without its
level 5 and classifier), ``nn_layers/{eesp,espnet_utils,cnn_utils,efficient_pyramid_pool,efficient_pt}.py``.
Module and parameter names follow theirs, so ``espnetv2_s_2.0_city_1024x512.pth`` loads unchanged.
Input sides should be multiples of 32 (the authors' demo rounds to them); the logits come back at
the input size.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

MULTIPLE = 32
CHANNELS = {0.5: (16, 32, 64, 128), 1.0: (32, 64, 128, 256), 1.5: (32, 96, 192, 384), 2.0: (32, 128, 256, 512)}
REPEATS = (3, 7)  # EESP blocks at levels 3 and 4
RECEPTIVE_LIMITS = (13, 11, 9, 7)  # of levels 2, 3, 4 and the level-4 blocks
BRANCHES = 4
DILATION_OF_KERNEL = {3: 1, 5: 2, 7: 3, 9: 4, 11: 5, 13: 6, 15: 7, 17: 8}
PYRAMID_SCALES = (2.0, 1.5, 1.0, 0.5, 0.1)


def _conv(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, dilation: int = 1) -> nn.Conv2d:
    pad = (kernel - 1) // 2 * dilation
    return nn.Conv2d(cin, cout, kernel, stride, padding=pad, dilation=dilation, groups=groups, bias=False)


class CBR(nn.Module):
    """Convolution -> BatchNorm -> PReLU as attributes ``conv``/``bn``/``act`` (``espnet_utils``);
    ``act=False`` stops after the BatchNorm (the authors' ``CB``)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, act: bool = True) -> None:
        super().__init__()
        self.conv = _conv(cin, cout, kernel, stride, groups)
        self.bn = nn.BatchNorm2d(cout)
        self.act = nn.PReLU(cout) if act else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.bn(self.conv(x)))


class SeqCBR(nn.Module):
    """The same, held in one Sequential ``cbr`` (``cnn_utils``, used by the decoder)."""

    def __init__(self, cin: int, cout: int, kernel: int, groups: int = 1) -> None:
        super().__init__()
        self.cbr = nn.Sequential(_conv(cin, cout, kernel, groups=groups), nn.BatchNorm2d(cout), nn.PReLU(cout))

    def forward(self, x: Tensor) -> Tensor:
        return self.cbr(x)


class SeqBR(nn.Module):
    """BatchNorm -> PReLU in one Sequential ``br`` (``cnn_utils``)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.br = nn.Sequential(nn.BatchNorm2d(channels), nn.PReLU(channels))

    def forward(self, x: Tensor) -> Tensor:
        return self.br(x)


class BR(nn.Module):
    """BatchNorm -> PReLU as ``bn``/``act`` (``espnet_utils``)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels)
        self.act = nn.PReLU(channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.bn(x))


class DepthwiseDilated(nn.Module):
    """A depth-wise 3x3 convolution with a dilation (``CDilated``, attribute ``conv``)."""

    def __init__(self, channels: int, stride: int, dilation: int) -> None:
        super().__init__()
        self.conv = _conv(channels, channels, 3, stride, groups=channels, dilation=dilation)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class EESP(nn.Module):
    """Grouped 1x1 reduction -> ``k`` depth-wise dilated branches, summed hierarchically -> BR ->
    grouped 1x1 expansion; identity residual when shapes allow. With ``stride=2`` and ``avg`` it
    returns the expansion alone, for :class:`DownSampler` to combine."""

    def __init__(self, cin: int, cout: int, stride: int = 1, k: int = BRANCHES, r_lim: int = 7, avg: bool = False) -> None:
        super().__init__()
        n = cout // k
        if n * k != cout:
            raise ValueError(f"EESP: {cout} channels do not split into {k} equal branches")
        self.stride = stride
        self.proj_1x1 = CBR(cin, n, 1, groups=k)
        kernels = sorted(size if size <= r_lim else 3 for size in (3 + 2 * i for i in range(k)))
        self.spp_dw = nn.ModuleList(DepthwiseDilated(n, stride, DILATION_OF_KERNEL[size]) for size in kernels)
        self.conv_1x1_exp = CBR(cout, cout, 1, groups=k, act=False)
        self.br_after_cat = BR(cout)
        self.module_act = nn.PReLU(cout)
        self.down_avg = avg

    def forward(self, x: Tensor) -> Tensor:
        reduced = self.proj_1x1(x)
        branches = [self.spp_dw[0](reduced)]
        for branch in self.spp_dw[1:]:
            branches.append(branch(reduced) + branches[-1])
        expanded = self.conv_1x1_exp(self.br_after_cat(torch.cat(branches, 1)))
        if self.stride == 2 and self.down_avg:
            return expanded
        if expanded.shape == x.shape:
            expanded = expanded + x
        return self.module_act(expanded)


class DownSampler(nn.Module):
    """Halves the size: [3x3 average pool, strided EESP] concatenated, plus a projection of the input
    image pooled to the same size (input reinforcement)."""

    def __init__(self, cin: int, cout: int, r_lim: int) -> None:
        super().__init__()
        self.eesp = EESP(cin, cout - cin, stride=2, r_lim=r_lim, avg=True)
        self.avg = nn.AvgPool2d(3, stride=2, padding=1)
        self.inp_reinf = nn.Sequential(CBR(3, 3, 3), CBR(3, cout, 1, act=False))
        self.act = nn.PReLU(cout)

    def forward(self, x: Tensor, image: Tensor) -> Tensor:
        pooled = self.avg(x)
        out = torch.cat([pooled, self.eesp(x)], 1)
        while image.shape[-2] > pooled.shape[-2]:
            image = F.avg_pool2d(image, 3, stride=2, padding=1)
        return self.act(out + self.inp_reinf(image))


class EESPNetEncoder(nn.Module):
    """Levels 1-4 of the ESPNetv2 ImageNet network (1/2 to 1/16 of the input)."""

    def __init__(self, scale: float) -> None:
        super().__init__()
        ch = CHANNELS[scale]
        self.config = ch
        self.level1 = CBR(3, ch[0], 3, 2)
        self.level2_0 = DownSampler(ch[0], ch[1], RECEPTIVE_LIMITS[0])
        self.level3_0 = DownSampler(ch[1], ch[2], RECEPTIVE_LIMITS[1])
        self.level3 = nn.ModuleList(EESP(ch[2], ch[2], r_lim=RECEPTIVE_LIMITS[2]) for _ in range(REPEATS[0]))
        self.level4_0 = DownSampler(ch[2], ch[3], RECEPTIVE_LIMITS[2])
        self.level4 = nn.ModuleList(EESP(ch[3], ch[3], r_lim=RECEPTIVE_LIMITS[3]) for _ in range(REPEATS[1]))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        l1 = self.level1(x)
        l2 = self.level2_0(l1, x)
        l3 = self.level3_0(l2, x)
        for block in self.level3:
            l3 = block(l3)
        l4 = self.level4_0(l3, x)
        for block in self.level4:
            l4 = block(l4)
        return l1, l2, l3, l4


class Shuffle(nn.Module):
    """Channel shuffle over ``groups`` groups."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        return x.view(n, self.groups, c // self.groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class EfficientPyrPool(nn.Module):
    """Projection, a depth-wise 3x3 at five scales (2, 1.5, 1, 0.5, 0.1 of the size), merged by a
    shuffled grouped 3x3 and a 1x1 to ``cout``."""

    def __init__(self, cin: int, proj: int, cout: int, last_layer_br: bool = True) -> None:
        super().__init__()
        self.projection_layer = SeqCBR(cin, proj, 1)
        self.stages = nn.ModuleList(_conv(proj, proj, 3, groups=proj) for _ in PYRAMID_SCALES)
        self.merge_layer = nn.Sequential(
            SeqBR(proj * len(PYRAMID_SCALES)),
            Shuffle(len(PYRAMID_SCALES)),
            SeqCBR(proj * len(PYRAMID_SCALES), proj, 3, groups=proj),
            nn.Conv2d(proj, cout, 1, bias=not last_layer_br),
        )
        self.br = SeqBR(cout) if last_layer_br else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        x = self.projection_layer(x)
        h, w = x.shape[-2:]
        outs = []
        for scale, stage in zip(PYRAMID_SCALES, self.stages):
            size = (max(math.ceil(h * scale), 5), max(math.ceil(w * scale), 5))
            if scale < 1.0:
                y = F.interpolate(stage(F.adaptive_avg_pool2d(x, size)), (h, w), mode="bilinear", align_corners=True)
            elif scale > 1.0:
                y = F.adaptive_avg_pool2d(stage(F.interpolate(x, size, mode="bilinear", align_corners=True)), (h, w))
            else:
                y = stage(x)
            outs.append(y)
        return self.br(self.merge_layer(torch.cat(outs, 1)))


class EfficientPWConv(nn.Module):
    """Grouped 3x3 expansion scaled by a sigmoid channel gate of the global average."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.wt_layer = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(cin, cout, 1, bias=False), nn.Sigmoid())
        self.expansion_layer = SeqCBR(cin, cout, 3, groups=math.gcd(cin, cout))

    def forward(self, x: Tensor) -> Tensor:
        return self.expansion_layer(x) * self.wt_layer(x)


def _br(channels: int) -> nn.Sequential:
    return nn.Sequential(nn.BatchNorm2d(channels), nn.PReLU(channels))


class ESPNetv2Segmentation(nn.Module):
    """ESPNetv2 for segmentation; ``forward`` returns (logits at the input size, encoder features)."""

    def __init__(self, classes: int = 20, scale: float = 2.0, decoder_planes: int = 16) -> None:
        super().__init__()
        self.base_net = EESPNetEncoder(scale)
        ch = self.base_net.config
        planes = (4 * decoder_planes, 3 * decoder_planes, 2 * decoder_planes, classes)
        proj = min(classes // 2, decoder_planes)
        self.bu_dec_l1 = EfficientPyrPool(ch[3], proj, planes[0])
        self.bu_dec_l2 = EfficientPyrPool(planes[0], proj, planes[1])
        self.bu_dec_l3 = EfficientPyrPool(planes[1], proj, planes[2])
        self.bu_dec_l4 = EfficientPyrPool(planes[2], proj, planes[3], last_layer_br=False)
        self.merge_enc_dec_l2 = EfficientPWConv(ch[2], planes[0])
        self.merge_enc_dec_l3 = EfficientPWConv(ch[1], planes[1])
        self.merge_enc_dec_l4 = EfficientPWConv(ch[0], planes[2])
        self.bu_br_l2, self.bu_br_l3, self.bu_br_l4 = _br(planes[0]), _br(planes[1]), _br(planes[2])

    def forward(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
        l1, l2, l3, l4 = self.base_net(x)
        out = self.bu_dec_l1(l4)
        for skip, merge, br, dec in (
            (l3, self.merge_enc_dec_l2, self.bu_br_l2, self.bu_dec_l2),
            (l2, self.merge_enc_dec_l3, self.bu_br_l3, self.bu_dec_l3),
            (l1, self.merge_enc_dec_l4, self.bu_br_l4, self.bu_dec_l4),
        ):
            out = F.interpolate(out, scale_factor=2, mode="bilinear", align_corners=True)
            out = dec(br(merge(skip) + out))
        logits = F.interpolate(out, size=x.shape[-2:], mode="bilinear", align_corners=True)
        return logits, (l1, l2, l3, l4)
