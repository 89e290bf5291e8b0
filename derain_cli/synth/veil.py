"""Rain accumulation: the veil of the heavy-rain model ``O = T * (B + S) + (1 - T) * A``.

Countless drops too small or far to resolve scatter light like fog: the farther a scene point, the
less of its own light arrives (transmission ``T``) and the more of the ambient sky light ``A``
(atmospheric light) replaces it. ``T`` falls with distance, so three maps are offered: uniform, a
vertical gradient (the top of most outdoor frames is farther) and a cheap depth proxy (vertical position
plus the dark channel, which is high where haze or sky already is).
"""

from __future__ import annotations

import cv2
import numpy as np

from derain_cli.synth.params import RainParams


def dark_channel(rgb: np.ndarray, size: int) -> np.ndarray:
    """Per-pixel minimum over colour and a ``size`` x ``size`` neighbourhood (He et al.'s haze prior)."""
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (size, size))
    return cv2.erode(rgb.min(axis=2), kernel)


def estimate_airlight(rgb: np.ndarray) -> np.ndarray:
    """Sky colour: the mean of the pixels with the brightest 0.5 % dark channel, pulled toward grey
    (rain light is nearly colourless) and kept bright. ``rgb``: uint8, or float in [0, 1]."""
    small = cv2.resize(rgb, (max(1, rgb.shape[1] // 4), max(1, rgb.shape[0] // 4)), interpolation=cv2.INTER_AREA)
    small = small.astype(np.float32) / 255.0 if small.dtype == np.uint8 else small
    dark = dark_channel(small, 7).ravel()
    count = max(1, dark.size // 200)
    brightest = np.argpartition(dark, -count)[-count:]
    colour = small.reshape(-1, 3)[brightest].mean(axis=0)
    grey = 0.5 * colour + 0.5 * colour.mean()
    return np.clip(grey * (0.9 / max(grey.max(), 1e-3)) ** 0.5, 0.55, 1.0).astype(np.float32)


def transmission(rgb: np.ndarray, params: RainParams, rows: tuple[int, int] | None = None) -> np.ndarray:
    """``T`` whose mean is ``1 - params.veil``; ``rows = (top, full height)`` places a crop.

    H x 1 x 1 for the uniform and gradient maps (they vary by row only; broadcasting keeps them cheap),
    H x W x 1 for the depth proxy.
    """
    height, width = rgb.shape[:2]
    if params.veil <= 0:
        return np.ones((height, 1, 1), np.float32)
    top, full = rows or (0, height)
    farness = 1.0 - (top + np.arange(height, dtype=np.float32) + 0.5) / full  # 1 at the top of the frame
    if params.transmission == "uniform":
        depth = np.ones((height, 1), np.float32)
    elif params.transmission == "gradient":
        depth = 0.4 + farness[:, None]
    else:
        # The dark channel of a smooth depth proxy needs no full resolution: computed at 1/4 size and
        # scaled back (a 15 x 15 window and the blur become 4x smaller), about 10x cheaper.
        small = cv2.resize(rgb, (max(1, width // 4), max(1, height // 4)), interpolation=cv2.INTER_AREA)
        haze = cv2.GaussianBlur(dark_channel(small, 5), (0, 0), max(0.5, min(height, width) / 120))
        haze = cv2.resize(haze, (width, height), interpolation=cv2.INTER_LINEAR)
        depth = 0.2 + 0.5 * farness[:, None] + 0.6 * haze
    beta = -np.log(1.0 - params.veil) / float(np.mean(depth))  # Beer-Lambert: T = exp(-beta * depth)
    return np.exp(-beta * depth).astype(np.float32)[..., None]
