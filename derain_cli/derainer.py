"""The Python API: ``Derainer`` turns rainy RGB arrays into derained ones."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from derain_cli.checkpoints import load_into
from derain_cli.devices import resolve_device
from derain_cli.errors import DerainError
from derain_cli.models import create_model
from derain_cli.tiling import tiled_forward

# Peak activation memory of one forward pass, bytes per input pixel (measured on CPU, fp32).
BYTES_PER_PIXEL = 1600
DEFAULT_CPU_BUDGET = 2 * 1024**3


def build_network(model: str, weights: str | os.PathLike[str] | None) -> nn.Module:
    """Create architecture ``model`` and load ``weights`` into it (checked tensor by tensor)."""
    net = create_model(model)
    if weights is None:
        raise DerainError(
            f"no checkpoint for model {model!r}: pass --weights PATH "
            "(an authors' .pth state dict or a .safetensors file)"
        )
    return load_into(net, Path(weights))


class Derainer:
    """Derain images with a pretrained network.

    ``Derainer(model="sapnet", weights=None, device="auto", tile=None)``: ``device`` is
    ``auto``, ``cpu`` or ``cuda``; ``tile`` is None (tile automatically when an image would
    exceed the memory budget), 0 (never tile) or N (tiles of N pixels with overlap).
    Call it on an H x W x 3 uint8 RGB array to get the derained H x W x 3 uint8 array.
    """

    def __init__(
        self,
        model: str = "sapnet",
        weights: str | os.PathLike[str] | None = None,
        device: str = "auto",
        tile: int | None = None,
        memory_budget: int | None = None,
    ) -> None:
        if tile is not None and tile < 0:
            raise DerainError(f"tile must be None, 0 or a positive size, got {tile}")
        self.model_name = model
        self.device = resolve_device(device)
        self.tile = tile
        self.memory_budget = memory_budget or DEFAULT_CPU_BUDGET
        self.network = build_network(model, weights).to(self.device).eval()
        for p in self.network.parameters():
            p.requires_grad_(False)

    def _forward(self, x: Tensor) -> Tensor:
        return self.network(x)[0]

    def tile_size(self, height: int, width: int) -> int:
        """The tile size used for an image of this size (0 = whole image at once)."""
        if self.tile is not None:
            return 0 if self.tile >= max(height, width) else self.tile
        max_pixels = self.memory_budget // BYTES_PER_PIXEL
        if height * width <= max_pixels:
            return 0
        return max(64, int(math.sqrt(max_pixels)) // 8 * 8)

    @torch.inference_mode()
    def derain_tensor(self, x: Tensor) -> Tensor:
        """Derain a 1 x 3 x H x W float batch in [0, 1]; returns a CPU float tensor clamped to [0, 1]."""
        x = x.to(self.device, torch.float32)
        tile = self.tile_size(x.shape[2], x.shape[3])
        if tile:
            y = tiled_forward(self._forward, x, tile, overlap=max(16, tile // 4))
        else:
            y = self._forward(x)
        return y.float().clamp_(0, 1).cpu()

    def derain_float(self, rgb: np.ndarray) -> np.ndarray:
        """Derain an H x W x 3 float array in [0, 1]; returns float32 in [0, 1]."""
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"expected an H x W x 3 RGB array, got shape {rgb.shape}")
        x = torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32)).permute(2, 0, 1)[None]
        return self.derain_tensor(x)[0].permute(1, 2, 0).numpy()

    def derain_batch(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        """Derain several H x W x 3 uint8 frames of one size together (one batched forward when untiled)."""
        if not frames:
            return []
        height, width = frames[0].shape[:2]
        if self.tile_size(height, width * len(frames)) or any(f.shape != frames[0].shape for f in frames):
            return [self(f) for f in frames]
        x = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float().div_(255.0)
        with torch.inference_mode():
            y = self._forward(x.to(self.device)).float().clamp_(0, 1).mul_(255.0).round_()
        return list(y.to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy())

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """Derain an H x W x 3 uint8 RGB array; returns the derained H x W x 3 uint8 array."""
        if rgb.dtype != np.uint8:
            raise ValueError(f"expected a uint8 array, got {rgb.dtype}")
        out = self.derain_float(rgb.astype(np.float32) / 255.0)
        return np.rint(out * 255.0).astype(np.uint8)
