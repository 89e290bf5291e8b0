"""VGG-16 feature extractor (torchvision / timm ``vgg16.tv_in1k`` layout), frozen, ImageNet-normalised."""

from __future__ import annotations

import os
from collections.abc import Iterable

from torch import Tensor, nn

from derain_cli.losses.base import FrozenNet, ImageNetNormalize, LossBatch, load_mapped

# Convolution widths of VGG-16 ("M" = 2 x 2 max-pool); ``features.N`` indices match torchvision and timm.
VGG16_CONFIG: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512,
)  # fmt: skip
# Index in ``features`` of each ReLU the losses read.
VGG16_LAYERS = {"relu1_2": 3, "relu2_2": 8, "relu3_3": 15, "relu4_3": 22, "relu5_3": 29}


def _layers(config: tuple[int | str, ...]) -> list[nn.Module]:
    layers: list[nn.Module] = []
    channels = 3
    for item in config:
        if item == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(channels, int(item), 3, padding=1), nn.ReLU()]
            channels = int(item)
    return layers


class VGG16Features(FrozenNet):
    """``forward(x)`` (RGB in [0, 1]) -> {layer name: activation} for the requested ReLU layers.

    The input is ImageNet-normalised first. Only the layers up to the deepest requested one are built.
    Weights: :meth:`from_file` reads a torchvision or timm (``timm/vgg16.tv_in1k``) VGG-16 checkpoint; the
    classifier tensors in it are ignored.
    """

    def __init__(self, layers: tuple[str, ...] = tuple(VGG16_LAYERS)) -> None:
        super().__init__()
        unknown = [name for name in layers if name not in VGG16_LAYERS]
        if unknown:
            raise ValueError(f"unknown VGG-16 layer {unknown[0]!r}; known: {', '.join(VGG16_LAYERS)}")
        self.layers = tuple(sorted(layers, key=VGG16_LAYERS.__getitem__))
        self.normalize = ImageNetNormalize()
        self.features = nn.Sequential(*_layers(VGG16_CONFIG)[: VGG16_LAYERS[self.layers[-1]] + 1])
        self.freeze()

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], layers: tuple[str, ...] = tuple(VGG16_LAYERS)) -> VGG16Features:
        """The extractor with VGG-16 weights (``features.N.weight`` / ``.bias``) loaded from ``path``."""
        return load_mapped(cls.empty(layers), path).freeze()

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        wanted = {VGG16_LAYERS[name]: name for name in self.layers}
        out: dict[str, Tensor] = {}
        h = self.normalize(x)
        for index, layer in enumerate(self.features):
            h = layer(h)
            if index in wanted:
                out[wanted[index]] = h
        return out

    def require(self, layers: Iterable[str], user: str) -> None:
        """Raise ValueError when this extractor lacks one of ``layers``, needed by ``user``."""
        missing = [name for name in layers if name not in self.layers]
        if missing:
            raise ValueError(f"the VGG-16 extractor lacks layer {missing[0]} needed by {user}")

    def of(self, batch: LossBatch, which: str) -> dict[str, Tensor]:
        """Features of ``batch.<which>`` (output, clean or rainy), computed once per step."""
        return batch.memo((id(self), which), lambda: self(getattr(batch, which)))
