"""The Python API: ``Derainer`` turns rainy RGB arrays into derained ones."""

from __future__ import annotations

import os

import numpy as np
import torch
from torch import Tensor, nn

from derain_cli.checkpoints import load_into
from derain_cli.devices import resolve_device
from derain_cli.fast import accelerate, resolve_precision, serves_bf16
from derain_cli.models import create_model
from derain_cli.streak_stage import StreakStage
from derain_cli.tiling import check_tile, tile_overlap, tiled_forward
from derain_cli.weights.registry import DEFAULT_MODEL

# Peak activation memory of the plain forward pass, bytes per input pixel (CPU, float32;
# benchmarks/RESULTS.md). The fast paths state their own (derain_cli.fast).
BYTES_PER_PIXEL = 3200
# Activation memory allowed on the CPU: a 1080p photo then stays under 2.5 GB for the process.
DEFAULT_CPU_BUDGET = 1536 * 1024**2
# Share of the free GPU memory a forward pass may use.
CUDA_BUDGET_SHARE = 0.5


def build_network(model: str, weights: str | os.PathLike[str] | None = None) -> nn.Module:
    """Create ``model`` (an architecture or a weights.toml name) and load its checkpoint, checked tensor by tensor.

    ``weights=None`` takes the registered checkpoint, fetched and sha256-verified (``derain_cli.weights``).
    """
    from derain_cli.weights.resolve import resolve_model  # here: derain_cli.weights needs the finished package

    resolved = resolve_model(model, weights)
    return load_into(create_model(resolved.architecture, **resolved.options), resolved.checkpoint)


