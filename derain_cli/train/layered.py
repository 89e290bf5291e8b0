"""Heavy rain from a light-rain paired set: ``--dataset PAIRS,layers=K``.

A synthetic pair set such as RainTrainL was made by adding a rain layer to a clean photo, so
``rainy - clean`` is that layer. Rain100H-class rain (thick streaks in several directions, most of the
picture changed) is K such layers at once, and no heavy-rain training set is at hand: each patch here
is the pair's clean crop plus its own layer and K - 1 layers cut from other pairs of the set (random
positions and flips, so other directions too), each scaled by a gain drawn in [1, 2], clipped to 8
bits. The clean crop stays the target. Draws are a pure function of (seed, epoch, index), like every
training source, so a resumed run sees the same patches.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from torch import Tensor

from derain_cli.errors import DerainError
from derain_cli.imageio import read_rgb8
from derain_cli.pairs import Pair
from derain_cli.train.data import PairedPatches, _to_tensor

MAX_LAYERS = 16
GAIN = (1.0, 2.0)


@lru_cache(maxsize=256)
def _decoded(rainy: Path, clean: Path) -> tuple[np.ndarray, np.ndarray]:
    """A pair's two images, decoded once per process: a patch reads K pairs, and decoding dominated (10x)."""
    rainy_rgb, clean_rgb = read_rgb8(rainy), read_rgb8(clean)
    if rainy_rgb.shape != clean_rgb.shape:
        raise DerainError(f"{rainy}: size differs from {clean}")
    return rainy_rgb, clean_rgb


def rain_layer(pair: Pair, window: tuple[slice, slice] = (slice(None), slice(None))) -> tuple[np.ndarray, np.ndarray]:
    """(clean, rain layer) of an additive synthetic pair (or a window of it) as float32 grey levels; the
    layer is ``rainy - clean`` >= 0."""
    rainy, clean = (image[window].astype(np.float32) for image in _decoded(pair.rainy, pair.clean))
    return clean, np.maximum(rainy - clean, 0)


def _window(pair: Pair, patch: int, rng: np.random.Generator) -> tuple[slice, slice]:
    height, width = _decoded(pair.rainy, pair.clean)[0].shape[:2]
    top = int(rng.integers(0, height - patch + 1))
    left = int(rng.integers(0, width - patch + 1))
    return slice(top, top + patch), slice(left, left + patch)


def layered(pairs: list[Pair], index: int, layers: int, patch: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(rainy, clean) uint8 patches: pair ``index``'s clean crop under ``layers`` rain layers (see the module)."""
    clean, rain = rain_layer(pairs[index], _window(pairs[index], patch, rng))
    rain *= rng.uniform(*GAIN)
    for other in rng.integers(0, len(pairs), layers - 1):
        pair = pairs[int(other)]
        layer = rain_layer(pair, _window(pair, patch, rng))[1]
        rain += (layer[:, ::-1] if rng.random() < 0.5 else layer) * rng.uniform(*GAIN)
    rainy = np.clip(np.rint(clean + rain), 0, 255).astype(np.uint8)
    return rainy, clean.astype(np.uint8)


class LayeredPatches(PairedPatches):
    """``dataset[(index, epoch)]`` -> (rainy, clean) patches with ``layers`` rain layers each (module docstring)."""

    def __init__(self, pairs: list[Pair], patch: int, layers: int, seed: int = 0, patches_per_image: int = 1) -> None:
        super().__init__(pairs, patch, seed, patches_per_image)
        if not 1 <= layers <= MAX_LAYERS:
            raise DerainError(f"layers must be in 1..{MAX_LAYERS}, got {layers}")
        self.layers = layers

    def __getitem__(self, key: tuple[int, int]) -> tuple[Tensor, Tensor]:
        index, epoch = key
        rng = np.random.default_rng([self.seed, epoch, index, 0x1A7])
        rainy, clean = layered(self.pairs, index // self.patches_per_image, self.layers, self.patch, rng)
        if rng.random() < 0.5:  # vertical flip; the horizontal ones are drawn per layer
            rainy, clean = rainy[::-1], clean[::-1]
        return _to_tensor(rainy.astype(np.float32) / 255), _to_tensor(clean.astype(np.float32) / 255)
