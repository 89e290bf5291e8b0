"""UBS (unsupervised background segmentation, SAPNet): make the output easy to segment with confidence.

One segmentation network is built once and frozen: an ImageNet-initialised backbone (the VGG-16
that PCL and LPIPS use, so its features of the output are computed once per step) and a
feature-pyramid head with Gaussian-initialised weights and 21 classes. Its prediction on the
derained output is scored with a focal loss (gamma 2) against its own arg-max, so no labels are needed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from derain_cli.losses.base import FrozenNet, LossBatch
from derain_cli.losses.vgg import VGG16Features

NUM_CLASSES = 21
HEAD_STD = 0.01
# Backbone levels (finest first) and their channels: strides 2, 4, 8, 16.
UBS_LAYERS = ("relu2_2", "relu3_3", "relu4_3", "relu5_3")
UBS_CHANNELS = (128, 256, 512, 512)


def _upsample_to(x: Tensor, like: Tensor) -> Tensor:
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=True)


class SegmentationHead(FrozenNet):
    """Feature-pyramid head: lateral 1x1s, top-down sum, two 3x3 smoothings per level, concat, 3x3 classifier.

    Weights ~ N(0, 0.01^2) and biases 0, drawn once from a generator seeded with ``seed``.
    """

    def __init__(self, num_classes: int = NUM_CLASSES, seed: int = 0, width: int = 256) -> None:
        super().__init__()
        self.lateral = nn.ModuleList(nn.Conv2d(c, width, 1) for c in UBS_CHANNELS)
        self.smooth = nn.ModuleList(
            nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.Conv2d(width, width // 2, 3, padding=1))
            for _ in UBS_CHANNELS
        )
        self.classify = nn.Conv2d(len(UBS_CHANNELS) * (width // 2), num_classes, 3, padding=1)
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for module in self.modules():
                if isinstance(module, nn.Conv2d):
                    module.weight.copy_(torch.randn(module.weight.shape, generator=generator) * HEAD_STD)
                    module.bias.zero_()
        self.freeze()

    def forward(self, features: dict[str, Tensor]) -> Tensor:
        levels = [lateral(features[name]) for lateral, name in zip(self.lateral, UBS_LAYERS)]
        for index in range(len(levels) - 2, -1, -1):  # top-down: coarser levels flow into finer ones
            levels[index] = levels[index] + _upsample_to(levels[index + 1], levels[index])
        smoothed = [smooth(level) for smooth, level in zip(self.smooth, levels)]
        finest = smoothed[0]
        return self.classify(torch.cat([finest] + [_upsample_to(s, finest) for s in smoothed[1:]], dim=1))


def focal_loss(logits: Tensor, target: Tensor, gamma: float = 2.0, eps: float = 1e-7) -> Tensor:
    """Mean over pixels of ``-(1 - p_t)^gamma * log(p_t)``, p_t = softmax probability of the target class."""
    p_t = F.softmax(logits.float(), dim=1).gather(1, target[:, None]).squeeze(1).clamp(eps, 1 - eps)
    return (-(1 - p_t).pow(gamma) * p_t.log()).mean()


class UBSLoss(nn.Module):
    """Focal loss (gamma 2) of the frozen segmentation network on the derained output vs its own arg-max.

    Logits are at half the input resolution (the head's finest level is VGG's relu2_2).
    """

    def __init__(self, vgg: VGG16Features, head: SegmentationHead, gamma: float = 2.0) -> None:
        super().__init__()
        vgg.require(UBS_LAYERS, "the UBS loss")
        self.vgg = vgg
        self.head = head
        self.gamma = gamma

    def forward(self, batch: LossBatch) -> Tensor:
        logits = self.head(self.vgg.of(batch, "output"))
        return focal_loss(logits, logits.argmax(dim=1).detach(), self.gamma)
