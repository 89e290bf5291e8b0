"""A small stand-in rain renderer, until ``derain_cli.synth.render_rain`` lands on main.

Rain is the composite the synthesis literature uses for streaks plus accumulation (the veil of
distant rain): ``O = T * (B + S) + (1 - T) * A``, with ``B`` the clean image, ``S`` a streak layer
(sparse drops smeared along one direction per image by a line kernel, as motion blur draws them),
``T`` a transmission and ``A`` the atmospheric light. Everything is drawn from
``numpy.random.default_rng((seed, index))``, so a set is the same on every run.

    from rain_standin import render_rain
    rainy = render_rain(clean_uint8, preset="heavy", seed=(0, k))   # uint8 H x W x 3

The benchmark calls :func:`render` only, so switching it to the real module is one line there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Preset:
    density: float  # share of pixels that start a streak
    length: tuple[int, int]  # streak length range, pixels
    angle: tuple[float, float]  # mean angle from vertical (degrees) range; streaks of an image share it +- 3
    intensity: tuple[float, float]  # brightness added at a streak's core
    transmission: tuple[float, float]  # T of the veil (1 = no veil)
    light: tuple[float, float]  # atmospheric light A


PRESETS = {
    "light": Preset(0.002, (10, 20), (-15.0, 15.0), (0.25, 0.45), (0.88, 0.95), (0.75, 0.9)),
    "heavy": Preset(0.006, (18, 34), (-20.0, 20.0), (0.45, 0.75), (0.65, 0.8), (0.75, 0.9)),
}


def _line_kernel(length: int, angle_deg: float) -> torch.Tensor:
    """A normalised anti-aliased line of ``length`` pixels at ``angle_deg`` from vertical."""
    size = length | 1
    c = size // 2
    ys, xs = torch.meshgrid(torch.arange(size) - c, torch.arange(size) - c, indexing="ij")
    t = math.radians(angle_deg)
    along = ys * math.cos(t) + xs * math.sin(t)  # distance along the streak
    across = -ys * math.sin(t) + xs * math.cos(t)
    kernel = torch.clamp(1 - across.abs(), min=0) * (along.abs() <= length / 2)
    return kernel / kernel.sum()


def render_rain(clean: np.ndarray, preset: str = "heavy", seed: int | tuple[int, ...] = 0) -> np.ndarray:
    """Rainy version (uint8 H x W x 3) of a clean uint8 RGB image; deterministic in ``seed``."""
    p = PRESETS[preset]
    rng = np.random.default_rng(seed)
    h, w = clean.shape[:2]
    background = clean.astype(np.float32) / 255.0
    layers = np.zeros((h, w), np.float32)
    base_angle = rng.uniform(*p.angle)
    for _ in range(3):  # three depth layers of streaks: thinner and fainter far away
        drops = (rng.random((h, w)) < p.density / 3).astype(np.float32) * rng.uniform(0.5, 1.0, (h, w)).astype(np.float32)
        kernel = _line_kernel(int(rng.integers(*p.length)), base_angle + rng.uniform(-3, 3))
        smeared = F.conv2d(torch.from_numpy(drops)[None, None], kernel[None, None], padding=kernel.shape[-1] // 2)[0, 0]
        layers += smeared.numpy()[:h, :w]
    streaks = layers / max(float(np.percentile(layers[layers > 0], 99)) if (layers > 0).any() else 1.0, 1e-6)
    streaks = np.clip(streaks, 0, 1) * rng.uniform(*p.intensity)
    transmission = rng.uniform(*p.transmission)
    light = rng.uniform(*p.light)
    rainy = transmission * np.clip(background + streaks[..., None], 0, 1) + (1 - transmission) * light
    return np.clip(np.rint(rainy * 255.0), 0, 255).astype(np.uint8)
