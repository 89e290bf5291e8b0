"""Small static-camera rainy sequences for the video evaluation tests: a still textured scene with
fresh rain streaks in every frame, written as frame folders or as video files."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image


def still_scene(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth random RGB texture: detail everywhere for the flow, nothing a codec would ruin."""
    noise = np.random.default_rng(seed).random((height, width, 3)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 2.0)
    smooth = (smooth - smooth.min()) / (smooth.max() - smooth.min())
    return np.rint(40 + 150 * smooth).astype(np.uint8)


def add_rain(clean: np.ndarray, rng: np.random.Generator, streaks: int = 12) -> np.ndarray:
    """Bright slanted streaks at random places (new ones in each frame, as falling rain)."""
    rainy = clean.astype(np.float32)
    layer = np.zeros(clean.shape[:2], np.float32)
    height, width = layer.shape
    for _ in range(streaks):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        cv2.line(layer, (x, y), (x + 3, y + 9), 1.0, 1)
    rainy += 70 * layer[..., None]
    return np.clip(rainy, 0, 255).astype(np.uint8)


def rainy_sequence(frames: int, height: int = 40, width: int = 56, seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(rainy frames, clean frames) of a static camera."""
    clean = still_scene(height, width, seed)
    rng = np.random.default_rng(seed + 100)
    return [add_rain(clean, rng) for _ in range(frames)], [clean] * frames


def write_frames(folder: Path, frames: list[np.ndarray], names: list[str] | None = None) -> list[Path]:
    """PNG files (lossless) named ``names`` (default 1.png, 2.png, ...)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{name}.png" for name in names or [str(i + 1) for i in range(len(frames))]]
    for path, frame in zip(paths, frames):
        Image.fromarray(frame).save(path)
    return paths


def write_video(path: Path, frames: list[np.ndarray], fps: int = 10) -> Path:
    """A lossless video file (FFV1 in Matroska): decoding gives the frames back exactly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=Fraction(fps))
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "bgr0"
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode(None))
    return path
