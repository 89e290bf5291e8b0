"""The Python API: ``Derainer`` turns rainy RGB arrays into derained ones."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from derain_cli.checkpoints import load_into
from derain_cli.devices import resolve_device
from derain_cli.fast import accelerate, precision_name, resolve_precision, serves_bf16
from derain_cli.models import create_model, is_video_network
from derain_cli.models.s2vd import BandPlan
from derain_cli.streak_stage import StreakStage
from derain_cli.tile_rule import check_tile
from derain_cli.tiling import tile_overlap, tiled_forward
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
    ``route``: True follows the heavy-rain route the entry names (``derain_cli.rain_route``: images the
    network removes much rain from also go to a second network, built on first use), False never; a
    checkpoint given as ``weights`` runs without it (the route was chosen for the entry's own network);
    ``routed`` counts the images it has sent on.
    Call it on an H x W x 3 uint8 RGB array to get the derained H x W x 3 uint8 array.

    A video model (S2VD: ``derainer.video`` is True) derains clips only (:meth:`derain_clip`, driven by
    ``derain_cli.video.clip.ClipProcessor``); calling it on an image raises a one-line ``UsageError``.

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
        route: bool = True,
    ) -> None:
        from derain_cli.weights.resolve import route_of, stage_of

        network = build_network(model, weights)
        self._configure(model, device, tile, memory_budget, precision, serves_bf16(network))
        self.video = is_video_network(network)
        self.stage = stage_of(model) if stage is True else stage or None
        self.route = route_of(model) if route and weights is None else None  # the entry's own checkpoint only
        self._routed_to: Derainer | None = None
        self.routed = 0  # images the route has sent (wholly or in part) to the second network: what `derain image` reports
        self.network = network.to(self.device).eval()
        if self.video:  # measured 1.3x faster for Conv3d on the CPU, same fp32 results up to rounding
            self.network = self.network.to(memory_format=torch.channels_last_3d)
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
        derainer.video = is_video_network(network)
        derainer.network = network.to(derainer.device)
        derainer._fast = None
        derainer.stage = None
        derainer.route = None
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

    def _refuse_video(self) -> None:
        """Photos and frame batches cannot run a video model: one line saying what can."""
        if self.video:
            from derain_cli.weights.resolve import video_model_error  # here: derain_cli.weights needs the finished package

            raise video_model_error(self.model_name)

    @torch.inference_mode()
    def derain_clip(self, frames: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Derain a clip with a video model: T H x W x 3 uint8 frames of one size, run as one N x 3 x T x H x W
        input (each frame sees the others); returns the T derained uint8 frames.

        Memory: exact row bands (the network's ``plan_bands``) within the memory budget; ``tile`` N sets
        the band height instead, 0 runs the whole clip at once. Odd sizes are padded by repeating the
        last row / column (the network needs even sizes) and cropped back.
        """
        if not self.video:
            raise ValueError(f"{self.model_name} derains single images: use derain_batch")
        height, width = frames[0].shape[:2]
        clip = torch.from_numpy(np.stack(frames)).to(self.device).permute(3, 0, 1, 2)[None].float().div_(255.0)
        clip = F.pad(clip, (0, width % 2, 0, height % 2, 0, 0), mode="replicate").contiguous(memory_format=torch.channels_last_3d)
        if self.tile is not None:
            rows = self.tile + self.tile % 2
            bands = BandPlan(rows, rows)
        else:
            bands = self.network.plan_bands(len(frames), *clip.shape[3:], self.memory_budget, self.dtype.itemsize)
        with torch.autocast(self.device.type, self.dtype, enabled=self.dtype != torch.float32):
            out = self.network.forward_in_bands(clip, bands)
        out = out[0, :, :, :height, :width].float().clamp_(0, 1).mul_(255.0).round_().to(torch.uint8)
        return list(out.permute(1, 2, 3, 0).cpu().numpy())

    @torch.inference_mode()
    def derain_tensor(self, x: Tensor) -> Tensor:
        """Derain a N x 3 x H x W float batch in [0, 1]; returns a CPU float tensor clamped to [0, 1]."""
        self._refuse_video()
        check_tensor(x)
        x = x.to(self.device, torch.float32)
        return self._staged(x, self._forward(x)).clamp_(0, 1).cpu()

    def _forward(self, x: Tensor) -> Tensor:
        """The network's output for a float32 batch on the device, in overlapping tiles when it needs them."""
        tile = self.tile_size(x.shape[2], x.shape[3])
        if tile:
            return tiled_forward(self._network_forward, x, tile, tile_overlap(tile), self._tiles_per_batch(tile))
        return self._network_forward(x)

    def _staged(self, x: Tensor, y: Tensor) -> Tensor:
        """The network's output ``y`` of ``x``, along the heavy-rain route and through the streak stage
        when the entry has them (float32)."""
        y = y.float()
        if self.route is not None:
            weights = self.route.weights(x, y)
            heavy = weights.nonzero().flatten()
            if heavy.numel():
                self.routed += heavy.numel()
                y = y.clone()
                second = self._second()._forward(x[heavy]).float().clamp_(0, 1)
                y[heavy] = torch.lerp(y[heavy].clamp(0, 1), second, weights[heavy].view(-1, 1, 1, 1))
        return self.stage(x, y.clamp(0, 1)) if self.stage is not None else y

    def _second(self) -> Derainer:
        """The network the route leads to, built on first use with this one's settings."""
        if self._routed_to is None:
            assert self.route is not None
            self._routed_to = Derainer(self.route.model, device=str(self.device), tile=self.tile, memory_budget=self.memory_budget,
                                       precision=precision_name(self.dtype), stage=False, route=False)  # fmt: skip
        return self._routed_to

    def derain_float(self, rgb: np.ndarray) -> np.ndarray:
        """Derain an H x W x 3 float array in [0, 1]; returns float32 in [0, 1]."""
        check_image(rgb, float_pixels=True)
        x = torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32)).permute(2, 0, 1)[None]
        return self.derain_tensor(x)[0].permute(1, 2, 0).numpy()

    def derain_batch(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        """Derain several H x W x 3 uint8 frames of one size together (one batched forward when untiled)."""
        self._refuse_video()
        if isinstance(frames, np.ndarray) or not isinstance(frames, (list, tuple)):
            raise TypeError(f"expected a list of H x W x 3 uint8 arrays, got {type(frames).__name__}")
        for index, frame in enumerate(frames):
            check_image(frame, float_pixels=False, what=f"frame {index}")
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
        check_image(rgb, float_pixels=False)
        out = self.derain_float(rgb.astype(np.float32) / 255.0)
        return np.rint(out * 255.0).astype(np.uint8)


def _check_shape(shape: tuple[int, ...], channel_axis: int, what: str) -> None:
    """Three colour channels and a picture of at least one pixel, else a ValueError saying what was given.

    ``channel_axis`` 2: an H x W x 3 image; 1: an N x 3 x H x W batch."""
    layout, ndim = ("H x W x 3", 3) if channel_axis == 2 else ("N x 3 x H x W", 4)
    if len(shape) != ndim or shape[channel_axis] != 3:
        hint = ""
        if len(shape) == ndim - 1 and channel_axis == 2:
            hint = " (a grey image: repeat it into 3 channels)"
        elif len(shape) == ndim and shape[channel_axis] == 4:
            hint = " (RGBA: drop the alpha channel)"
        raise ValueError(f"{what}: expected an {layout} RGB array, got shape {tuple(shape)}{hint}")
    if 0 in shape:
        raise ValueError(f"{what}: empty array of shape {tuple(shape)}")


def _check_unit_range(low: float, high: float, what: str) -> None:
    """Float pixels are finite and in [0, 1]: NaN or 0..255 values would come back black or white."""
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"{what}: holds NaN or infinite values")
    if low < 0 or high > 1:
        raise ValueError(f"{what}: float values must lie in [0, 1], got [{low:g}, {high:g}] (divide 8-bit values by 255)")


