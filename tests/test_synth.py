"""The rain renderer: determinism, what each parameter and preset changes, coherent falling in video."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from derain_cli.errors import UsageError
from derain_cli.synth import PRESETS, RainParams, RainRenderer, draw_params, render_rain

_QUIET = {"veil": 0.0, "blur": 0.0, "desaturation": 0.0, "noise": 0.0, "jpeg": 0, "drops": 0}


def clean_image(height: int = 96, width: int = 128, seed: int = 0) -> np.ndarray:
    """A smooth, mid-grey scene with some colour: streaks stand out from it, the veil has contrast to lower."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    rng = np.random.default_rng(seed)
    image = np.stack([60 + 120 * x / width, 70 + 100 * y / height, 100 + 60 * np.sin(x / 9 + y / 13)], axis=2)
    image += rng.normal(0, 4, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def clean_folder(folder: Path, height: int, width: int, count: int = 3) -> Path:
    """``folder`` holding ``count`` clean PNGs 0.png, 1.png, ... (seeds 0, 1, ...)."""
    folder.mkdir()
    for index in range(count):
        Image.fromarray(clean_image(height, width, seed=index)).save(folder / f"{index}.png")
    return folder


def grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)


def streak_angle(rainy: np.ndarray, clean: np.ndarray) -> float:
    """Dominant streak direction, degrees from vertical (+ leans right): the structure tensor of rainy - clean.

    Gradients are across the streaks, so the streak direction is perpendicular to the tensor's main axis.
    Smoothing first and Scharr's kernel keep the estimate isotropic on 1-px lines (plain Sobel reads
    anti-aliased lines at 25 degrees as 21).
    """
    diff = cv2.GaussianBlur(grey(rainy) - grey(clean), (0, 0), 1.5)
    gx, gy = cv2.Scharr(diff, cv2.CV_32F, 1, 0), cv2.Scharr(diff, cv2.CV_32F, 0, 1)
    jxx, jyy, jxy = float((gx * gx).sum()), float((gy * gy).sum()), float((gx * gy).sum())
    gradient = 0.5 * np.arctan2(2 * jxy, jxx - jyy)  # image axes: x right, y down
    direction = gradient + np.pi / 2  # along the streak: (dx, dy) = (cos, sin) of this
    dx, dy = np.cos(direction), np.sin(direction)
    if dy < 0:
        dx, dy = -dx, -dy
    return float(np.degrees(np.arctan2(dx, dy)))


def test_same_seed_same_rain_other_seed_other_rain() -> None:
    clean = clean_image()
    first, params = render_rain(clean, preset="heavy", seed=5)
    again, params_again = render_rain(clean, preset="heavy", seed=5)
    other, _ = render_rain(clean, preset="heavy", seed=6)
    np.testing.assert_array_equal(first, again)
    assert params == params_again and params.seed == 5
    assert np.abs(first.astype(int) - other.astype(int)).mean() > 1
    # the recorded parameters reproduce the image exactly (what synth.jsonl is for)
    np.testing.assert_array_equal(render_rain(clean, RainParams(**params.to_json()))[0], first)


def test_overrides_fix_values_and_bad_values_are_refused() -> None:
    params = draw_params("light", 1, {"angle": 12.0, "veil": 0.3})
    assert params.angle == 12.0 and params.veil == 0.3
    low, high = PRESETS["light"].ranges["density"]
    assert low <= params.density <= high
    with pytest.raises(UsageError, match="--angle-jitter"):
        RainParams(angle_jitter=90)
    with pytest.raises(UsageError, match="unknown rain preset"):
        draw_params("monsoon", 0)


@pytest.mark.parametrize("angle", [-25.0, 0.0, 20.0])
def test_streak_angle_follows_the_angle_parameter(angle: float) -> None:
    clean = clean_image(160, 160)
    params = RainParams(angle=angle, angle_jitter=1.0, density=15, length=40, width=1.0, brightness=0.7, defocus=0.3, seed=3, **_QUIET)
    rainy, _ = render_rain(clean, params)
    assert streak_angle(rainy, clean) == pytest.approx(angle, abs=3.0)


def test_veil_lowers_contrast_and_streaks_do_not_mostly() -> None:
    clean = clean_image()
    base = {**_QUIET, "density": 0.0}
    no_veil, _ = render_rain(clean, RainParams(**base))
    veiled, _ = render_rain(clean, RainParams(**{**base, "veil": 0.3, "transmission": "uniform"}))
    assert grey(no_veil).std() == pytest.approx(grey(clean).std(), rel=0.01)
    assert grey(veiled).std() < 0.8 * grey(clean).std()  # T = 0.7 scales contrast by ~0.7
    # the camera's auto-exposure takes back the veil's added light: mean brightness as asked
    assert grey(veiled).mean() == pytest.approx(grey(clean).mean(), rel=0.02)
    brighter, _ = render_rain(clean, RainParams(**{**base, "veil": 0.3, "transmission": "uniform", "exposure": 1.1}))
    assert grey(brighter).mean() == pytest.approx(1.1 * grey(clean).mean(), rel=0.02)


