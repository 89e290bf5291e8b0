"""Synthetic rainy videos for the temporal stage (never a test set): panning windows over Urban100 photos
with a sprite moving against the pan, rain from `derain synth`'s renderer.

    python -m benchmarks.video.temporal_tuning build OUT [--sequences 6 --frames 24]           # the tuning split
    python -m benchmarks.video.temporal_tuning build OUT --split train --sequences 48 --frames 12

writes OUT/input/SEQ/NNNNN.png and OUT/target/SEQ/NNNNN.png (a video pair set for `derain eval`).
The tuning split (presets streaks/light/heavy, panning cameras) chooses designs; the train split (for the
learned blend, benchmarks/video/blend_train.py) uses other photos and sprites, every preset of `derain
synth`'s mixture (drizzle and veil too) and a static camera in every other sequence (surveillance)."""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from PIL import Image

from benchmarks.common import SHARED
from derain_cli.imageio import read_rgb8
from derain_cli.synth.params import MIXTURE, draw_params
from derain_cli.synth.render import RainRenderer

PRESETS = ("streaks", "light", "heavy")


def pan_frames(
    photo: np.ndarray, sprite: np.ndarray, frames: int, size: tuple[int, int], rng: np.random.Generator, static: bool = False
) -> list[np.ndarray]:
    """``frames`` windows of ``size`` (w, h) panning across ``photo`` (``static``: one window), with ``sprite``
    moving against the pan."""
    width, height = size
    scale = max(1.0, 1.35 * width / photo.shape[1], 1.35 * height / photo.shape[0])
    photo = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    room_x, room_y = photo.shape[1] - width, photo.shape[0] - height
    vx, vy = rng.uniform(0.5, 1.0) * room_x / frames, rng.uniform(-0.3, 0.3) * room_y / frames
    if static:
        vx = vy = 0.0
    x0, y0 = rng.uniform(0, room_x - vx * frames), rng.uniform(max(0, -vy * frames), min(room_y, room_y - vy * frames))
    out = []
    for t in range(frames):
        shift = np.float32([[1, 0, -(x0 + vx * t)], [0, 1, -(y0 + vy * t)]])
        frame = cv2.warpAffine(photo, shift, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        sx, sy = int(width * 0.8 - 4 * t * np.sign(vx + 1e-6)), int(height * 0.5 + 2 * t)
        h, w = sprite.shape[:2]
        ys, xs = slice(max(0, sy), min(height, sy + h)), slice(max(0, sx), min(width, sx + w))
        if ys.start < ys.stop and xs.start < xs.stop:
            frame[ys, xs] = sprite[ys.start - sy : ys.stop - sy, xs.start - sx : xs.stop - sx]
        out.append(frame)
    return out


def build(out: Path, sequences: int, frames: int, size: tuple[int, int], split: str = "tuning") -> None:
    photos = sorted((SHARED / "data/clean/urban100").glob("*.png"))
    tuning = {(7 * k + offset) % len(photos) for k in range(6) for offset in (3, 40)}  # the tuning split's photos
    others = [p for i, p in enumerate(photos) if i not in tuning]
    rng = np.random.default_rng(2026 if split == "tuning" else 4242)
    for k in range(sequences):
        if split == "tuning":
            photo = read_rgb8(photos[(7 * k + 3) % len(photos)])
            sprite = cv2.resize(read_rgb8(photos[(7 * k + 40) % len(photos)]), (56, 56))
            clean = pan_frames(photo, sprite, frames, size, rng)
            preset, seed = PRESETS[k % len(PRESETS)], 100 + k
        else:
            photo = read_rgb8(others[(5 * k) % len(others)])
            sprite = cv2.resize(read_rgb8(others[(5 * k + 2) % len(others)]), (56, 56))
            clean = pan_frames(photo, sprite, frames, size, rng, static=k % 2 == 1)
            preset, seed = MIXTURE[k % len(MIXTURE)], 5000 + k
        renderer = RainRenderer(size[1], size[0], draw_params(preset, seed))
        name = f"{k:02d}_{preset}"
        for side in ("input", "target"):
            (out / side / name).mkdir(parents=True, exist_ok=True)
        for t, frame in enumerate(clean):
            Image.fromarray(frame).save(out / "target" / name / f"{t + 1:05d}.png")
            Image.fromarray(renderer.frame(frame)).save(out / "input" / name / f"{t + 1:05d}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["build"])
    parser.add_argument("out", type=Path)
    parser.add_argument("--sequences", type=int, default=6)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--size", default="384x288")
    parser.add_argument("--split", choices=["tuning", "train"], default="tuning")
    args = parser.parse_args()
    build(args.out, args.sequences, args.frames, tuple(int(v) for v in args.size.split("x")), args.split)


if __name__ == "__main__":
    main()