class Derainer:
    """Derain images with a pretrained network.

    ``Derainer(model=DEFAULT_MODEL, weights=None, device="auto", tile=None)``: ``device`` is
    ``auto``, ``cpu`` or ``cuda``; ``tile`` is None (tile automatically when an image would
    exceed the memory budget), 0 (never tile) or N (tiles of N pixels with overlap);
    ``precision`` is ``auto`` (fp16 on CUDA; on the CPU bf16 for SAPNet / PReNet where the CPU
    has native bf16 instructions, else fp32), ``fp32``, ``fp16`` or ``bf16``. ``stage``: True runs
    the streak stage the weights.toml entry names (``derain_cli.streak_stage``; most have none),
    False none, a :class:`StreakStage` that one after any model; it runs on the whole image, after tiling.
    Call it on an H x W x 3 uint8 RGB array to get the derained H x W x 3 uint8 array.

    SAPNet and PReNet (VRGNet's too) run a fast path derived from the loaded weights (``derain_cli.fast``).
    On the CPU it works in exact row bands, so there ``tile`` = N only sets the band size
    (N x N pixels) and overlapping tiles are used only beyond the memory budget (never with 0).
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        weights: str | os.PathLike[str] | None = None,
        device: str = "auto",
        tile: int | None = None,
        memory_budget: int | None = None,
        precision: str = "auto",
        stage: StreakStage | bool = True,
    ) -> None:
        from derain_cli.weights.resolve import stage_of

        network = build_network(model, weights)
        self._configure(model, device, tile, memory_budget, precision, serves_bf16(network))
        self.stage = stage_of(model) if stage is True else stage or None
        self.network = network.to(self.device).eval()
        for p in self.network.parameters():
            p.requires_grad_(False)
        self.rebuild_fast_path()

    @classmethod
    def from_network(cls, network: nn.Module, device: str = "auto", tile: int | None = None, precision: str = "fp32") -> Derainer:
        """Wrap a network built elsewhere (e.g. one being fine-tuned): moved to ``device``, left trainable.

        It runs the plain forward pass until :meth:`rebuild_fast_path` derives a fast path from
        the network's weights as they are then (weights change while fine-tuning).
        """
        derainer = cls.__new__(cls)
        derainer._configure(type(network).__name__, device, tile, None, precision, serves_bf16(network))
        derainer.network = network.to(derainer.device)
        derainer._fast = None
        derainer.stage = None
        return derainer

    def rebuild_fast_path(self) -> None:
        """Derive the fast path again from the network's current weights (cheap: no compilation)."""
        tile = self.tile
        self._fast = accelerate(self.network, self.device, self.dtype, band_pixels=tile * tile if tile else None)

    def _configure(
        self, name: str, device: str, tile: int | None, memory_budget: int | None, precision: str, bf16_served: bool = False
    ) -> None:
        """Check and resolve the settings both constructors share."""
        check_tile(tile)
        self.model_name = name
        self.device = resolve_device(device)
        self.dtype = resolve_precision(precision, self.device, bf16_served)
        self.tile = tile
        self.memory_budget = memory_budget or _default_budget(self.device)

    def _network_forward(self, x: Tensor) -> Tensor:
        """The network's final estimate for an N x 3 x H x W float32 batch on the device."""
        if self._fast is not None:
            return self._fast(x)
        with torch.autocast(self.device.type, self.dtype, enabled=self.dtype != torch.float32):
            return self.network(x)[0].float()

    def _peak_bytes(self, pixels: int) -> int:
        """Peak activation memory of one forward pass over ``pixels`` pixels."""
        if self._fast is not None:
            return self._fast.peak_bytes(pixels)
        return BYTES_PER_PIXEL * self.dtype.itemsize // 4 * pixels

    def tile_size(self, height: int, width: int) -> int:
        """Side of the overlapping tiles an image of this size is cut into (0 = whole image at once).

        Without exact bands, ``tile`` N is the tile side. With them (SAPNet/PReNet on the CPU), N sets
        the band size and the image runs whole whenever it fits the budget with those bands (which
        never hold more than the image); beyond it, as without ``tile``, it is cut into the largest
        overlapping tiles (multiples of 8 pixels, at least 64) that fit.
        """
        exact_bands = self._fast is not None and self._fast.exact_bands
        if self.tile == 0 or (self.tile is not None and not exact_bands):
            return 0 if not self.tile or self.tile >= max(height, width) else self.tile
        if self._peak_bytes(height * width) <= self.memory_budget:
            return 0
        side = 64
        while side + 8 < max(height, width) and self._peak_bytes((side + 8) ** 2) <= self.memory_budget:
            side += 8
        return side

    def _tiles_per_batch(self, tile: int) -> int:
        """Tiles run together: as many as fit the budget on CUDA, one on the CPU (no gain there)."""
        if self.device.type != "cuda":
            return 1
        return max(1, self.memory_budget // self._peak_bytes(tile * tile))

    @torch.inference_mode()
    def derain_tensor(self, x: Tensor) -> Tensor:
        """Derain a 1 x 3 x H x W float batch in [0, 1]; returns a CPU float tensor clamped to [0, 1]."""
        x = x.to(self.device, torch.float32)
        tile = self.tile_size(x.shape[2], x.shape[3])
        if tile:
            y = tiled_forward(self._network_forward, x, tile, tile_overlap(tile), self._tiles_per_batch(tile))
        else:
            y = self._network_forward(x)
        return self._staged(x, y).clamp_(0, 1).cpu()

    def _staged(self, x: Tensor, y: Tensor) -> Tensor:
        """The network's output ``y`` of ``x``, through the streak stage when there is one (float32)."""
        y = y.float()
        return self.stage(x, y.clamp(0, 1)) if self.stage is not None else y

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
            x = x.to(self.device)
            y = self._staged(x, self._network_forward(x)).clamp_(0, 1).mul_(255.0).round_()
        return list(y.to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy())

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """Derain an H x W x 3 uint8 RGB array; returns the derained H x W x 3 uint8 array."""
        if rgb.dtype != np.uint8:
            raise ValueError(f"expected a uint8 array, got {rgb.dtype}")
        out = self.derain_float(rgb.astype(np.float32) / 255.0)
        return np.rint(out * 255.0).astype(np.uint8)


def _default_budget(device: torch.device) -> int:
    """Activation memory one forward pass may take on ``device``."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free * CUDA_BUDGET_SHARE)
    return DEFAULT_CPU_BUDGET
