"""Heavy rain from a light-rain pair set (``--dataset PAIRS,layers=K``): rain layers added, target kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from derain_cli.errors import DerainError, UsageError
from derain_cli.train.data import load_pairs
from derain_cli.train.layered import LayeredPatches, layered, rain_layer
from derain_cli.train.sources import build_patches


def additive_pairs(root: Path, count: int = 4, size: int = 40) -> Path:
    """Pairs made the way RainTrainL was: a clean image plus a sparse, non-negative rain layer."""
    rng = np.random.default_rng(7)
    for index in range(1, count + 1):
        clean = rng.integers(0, 150, (size, size, 3), dtype=np.uint8)
        rain = np.where(rng.random((size, size, 1)) < 0.1, rng.integers(20, 60, (size, size, 1)), 0)
        for side, pixels in (("input", clean + rain.astype(np.uint8)), ("target", clean)):
            (root / side).mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(root / side / f"{index}.png")
    return root


def test_the_rain_layer_is_input_minus_target(tmp_path: Path) -> None:
    pairs = load_pairs(additive_pairs(tmp_path / "p"), 16)
    clean, rain = rain_layer(pairs[0])
    rainy = np.asarray(Image.open(pairs[0].rainy)).astype(np.float32)
    assert np.array_equal(clean + rain, rainy) and rain.min() == 0 and rain.max() > 0


def test_more_layers_more_rain_and_the_clean_crop_is_the_target(tmp_path: Path) -> None:
    pairs = load_pairs(additive_pairs(tmp_path / "p"), 16)
    changed = []
    for layers in (1, 4):
        rainy, clean = layered(pairs, 0, layers, 24, np.random.default_rng(3))
        assert rainy.dtype == clean.dtype == np.uint8 and rainy.shape == clean.shape == (24, 24, 3)
        assert np.all(rainy >= clean)  # rain only adds light
        full = np.asarray(Image.open(pairs[0].clean))
        assert any(np.array_equal(clean, full[t : t + 24, l : l + 24]) for t in range(17) for l in range(17))
        changed.append(float((rainy.astype(int) - clean).mean()))
    assert changed[1] > 2.5 * changed[0] > 0


def test_patches_are_deterministic_and_differ_by_epoch(tmp_path: Path) -> None:
    patches = LayeredPatches(load_pairs(additive_pairs(tmp_path / "p"), 16), patch=16, layers=3, seed=5)
    first, again, later = patches[(1, 0)], patches[(1, 0)], patches[(1, 1)]
    assert all(a.dtype == torch.float32 for a in first)
    assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(first, again))
    assert not np.array_equal(first[0].numpy(), later[0].numpy())
    assert float(first[0].max()) <= 1 and float((first[0] - first[1]).min()) >= 0


def test_build_patches_reads_the_option_and_refuses_it_where_it_has_no_meaning(tmp_path: Path) -> None:
    root = additive_pairs(tmp_path / "p")
    dataset, images = build_patches(f"{root},layers=2", 16, 0, 1)
    assert isinstance(dataset, LayeredPatches) and dataset.layers == 2 and images == 4
    with pytest.raises(UsageError, match="add target=clean"):
        build_patches(f"{root},layers=2", 16, 0, 1, teacher=object())  # type: ignore[arg-type]
    with pytest.raises(DerainError, match="layers must be in"):
        LayeredPatches(load_pairs(root, 16), 16, layers=17)
