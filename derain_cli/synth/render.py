"""Realistic rain rendered onto clean images: the steps of one frame, in the order light meets them.

1. The scene ``B`` is slightly blurred (a water film, defocus in the wet air: real rainy frames hold
   less fine detail than their clean twins).
2. Streaks ``S`` (:mod:`derain_cli.synth.streaks`): drops at several depths, motion-blurred along the fall
   direction; a streak is the light of the sky refracted by the drop, so it is composited as an opacity
   toward a bright rain colour (barely visible on a bright sky, clear on dark walls), not simply added.
3. The veil (:mod:`derain_cli.synth.veil`): ``O = T * (B + S) + (1 - T) * A``.
4. The camera's auto-exposure: the veil adds light ``(1 - T) * A``, but a camera scales its gain so the
   frame's mean brightness stays about the scene's (real rainy frames are about as bright as their clean
   twins, only flatter); without this step a model learns to darken every real photo.
5. Desaturation beyond the veil's (wet, grey light), optional water drops on the lens (local blurred
   refraction), sensor noise and JPEG re-compression, as a camera delivers it.

Everything is a pure function of the clean image and :class:`RainParams` (whose ``seed`` drives the
random draws), so a rendering is reproduced exactly from its recorded parameters.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from derain_cli.synth.params import REFERENCE_SIDE, RainParams, draw_params
from derain_cli.synth.streaks import StreakField
from derain_cli.synth.veil import estimate_airlight, transmission

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R BT.601 luma weights


def _as_float(clean: np.ndarray) -> np.ndarray:
    if clean.ndim != 3 or clean.shape[2] != 3:
        raise ValueError(f"expected an H x W x 3 RGB image, got shape {clean.shape}")
    if clean.dtype == np.uint8:
        return clean.astype(np.float32) / 255.0
    return np.clip(clean.astype(np.float32), 0.0, 1.0)


def _lens_drops(image: np.ndarray, count: int, scale: float, rng: np.random.Generator) -> np.ndarray:
    """Drops on the lens: out-of-focus discs through which the scene is seen blurred and a little brighter.

    Each drop is composited inside its own bounding box (blurred with a margin), not over the whole frame.
    """
    height, width = image.shape[:2]
    edge, through_sigma = 2.0 * scale + 0.5, 5.0 * scale + 1.0
    for _ in range(count):
        radius = float(rng.uniform(6, 28) * scale)
        centre = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
        axes = (max(1, int(radius)), max(1, int(radius * rng.uniform(0.7, 1.0))))
        angle = float(rng.uniform(0, 180))
        reach = int(np.ceil(radius + 3 * edge)) + 1
        pad = int(np.ceil(3 * through_sigma))
        x0, x1 = max(0, centre[0] - reach - pad), min(width, centre[0] + reach + pad + 1)
        y0, y1 = max(0, centre[1] - reach - pad), min(height, centre[1] + reach + pad + 1)
        if x0 >= x1 or y0 >= y1:
            continue
        box = image[y0:y1, x0:x1]
        mask = np.zeros(box.shape[:2], np.float32)
        cv2.ellipse(mask, (centre[0] - x0, centre[1] - y0), axes, angle, 0, 360, 1.0, -1, cv2.LINE_AA)
        mask = cv2.GaussianBlur(mask, (0, 0), edge)[..., None]
        through = np.clip(cv2.GaussianBlur(box, (0, 0), through_sigma) * 1.06 + 0.02, 0.0, 1.0)
        image[y0:y1, x0:x1] = box + (through - box) * mask
    return image


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    encoded = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])[1]
    return cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


class RainRenderer:
    """One rain over frames of one size: :meth:`frame` renders the next frame, the streaks falling coherently.

    ``frame = (top, frame height, frame short side)`` places a crop in its frame: streak sizes follow the
    frame's size and the veil's gradient the frame's rows.
    """

    def __init__(self, height: int, width: int, params: RainParams, frame: tuple[int, int, int] | None = None) -> None:
        self.params = params
        top, frame_height, side = frame or (0, height, min(height, width))
        self.rows = (top, frame_height)
        self.rng = np.random.default_rng([params.seed, 0xDA1A])
        self.scale = side / REFERENCE_SIDE
        self.streaks = StreakField(height, width, params, self.rng, self.scale)
        self.frames = 0
        self.airlight: np.ndarray | None = None if params.airlight is None else np.asarray(params.airlight, np.float32)
        self._transmission: np.ndarray | None = None
        self._gain: float | None = None  # auto-exposure gain, fixed for a sequence (exposure adapts slowly)

    def frame(self, clean: np.ndarray) -> np.ndarray:
        """The rainy version of ``clean`` (H x W x 3, uint8 or float in [0, 1]) -> uint8 RGB."""
        p = self.params
        background = _as_float(clean)
        if background.shape[:2] != (self.streaks.height, self.streaks.width):
            raise ValueError(f"frame size {background.shape[:2]} differs from the renderer's")
        if self.frames:
            self.streaks.advance(self.rng)
        self.frames += 1
        if self.airlight is None:
            self.airlight = estimate_airlight(background)
        if self._transmission is None:  # fixed for a sequence: the veil does not flicker
            self._transmission = transmission(background, p, self.rows)
        if p.blur > 0:
            background = cv2.GaussianBlur(background, (0, 0), p.blur * self.scale)
        # In place, float32, few passes: streak compositing B + (R - B) * S, the veil A + T * (X - A),
        # then desaturation as one 3 x 3 colour matrix (rendering speed matters for on-the-fly training).
        opacity = self.streaks.render()[..., None]
        rain_light = np.minimum(1.0, self.airlight * 1.08 + 0.05).astype(np.float32)
        image = rain_light - background
        image *= opacity
        image += background
        image -= self.airlight
        image *= self._transmission
        image += self.airlight
        if self._gain is None:
            self._gain = p.exposure * float(np.mean(_as_float(clean) @ _LUMA)) / max(float(np.mean(image @ _LUMA)), 1e-3)
        image *= np.float32(self._gain)
        if p.desaturation > 0:
            matrix = (1.0 - p.desaturation) * np.eye(3, dtype=np.float32) + p.desaturation * _LUMA[None, :]
            image = cv2.transform(image, matrix)
        if p.drops:
            image = _lens_drops(image, p.drops, self.scale, np.random.default_rng([p.seed, 0xD809]))  # same every frame
        if p.noise > 0:
            image += self.rng.standard_normal(image.shape, dtype=np.float32) * np.float32(p.noise)
        np.maximum(image, 0.0, out=image)
        rainy = cv2.convertScaleAbs(image, alpha=255.0)  # rounds and saturates to uint8
        return _jpeg(rainy, p.jpeg) if p.jpeg else rainy


def render_rain(
    clean: np.ndarray, params: RainParams | None = None, *, preset: str = "heavy", seed: int = 0,
    frame: tuple[int, int, int] | None = None, **overrides: Any,
) -> tuple[np.ndarray, RainParams]:  # fmt: skip
    """Render rain on ``clean`` (H x W x 3 uint8, or float in [0, 1]) -> (rainy uint8 RGB, the parameters used).

    Without ``params`` they are drawn from ``preset``'s ranges (``mix``: a preset drawn too) with ``seed``;
    keyword ``overrides`` (``angle=10``, ``veil=0.3``, ...) fix single values; ``frame`` as for :class:`RainRenderer`.
    """
    params = params or draw_params(preset, seed, overrides)
    height, width = clean.shape[:2]
    return RainRenderer(height, width, params, frame).frame(clean), params