def check_image(rgb: object, float_pixels: bool, what: str = "image") -> None:
    """The one input check of the array entry points: an H x W x 3 numpy array, uint8 or (``float_pixels``) float in [0, 1]."""
    if not isinstance(rgb, np.ndarray):
        raise TypeError(f"{what}: expected an H x W x 3 numpy array, got {type(rgb).__name__}")
    _check_shape(rgb.shape, 2, what)
    if not float_pixels:
        if rgb.dtype != np.uint8:
            raise ValueError(f"{what}: expected a uint8 array, got {rgb.dtype} (float pixels in [0, 1] go to derain_float)")
        return
    if not np.issubdtype(rgb.dtype, np.floating):
        raise ValueError(f"{what}: expected a float array with values in [0, 1], got {rgb.dtype} (uint8 goes to Derainer(...)(rgb))")
    _check_unit_range(float(np.min(rgb)), float(np.max(rgb)), what)


def check_tensor(x: object) -> None:
    """The input check of :meth:`Derainer.derain_tensor`: an N x 3 x H x W float tensor in [0, 1]."""
    if not isinstance(x, Tensor):
        raise TypeError(f"expected an N x 3 x H x W torch tensor, got {type(x).__name__}")
    _check_shape(tuple(x.shape), 1, "tensor")
    if not x.is_floating_point():
        raise ValueError(f"tensor: expected a float tensor with values in [0, 1], got {x.dtype}")
    _check_unit_range(float(x.min()), float(x.max()), "tensor")


def _default_budget(device: torch.device) -> int:
    """Activation memory one forward pass may take on ``device``."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free * CUDA_BUDGET_SHARE)
    return DEFAULT_CPU_BUDGET
