"""The do-no-harm output stage: keep only the streak-like part of what a network removed.

A deraining network's output ``y`` of a rainy ``x`` defines the rain layer ``R = x - y``. On real
photos ``R`` holds more than rain: flattened texture (foliage, grass: both signs, isotropic) and a
slow tone shift (darkening, a veil removed or invented). Rain streaks are thin, bright and add
light. So the stage rebuilds the output from the input minus a cleaned rain layer (issue 25):

1. ``r``: the rain layer averaged over the colour channels (rain is close to grey), so the input's
   colours are kept;
2. its low-frequency part (a Gaussian of ``low_sigma`` px) is dropped, or kept at ``low_keep``:
   no global tone shift;
3. only its positive part counts (rain brightens);
4. a soft threshold removes what is within ``k`` times the local level of the *negative* part of
   ``r`` plus a floor ``floor``: rain never darkens a pixel, so the negative part measures the
   texture the network flattened nearby, and the same amount of positive change there is texture too;
5. where the fast part of ``r`` is clearly lopsided towards brightening (dense rain: its local
   asymmetry ``(E r+^2 - E r-^2) / E r^2`` over a ``gate_sigma`` window rises from ``gate_low`` to
   ``gate_high``), the network's own output is trusted instead, tone change included: heavy rain
   and its veil are then the network's to remove. ``gate_low`` = 1 switches this off.

Training-free; its few settings were fitted on synthetic pairs and rain-free photos that are not
test sets (benchmarks/streak_stage_fit.py, docs/real-rain.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import Tensor

from derain_cli.errors import DerainError


@dataclass(frozen=True)
class StreakStage:
    """Settings of the stage (sizes in pixels of the image as given, intensities in [0, 1] units)."""

    low_sigma: float = 6.0  # scale below which a change counts as streak-like
    low_keep: float = 0.0  # share of the slow (tone, veil) change kept
    k: float = 1.5  # threshold in units of the local flattened-texture level
    texture_sigma: float = 4.0  # window of that local level
    floor: float = 2.0 / 255.0  # threshold where nothing was flattened (noise, JPEG)
    gate_low: float = 1.0  # rain-presence asymmetry at which the network starts to be trusted (1: never)
    gate_high: float = 1.0  # ... and at which it is trusted fully
    gate_sigma: float = 16.0  # window of that asymmetry

    def __post_init__(self) -> None:
        for name in ("low_sigma", "texture_sigma", "gate_sigma"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0.5 <= value <= 64):
                raise DerainError(f"streak stage: {name} must be in 0.5..64 px, got {value!r}")
        for name, high in (("low_keep", 1.0), ("k", 20.0), ("floor", 0.5), ("gate_low", 1.0), ("gate_high", 1.0)):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0.0 <= value <= high):
                raise DerainError(f"streak stage: {name} must be in 0..{high:g}, got {value!r}")
        if self.gate_high < self.gate_low:
            raise DerainError(f"streak stage: gate_high ({self.gate_high}) must not be below gate_low ({self.gate_low})")

    @classmethod
    def from_table(cls, table: Mapping[str, object], source: str) -> StreakStage:
        """Settings from a weights.toml ``stage`` table; unknown or non-numeric keys are refused naming ``source``."""
        known = {f.name for f in fields(cls)}
        for key, value in table.items():
            if key not in known:
                raise DerainError(f"{source}: unknown streak-stage setting {key!r} (known: {', '.join(sorted(known))})")
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise DerainError(f"{source}: streak-stage setting {key!r} must be a number, got {value!r}")
        try:
            return cls(**{key: float(value) for key, value in table.items()})
        except DerainError as exc:
            raise DerainError(f"{source}: {exc}") from None

    def to_table(self) -> dict[str, float]:
        return asdict(self)

    def __call__(self, rainy: Tensor, derained: Tensor) -> Tensor:
        """The stage's output for N x 3 x H x W ``rainy`` and the network's ``derained`` (both in [0, 1])."""
        rainy, derained = rainy.float(), derained.float()
        rain = (rainy - derained).mean(1, keepdim=True)
        slow = gaussian_blur(rain, self.low_sigma)
        fast = rain - slow
        flattened = gaussian_blur(fast.clamp(max=0).square(), self.texture_sigma).sqrt()
        streaks = (fast - self.k * flattened - self.floor).clamp(min=0)
        kept = (rainy - streaks - self.low_keep * slow).clamp(0, 1)
        if self.gate_low >= 1.0:
            return kept
        trust = self.rain_presence(fast)
        return kept + trust * (derained.clamp(0, 1) - kept)

    def rain_presence(self, fast: Tensor) -> Tensor:
        """0 (texture-like change) .. 1 (dense brightening streaks) per pixel, from the fast rain layer's asymmetry."""
        positive = gaussian_blur(fast.clamp(min=0).square(), self.gate_sigma)
        negative = gaussian_blur(fast.clamp(max=0).square(), self.gate_sigma)
        asymmetry = (positive - negative) / (positive + negative + 1e-8)
        span = max(self.gate_high - self.gate_low, 1e-3)
        return ((asymmetry - self.gate_low) / span).clamp(0, 1)


def _kernel(sigma: float, device: torch.device) -> Tensor:
    radius = max(1, math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=torch.float32, device=device)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    return kernel / kernel.sum()


def gaussian_blur(x: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur of an N x 1 x H x W map, edges mirrored (replicated when the image is too small)."""
    kernel = _kernel(sigma, x.device)
    radius = kernel.numel() // 2
    mode = "reflect" if min(x.shape[2:]) > radius else "replicate"
    x = F.pad(x, (radius, radius, 0, 0), mode=mode)
    x = F.conv2d(x, kernel.view(1, 1, 1, -1))
    x = F.pad(x, (0, 0, radius, radius), mode=mode)
    return F.conv2d(x, kernel.view(1, 1, -1, 1))
