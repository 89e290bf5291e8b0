"""Built-in segmentation networks (ESPNet, ESPNetv2): the authors' weights, preprocessing and classes,
described by a ``[segmentation.NAME]`` entry of weights.toml with an ``architecture``.

They need nothing beyond PyTorch (no transformers, no Hub): the checkpoint is fetched and verified
like a deraining checkpoint (``$DERAIN_WEIGHTS_DIR`` first, then the authors' pinned GitHub URL).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from derain_cli.checkpoints import kind_problem
from derain_cli.errors import DerainError
from derain_cli.segment import espnet, espnetv2

ARCHITECTURES: dict[str, tuple[Callable[..., nn.Module], int]] = {
    "espnet": (espnet.ESPNet, espnet.MULTIPLE),
    "espnetv2": (espnetv2.ESPNetv2Segmentation, espnetv2.MULTIPLE),
}


@dataclass(frozen=True)
class Preprocessing:
    """The authors' input transform: ``((pixel / scale_before) - mean) / std / scale_after`` in
    ``channels`` order, at ``size`` (W, H) by bilinear resizing (``antialias`` as PIL's resize does)."""

    channels: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    scale_before: float
    scale_after: float
    size: tuple[int, int] | None
    antialias: bool

    @classmethod
    def from_table(cls, where: str, table: dict[str, Any]) -> Preprocessing:
        try:
            channels = str(table.get("channels", "RGB")).upper()
            if channels not in ("RGB", "BGR"):
                raise ValueError(f"channels must be RGB or BGR, not {channels}")
            size = table.get("size")
            return cls(
                channels,
                tuple(float(v) for v in table["mean"]),
                tuple(float(v) for v in table["std"]),
                float(table.get("scale_before", 1.0)),
                float(table.get("scale_after", 1.0)),
                (int(size[0]), int(size[1])) if size else None,
                table.get("resize", "bilinear") == "bilinear-antialias",
            )
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise DerainError(f"[{where}] preprocess: {exc}") from None


class BuiltinNetwork(nn.Module):
    """RGB in [0, 1] (N x 3 x H x W) -> (logits at H x W, encoder features), as the authors feed it.

    ``size=None`` runs at the image's own size rounded to the network's multiple (training patches);
    ``forward(x, preprocessing.size)`` at the authors' input size (prediction). Differentiable.
    """

    def __init__(self, network: nn.Module, preprocessing: Preprocessing, multiple: int) -> None:
        super().__init__()
        self.network = network
        self.preprocessing = preprocessing
        self.multiple = multiple
        p = preprocessing
        order = [2, 1, 0] if p.channels == "BGR" else [0, 1, 2]
        self.register_buffer("order", torch.tensor(order), persistent=False)
        mean = torch.tensor(p.mean).view(1, 3, 1, 1) * p.scale_before  # in [0, 1] pixel units
        scale = torch.tensor(p.std).view(1, 3, 1, 1) * p.scale_before * p.scale_after
        self.register_buffer("mean", mean / 255.0, persistent=False)
        self.register_buffer("scale", scale / 255.0, persistent=False)

    def normalise(self, x: Tensor) -> Tensor:
        return (x.index_select(1, self.order) - self.mean) / self.scale

    def _rounded(self, h: int, w: int) -> tuple[int, int]:
        m = self.multiple
        return max(m, round(h / m) * m), max(m, round(w / m) * m)

    def forward(self, x: Tensor, size: tuple[int, int] | None = None) -> tuple[Tensor, tuple[Tensor, ...]]:
        h, w = x.shape[-2:]
        target = (size[1], size[0]) if size else self._rounded(h, w)
        x = self.normalise(x)
        if target != (h, w):
            x = F.interpolate(x, size=target, mode="bilinear", align_corners=False, antialias=self.preprocessing.antialias)
        logits, features = self.network(x)
        if logits.shape[-2:] != (h, w):
            logits = F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)
        return logits, features

    @torch.inference_mode()
    def predict(self, pixels: np.ndarray, device: torch.device) -> np.ndarray:
        """Class ids (H x W uint8) of a uint8 H x W x 3 RGB image."""
        x = torch.from_numpy(np.array(pixels, dtype=np.uint8)).to(device).permute(2, 0, 1)[None].float().div_(255.0)
        logits, _ = self(x, self.preprocessing.size)
        return logits[0].argmax(dim=0).to(torch.uint8).cpu().numpy()


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[1] if len(lines) > 1 else (lines[0] if lines else type(exc).__name__)


def build_network(architecture: str, options: dict[str, Any], state: dict[str, Tensor], where: str) -> tuple[nn.Module, int]:
    """The architecture with the checkpoint's weights (eval mode) and the multiple its input sides need."""
    if architecture not in ARCHITECTURES:
        raise DerainError(f"[{where}] unknown segmentation architecture {architecture!r}; known: {', '.join(ARCHITECTURES)}")
    factory, multiple = ARCHITECTURES[architecture]
    network = factory(**options)
    problem = kind_problem(network, state)
    if problem:
        raise DerainError(f"[{where}] the checkpoint does not fit {architecture} {options}: {problem}")
    try:
        network.load_state_dict(state)
    except RuntimeError as exc:  # missing, unexpected or differently shaped tensors
        raise DerainError(f"[{where}] the checkpoint does not fit {architecture} {options}: {_first_line(exc)}") from None
    return network.eval(), multiple
