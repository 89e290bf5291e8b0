"""The real images of an online update: reading them, their outputs, and random (rainy, pseudo target) crops."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from derain_cli.errors import DerainError
from derain_cli.image_batch import Failure, Job
from derain_cli.imageio import read_rgb8
from derain_cli.synth.params import draw_params
from derain_cli.synth.render import RainRenderer


@dataclass
class RealImage:
    """A real rainy image and its current pseudo target (H x W x 3 uint8; target None until computed)."""

    path: Path
    rainy: np.ndarray
    target: np.ndarray | None = None


def load_real_images(paths: list[Path]) -> tuple[list[RealImage], list[Failure]]:
    """Read every image (colour only, 8 bits); unreadable ones become failures."""
    images: list[RealImage] = []
    failures: list[Failure] = []
    for path in paths:
        try:
            images.append(RealImage(path, read_rgb8(path)))
        except DerainError as exc:
            failures.append(Failure(str(path), str(exc).removeprefix(f"{path}: "), exc))
    return images, failures


def small_image_notes(images: list[RealImage], patch: int) -> list[str]:
    """A line for each image smaller than the patch (it is reflect-padded for training)."""
    return [
        f"{image.path}: {image.rainy.shape[1]}x{image.rainy.shape[0]} is smaller than the {patch} px patch; "
        "reflect-padded for training"
        for image in images
        if min(image.rainy.shape[:2]) < patch
    ]


def output_jobs(images: list[RealImage], out: Path) -> list[Job]:
    """``OUT/derained/<stem>.png`` for each image; refuses two inputs with one stem and writing over an input."""
    jobs: dict[Path, Job] = {}
    sources = {image.path.resolve() for image in images}
    for image in images:
        target = out / "derained" / f"{image.path.stem}.png"
        if target.resolve() in sources:
            raise DerainError(f"{image.path}: its output {target} would replace an input; choose another -o")
        if target in jobs:
            raise DerainError(f"{image.path}: same output {target} as {jobs[target].source}; rename one of them")
        jobs[target] = Job(image.path, target)
    return list(jobs.values())


def _pad_to(array: np.ndarray, patch: int) -> np.ndarray:
    height, width = array.shape[:2]
    if height >= patch and width >= patch:
        return array
    return np.pad(array, ((0, max(0, patch - height)), (0, max(0, patch - width)), (0, 0)), mode="reflect")


def _batch(crops: list[np.ndarray]) -> Tensor:
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float().div_(255.0)


def _random_window(rng: np.random.Generator, arrays: list[np.ndarray], patch: int) -> tuple[int, list[np.ndarray]]:
    """The same random ``patch`` x ``patch`` window (randomly mirrored) of each array; returns (top row, crops)."""
    top = int(rng.integers(arrays[0].shape[0] - patch + 1))
    left = int(rng.integers(arrays[0].shape[1] - patch + 1))
    step_x = -1 if rng.random() < 0.5 else 1
    return top, [np.ascontiguousarray(a[top : top + patch, left : left + patch][:, ::step_x]) for a in arrays]


def sample_patches(images: list[RealImage], count: int, patch: int, seed: int, step: int) -> tuple[Tensor, Tensor]:
    """``count`` random (rainy, pseudo target) crops, N x 3 x patch x patch floats; a pure function of (seed, step)."""
    rng = np.random.default_rng([seed, step])
    rainy, target = [], []
    for _ in range(count):
        image = images[int(rng.integers(len(images)))]
        _, (rainy_crop, target_crop) = _random_window(rng, [_pad_to(image.rainy, patch), _pad_to(image.target, patch)], patch)
        rainy.append(rainy_crop)
        target.append(target_crop)
    return _batch(rainy), _batch(target)


def synthetic_pairs(
    images: list[RealImage], count: int, patch: int, seed: int, step: int, preset: str = "mix"
) -> tuple[Tensor, Tensor]:  # fmt: skip
    """``count`` crops of the pseudo targets with new synthetic rain rendered on them: (rainy, pseudo target).

    They keep the model learning to remove rain while it adapts to the user's scenes: the backgrounds
    are the user's own (as the current model sees them), the rain is known exactly. A pure function of
    (seed, step).
    """
    rng = np.random.default_rng([seed, step, 0x5F])
    rainy, clean = [], []
    for _ in range(count):
        target = _pad_to(images[int(rng.integers(len(images)))].target, patch)
        top, (crop,) = _random_window(rng, [target], patch)
        params = draw_params(preset, int(rng.integers(2**31)))
        frame = (top, target.shape[0], min(target.shape[:2]))
        rainy.append(RainRenderer(patch, patch, params, frame=frame).frame(crop))
        clean.append(crop)
    return _batch(rainy), _batch(clean)