def test_gradient_veil_is_stronger_at_the_top() -> None:
    clean = np.full((80, 80, 3), 60, np.uint8)
    rainy, _ = render_rain(clean, RainParams(**{**_QUIET, "density": 0.0, "veil": 0.3, "transmission": "gradient"}))
    assert rainy[:10].mean() > rainy[-10:].mean() + 10


def test_desaturation_and_blur_do_what_they_say() -> None:
    clean = clean_image()
    base = {**_QUIET, "density": 0.0}
    saturation = lambda image: cv2.cvtColor(image, cv2.COLOR_RGB2HSV)[..., 1].mean()  # noqa: E731
    grey_er, _ = render_rain(clean, RainParams(**{**base, "desaturation": 0.5}))
    assert saturation(grey_er) < 0.7 * saturation(clean)
    blurred, _ = render_rain(clean, RainParams(**{**base, "blur": 8.0}))  # sigma 1.6 px on this 96-px image
    detail = lambda image: np.abs(cv2.Laplacian(grey(image), cv2.CV_32F)).mean()  # noqa: E731
    assert detail(blurred) < 0.6 * detail(clean)


def test_presets_order_by_strength() -> None:
    """Averaged over seeds, storm streaks cover more of the image than drizzle's, and veil lowers contrast most
    among the real-rain presets with few streaks."""
    clean = clean_image(120, 160)
    stats = {}
    for name in ("drizzle", "light", "heavy", "storm", "veil"):
        changed, contrast = [], []
        for seed in range(4):
            rainy, _ = render_rain(clean, preset=name, seed=seed)
            changed.append(float((np.abs(grey(rainy) - grey(clean)) > 12).mean()))
            contrast.append(grey(rainy).std() / grey(clean).std())
        stats[name] = (np.mean(changed), np.mean(contrast))
    assert stats["drizzle"][0] < stats["heavy"][0] < stats["storm"][0]
    assert stats["veil"][1] < stats["drizzle"][1] and stats["storm"][1] < stats["drizzle"][1]


def test_every_preset_renders_uint8_of_the_input_size() -> None:
    clean = clean_image(50, 70)
    for name in (*PRESETS, "mix"):
        rainy, params = render_rain(clean, preset=name, seed=2)
        assert rainy.shape == clean.shape and rainy.dtype == np.uint8 and params.seed == 2


def _best_shift(previous: np.ndarray, current: np.ndarray, reach: int) -> tuple[int, int]:
    """The (dx, dy) that best aligns ``previous`` moved by it with ``current`` (correlation over a window)."""
    best, best_score = (0, 0), -np.inf
    core = (slice(reach, -reach), slice(reach, -reach))
    for dy in range(-reach, reach + 1):
        for dx in range(-reach, reach + 1):
            moved = np.roll(previous, (dy, dx), axis=(0, 1))
            score = float((moved[core] * current[core]).sum())
            if score > best_score:
                best, best_score = (dx, dy), score
    return best


def test_video_streaks_fall_coherently() -> None:
    """Between frames the streak map moves along the fall direction by about one streak length."""
    height, width, length, angle = 120, 120, 48.0, 20.0
    clean = np.full((height, width, 3), 70, np.uint8)
    params = RainParams(angle=angle, angle_jitter=0.5, density=4, length=length, width=0.8, brightness=0.8, defocus=0.0,
                        layers=1, seed=9, **_QUIET)  # fmt: skip
    renderer = RainRenderer(height, width, params)
    maps = [grey(renderer.frame(clean)) - 70 for _ in range(3)]
    scale = min(height, width) / 480  # lengths are in pixels of a 480-px image
    expected = length * scale  # mean streak length (drawn 0.6x to 1.4x)
    for previous, current in zip(maps, maps[1:]):
        dx, dy = _best_shift(previous, current, reach=int(2 * expected) + 2)
        moved = np.hypot(dx, dy)
        assert 0.5 * expected <= moved <= 1.6 * expected + 1, (dx, dy)
        assert np.degrees(np.arctan2(dx, dy)) == pytest.approx(angle, abs=15)
    # and the rain is not simply re-drawn: the best-aligned frames agree far better than unaligned ones
    aligned = np.roll(maps[0], (dy, dx), axis=(0, 1))
    assert np.corrcoef(aligned.ravel(), maps[1].ravel())[0, 1] > 2 * np.corrcoef(maps[0].ravel(), maps[1].ravel())[0, 1]
