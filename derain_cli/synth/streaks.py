"""Rain streaks: drops at several depths, drawn as motion-blurred lines, that can fall from frame to frame.

A raindrop crossing the scene during the exposure leaves a line whose length is its fall speed times
the exposure, along its fall direction (the mean wind angle plus a per-drop jitter). Drops nearer the
camera look longer, wider, brighter, sparser and out of focus; far ones short, thin, faint and many.
Each layer keeps its drops' positions, so a video advances them by their fall speed each frame
(coherent falling rain) instead of re-drawing rain at random.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from derain_cli.synth.params import RainParams

_LEVELS = 4  # streak opacities are drawn in this many grey levels (one polyline call each)
_SUBPIXEL = 4  # cv2 fixed-point shift: endpoints at 1/16 pixel


@dataclass
class _Layer:
    """One depth layer: drop positions (canvas pixels), per-drop direction, length and opacity level."""

    xy: np.ndarray  # N x 2 float, drop head positions on the canvas
    direction: np.ndarray  # N x 2 unit vectors (dx, dy), dy > 0: falling
    length: np.ndarray  # N, pixels
    level: np.ndarray  # N, int opacity level in 0.._LEVELS-1
    opacity: float  # opacity of the top level
    sigma: float  # Gaussian blur across the streaks: width and defocus


class StreakField:
    """The streaks of one rain over a ``height`` x ``width`` image; :meth:`render` -> H x W opacity map."""

    def __init__(self, height: int, width: int, params: RainParams, rng: np.random.Generator, scale: float) -> None:
        """``scale``: the frame's short side over :data:`REFERENCE_SIDE` (sizes are in reference pixels)."""
        self.height, self.width = height, width
        self.margin = int(np.ceil(params.length * scale)) + 4
        self.layers = [self._layer(k, params, scale, rng) for k in range(params.layers)]

    def _layer(self, k: int, params: RainParams, scale: float, rng: np.random.Generator) -> _Layer:
        far = k / max(1, params.layers - 1)  # 0 nearest .. 1 farthest
        size = 1.0 - 0.6 * far  # apparent size shrinks with distance
        share = (1.0 + 2.0 * far) / sum(1.0 + 2.0 * j / max(1, params.layers - 1) for j in range(params.layers))
        canvas = (self.height + 2 * self.margin) * (self.width + 2 * self.margin)
        count = int(rng.poisson(params.density * share * canvas / (100.0 * scale) ** 2))
        angles = np.deg2rad(params.angle + params.angle_jitter * rng.standard_normal(count))
        direction = np.stack([np.sin(angles), np.cos(angles)], axis=1)
        length = params.length * scale * size * rng.uniform(0.6, 1.4, count)
        xy = rng.uniform(0, 1, (count, 2)) * [self.width + 2 * self.margin, self.height + 2 * self.margin]
        width_sigma = 0.5 * params.width * scale * size
        defocus = params.defocus * scale * (1.0 - far)
        return _Layer(
            xy=xy, direction=direction, length=np.maximum(length, 1.0), level=rng.integers(0, _LEVELS, count),
            opacity=params.brightness * (0.55 + 0.45 * size), sigma=float(np.hypot(width_sigma, defocus)),
        )  # fmt: skip

    def advance(self, rng: np.random.Generator) -> None:
        """Move every drop one frame along its direction by its streak length; drops that leave re-enter."""
        span = np.array([self.width + 2 * self.margin, self.height + 2 * self.margin], dtype=float)
        for layer in self.layers:
            layer.xy += layer.direction * layer.length[:, None]
            out = (layer.xy[:, 1] >= span[1]) | (layer.xy[:, 0] < 0) | (layer.xy[:, 0] >= span[0])
            layer.xy[:, 1] = np.where(out, layer.xy[:, 1] % span[1], layer.xy[:, 1])
            layer.xy[out, 0] = rng.uniform(0, span[0], int(out.sum()))

    def render(self) -> np.ndarray:
        """Streak opacity in [0, 1], H x W float32 (0 = no rain)."""
        total = np.zeros((self.height, self.width), np.float32)
        for layer in self.layers:
            canvas = np.zeros((self.height + 2 * self.margin, self.width + 2 * self.margin), np.float32)
            tail = layer.xy - layer.direction * layer.length[:, None]
            points = np.rint(np.stack([tail, layer.xy], axis=1) * (1 << _SUBPIXEL)).astype(np.int32)
            for level in range(_LEVELS):
                chosen = points[layer.level == level]
                if len(chosen):
                    value = layer.opacity * (level + 1) / _LEVELS
                    cv2.polylines(canvas, list(chosen), False, value, 1, cv2.LINE_AA, _SUBPIXEL)
            if layer.sigma > 0.3:
                # keep the streak's peak opacity: a 1-px line blurred by sigma s peaks near 0.4 / s
                canvas = cv2.GaussianBlur(canvas, (0, 0), layer.sigma) * min(4.0, max(1.0, 2.5 * layer.sigma))
            crop = canvas[self.margin : self.margin + self.height, self.margin : self.margin + self.width]
            total = 1.0 - (1.0 - total) * (1.0 - np.clip(crop, 0.0, 1.0))  # layers combine like stacked films
        return total
